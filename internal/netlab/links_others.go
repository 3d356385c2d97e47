//go:build !linux

package netlab

import (
	"testing"
	"time"
)

// Links is a two-host lab joined by N links; on this GOOS NewLinks always
// skips.
type Links struct {
	*Lab
	N     int
	Build time.Duration
	Batch time.Duration
}

// NewLinks skips t: network namespaces exist only on Linux.
func NewLinks(t testing.TB, prefix string, n int) *Links {
	t.Helper()
	RequirePriv(t)
	return nil
}
