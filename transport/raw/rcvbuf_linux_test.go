//go:build linux

package raw

import (
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"golang.org/x/sys/unix"
)

// TestGrowRcvBuf: a ListenMulti socket's receive buffer grows with its
// interfaces, room for one advertisement from each at once (issue 12:
// the masters of thousands of links sending in the same instant), and
// never shrinks; a socket of one interface keeps rcvBufBytes.
func TestGrowRcvBuf(t *testing.T) {
	lab := netlab.New(t, "tg", 1)
	h := lab.Host(1)
	if err := h.Do(func() error {
		c, err := ListenMulti(4, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		rcvbuf := func() int {
			var v int
			var gerr error
			if err := c.rc.Control(func(fd uintptr) {
				v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
			}); err != nil || gerr != nil {
				t.Fatalf("SO_RCVBUF: %v %v", err, gerr)
			}
			return v / 2 // the kernel reports twice what was asked
		}
		if got := rcvbuf(); got != rcvBufBytes {
			t.Errorf("new socket: receive buffer %d; want %d", got, rcvBufBytes)
		}
		c.mu.Lock()
		c.growRcvBuf(1)
		c.mu.Unlock()
		if got := rcvbuf(); got != rcvBufBytes {
			t.Errorf("one interface: receive buffer %d; want %d", got, rcvBufBytes)
		}
		for _, n := range []int{4094, 1000} {
			c.mu.Lock()
			c.growRcvBuf(n)
			c.mu.Unlock()
			if got := rcvbuf(); got < 4094*rcvBufPerIface {
				t.Errorf("after %d interfaces: receive buffer %d; want at least %d (4,094 x %d)", n, got, 4094*rcvBufPerIface, rcvBufPerIface)
			}
		}
		// Join calls it.
		if err := c.Join(h.Iface); err != nil {
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
