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

// Owned returns nothing.
func (m *Manager) Owned() []Entry { return nil }

// Close does nothing.
func (m *Manager) Close() error { return nil }
