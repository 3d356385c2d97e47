//go:build !linux

package main

import (
	"errors"
	"log/slog"
)

// newSystem fails: vrrpd needs Linux (raw sockets, netlink).
func newSystem(*slog.Logger) (system, error) {
	return nil, errors.New("vrrpd runs on Linux only (raw VRRP sockets, netlink addresses)")
}
