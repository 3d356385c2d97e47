package vrrp

import (
	"testing"
	"unsafe"
)

// TestRconnLayout: the fields of an rconn that a takeover touches (out,
// msgs) and the rate limiter lie on the first page of the object, with
// the fields every packet reads, not after the 12 kB demux table, where
// the first write to out was the first touch of a page of its own (a
// page fault, tens of microseconds on a VM, in the takeover's path).
func TestRconnLayout(t *testing.T) {
	var c rconn
	for name, off := range map[string]uintptr{
		"out":  unsafe.Offsetof(c.out),
		"msgs": unsafe.Offsetof(c.msgs),
		"lim":  unsafe.Offsetof(c.lim),
	} {
		if off+8 > unsafe.Offsetof(c.demux) || off >= 512 {
			t.Errorf("rconn.%s at offset %d, want it before demux (at %d) and in the first 512 bytes", name, off, unsafe.Offsetof(c.demux))
		}
	}
}
