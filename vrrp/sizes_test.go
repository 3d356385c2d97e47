package vrrp

import (
	"testing"
	"unsafe"
)

// TestSizeClasses keeps the structures a process holds one of per virtual
// router within the size classes of Go's allocator they were fitted to
// (issue 12: 4,094 in one process). A field added beyond them costs the
// next class, 32 B per virtual router (vrt, Machine): make room
// or raise the bound knowingly.
func TestSizeClasses(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"Machine", unsafe.Sizeof(Machine{}), 480},
		{"vrt", unsafe.Sizeof(vrt{}), 256},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d B, want at most %d B", c.name, c.size, c.max)
		}
	}
}
