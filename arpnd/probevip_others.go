//go:build !linux

package arpnd

// NewProber needs Linux (AF_PACKET sockets); elsewhere it returns
// ErrUnsupported. NewProberConn works everywhere.
func NewProber(cfg ProberConfig) (*Prober, error) { return nil, ErrUnsupported }
