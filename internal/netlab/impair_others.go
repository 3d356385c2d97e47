//go:build !linux

package netlab

import "testing"

// ImpairedLink is a host's link with injected faults; on this GOOS
// Impair always skips.
type ImpairedLink struct {
	Host *Host
}

// Impair skips t: the relay needs Linux (network namespaces, AF_PACKET).
func (h *Host) Impair(t testing.TB, seed uint64, imp Impairment) *ImpairedLink {
	t.Helper()
	RequirePriv(t)
	return nil
}

func (l *ImpairedLink) Set(imp Impairment) error                        { return errUnsupported }
func (l *ImpairedLink) SetDirections(fromHost, toHost Impairment) error { return errUnsupported }
func (l *ImpairedLink) Stats(d Direction) ImpairStats                   { return ImpairStats{} }
func (l *ImpairedLink) Remove() error                                   { return errUnsupported }
