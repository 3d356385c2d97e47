//go:build !linux

package transport

import (
	"net"
	"net/netip"
	"time"
)

// RawConn is the raw-socket VRRP transport. It is implemented on Linux
// only: here every constructor returns ErrUnsupported.
type RawConn struct{}

var (
	_ Conn        = (*RawConn)(nil)
	_ BatchWriter = (*RawConn)(nil)
	_ Sourcer     = (*RawConn)(nil)
)

// Listen returns ErrUnsupported on this GOOS.
func Listen(ifname string, cfg *Config) (*RawConn, error) { return nil, ErrUnsupported }

// ListenMulti returns ErrUnsupported on this GOOS.
func ListenMulti(family int, cfg *Config) (*RawConn, error) { return nil, ErrUnsupported }

// New returns ErrUnsupported on this GOOS.
func New(c *net.IPConn, cfg *Config) (*RawConn, error) { return nil, ErrUnsupported }

// Join returns ErrUnsupported.
func (c *RawConn) Join(ifname string) error { return ErrUnsupported }

// Leave returns ErrUnsupported.
func (c *RawConn) Leave(ifname string) error { return ErrUnsupported }

// Family returns 0.
func (c *RawConn) Family() int { return 0 }

// Source returns ErrUnsupported.
func (c *RawConn) Source(ifIndex int) (netip.Addr, error) { return netip.Addr{}, ErrUnsupported }

// Stats returns zero counts.
func (c *RawConn) Stats() Stats { return Stats{} }

// SetReadDeadline returns ErrUnsupported.
func (c *RawConn) SetReadDeadline(t time.Time) error { return ErrUnsupported }

// ReadFrom returns ErrUnsupported.
func (c *RawConn) ReadFrom(b []byte) (int, Meta, error) { return 0, Meta{}, ErrUnsupported }

// WriteTo returns ErrUnsupported.
func (c *RawConn) WriteTo(b []byte, m Meta) error { return ErrUnsupported }

// WriteBatch returns ErrUnsupported.
func (c *RawConn) WriteBatch(ms []Message) (int, error) { return 0, ErrUnsupported }

// Close returns ErrUnsupported.
func (c *RawConn) Close() error { return ErrUnsupported }
