package main

import (
	"context"
	"log/slog"
	"net"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// unixDial dials path whatever address the HTTP client asks for.
func unixDial(path string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}
