//go:build !linux

package vipaddr

import (
	"log/slog"
	"net/netip"
)

// Manager adds and removes addresses; on this system every call fails
// with ErrUnsupported.
type Manager struct{}

// New returns ErrUnsupported on this system.
func New(*slog.Logger) (*Manager, error) { return nil, ErrUnsupported }

// Add returns ErrUnsupported.
func (m *Manager) Add(string, netip.Prefix) error { return ErrUnsupported }

// Del returns ErrUnsupported.
func (m *Manager) Del(string, netip.Prefix) error { return ErrUnsupported }

// RemoveStale returns ErrUnsupported.
func (m *Manager) RemoveStale(string, netip.Addr) (bool, error) { return false, ErrUnsupported }

// Owned returns nothing.
func (m *Manager) Owned() []Entry { return nil }

// Close does nothing.
func (m *Manager) Close() error { return nil }

// Filter drops packets addressed to virtual addresses; on this system
// every call fails with ErrUnsupported.
type Filter struct{}

// NewFilter returns ErrUnsupported on this system.
func NewFilter(*slog.Logger) (*Filter, error) { return nil, ErrUnsupported }

// Block returns ErrUnsupported.
func (f *Filter) Block(string, uint8, []netip.Addr) error { return ErrUnsupported }

// Unblock returns ErrUnsupported.
func (f *Filter) Unblock(string, uint8, bool) error { return ErrUnsupported }

// Close does nothing.
func (f *Filter) Close() error { return nil }
