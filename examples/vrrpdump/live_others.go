//go:build !linux

package main

import (
	"context"
	"fmt"
	"runtime"
)

// live is only implemented on Linux (AF_PACKET); read a capture with -r.
func (d *dumper) live(ctx context.Context, name string) error {
	return fmt.Errorf("live capture on %s: not supported on %s (use -r with a tcpdump capture)", name, runtime.GOOS)
}
