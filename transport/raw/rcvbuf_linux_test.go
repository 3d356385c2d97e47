//go:build linux

package raw

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport"

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

// TestListenMultiMembers: a ListenMulti socket joins nothing itself: its
// memberships go on helper sockets, each under the kernel's per-socket
// limit (net.ipv4.igmp_max_memberships, set to 3 here), so that the
// kernel never scans thousands of memberships per packet delivered to it
// (issue 12). It receives the group on every joined interface, not on
// one it left, and a helper left with no membership goes.
func TestListenMultiMembers(t *testing.T) {
	const n = 7
	lab := netlab.NewLinks(t, "tj", n)
	h1, h2 := lab.Host(1), lab.Host(2)
	var c *Conn
	if err := h2.Do(func() error {
		if err := os.WriteFile("/proc/sys/net/ipv4/igmp_max_memberships", []byte("3"), 0); err != nil {
			return err
		}
		var err error
		if c, err = ListenMulti(4, nil); err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			if err := c.Join(netlab.LinkName(i)); err != nil {
				return fmt.Errorf("join %d: %w", i, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.members.sockets(); got != 3 {
		t.Errorf("%d helper sockets for %d interfaces at 3 each; want 3", got, n)
	}
	send := func(i int) {
		t.Helper()
		var s *Conn
		if err := h1.Do(func() (err error) {
			s, err = Listen(netlab.LinkName(i), nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.WriteTo(vecA, transport.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{1, n} {
		send(i)
		b, m := recv(t, c, "h2")
		if !cmp.Equal(b, vecA) || m.Src != netlab.LinkAddr(i, 1) {
			t.Errorf("link %d: got %x from %v; want the advertisement from %v", i, b, m.Src, netlab.LinkAddr(i, 1))
		}
	}
	if err := h2.Do(func() error { return c.Leave(netlab.LinkName(n)) }); err != nil {
		t.Fatal(err)
	}
	send(n)
	expectNothing(t, c, "h2 after leaving")
	if got := c.members.sockets(); got != 2 {
		t.Errorf("after leaving the only interface of the third: %d helper sockets; want 2", got)
	}
}

// TestQueueDropsReported: every packet read from the socket carries the
// socket's count of the packets its full receive queue dropped up to
// when the packet was queued (transport.Meta.Drops, SO_RXQ_OVFL): a
// reader that fell behind learns that it lost packets, and how many,
// from the first packet queued after the loss (issue 12: a backup that
// stalled must not count what its own socket dropped as its masters'
// silence).
func TestQueueDropsReported(t *testing.T) {
	for _, fam := range []int{4, 6} {
		for _, poll := range []time.Duration{0, testPoll} {
			name := map[int]string{4: "IPv4", 6: "IPv6"}[fam] + map[bool]string{false: "/socket", true: "/poll"}[poll > 0]
			t.Run(name, func(t *testing.T) { testQueueDropsReported(t, fam, poll) })
		}
	}
}

func testQueueDropsReported(t *testing.T, fam int, poll time.Duration) {
	lab := netlab.New(t, "tq", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	// On a socket (polled or not): a ring reports no drop count.
	open := func(h *netlab.Host, poll time.Duration) *Conn {
		var c *Conn
		if err := h.Do(func() (err error) {
			c, err = Listen(h.Iface, &Config{Family: fam, Poll: poll})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	s, c := open(h1, 0), open(h2, poll)
	// The smallest receive buffer: a few packets fill it.
	if err := c.rcvsockopt(unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1); err != nil {
		t.Fatal(err)
	}
	const sent = 100
	for range sent {
		if err := s.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	// The queued ones, none of them after a drop.
	queued := 0
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		b := make([]byte, 1500)
		_, m, err := c.ReadFrom(b)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Drops != 0 {
			t.Errorf("packet %d queued before any drop: Drops %d; want 0", queued+1, m.Drops)
		}
		queued++
	}
	if queued == 0 || queued >= sent {
		t.Fatalf("%d of %d packets queued with the smallest receive buffer; want some, not all", queued, sent)
	}
	// The socket says so at once,
	if d, err := c.QueueDrops(); err != nil || d != uint32(sent-queued) {
		t.Errorf("QueueDrops() = %d, %v; want %d (%d sent, %d queued)", d, err, sent-queued, sent, queued)
	}
	// and the next packet queued too.
	if err := s.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, m := recv(t, c, "h2")
	if want := uint32(sent - queued); m.Drops != want {
		t.Errorf("the packet after the drops: Drops %d; want %d (%d sent, %d queued)", m.Drops, want, sent, queued)
	}
}

// TestRingQueueDropsReported: with a receive ring, QueueDrops counts the
// packets the kernel dropped because every block of the ring was the
// reader's (PACKET_STATISTICS, added up across reads, which reset the
// kernel's count): read and dropped add up to what was sent. Before, the
// ring reported nothing (errors.ErrUnsupported), and a backup that
// stalled counted what its ring dropped as its masters' silence.
func TestRingQueueDropsReported(t *testing.T) {
	lab := netlab.New(t, "tr", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	var s, c *Conn
	for _, x := range []struct {
		h    *netlab.Host
		c    **Conn
		ring bool
	}{{h1, &s, false}, {h2, &c, true}} {
		if err := x.h.Do(func() (err error) {
			*x.c, err = Listen(x.h.Iface, &Config{Ring: x.ring})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*x.c).Close() })
	}
	if c.ring == nil {
		t.Fatal("no receive ring on this kernel")
	}
	if d, err := c.QueueDrops(); err != nil || d != 0 {
		t.Fatalf("before anything was sent: QueueDrops() = %d, %v; want 0", d, err)
	}
	// About one packet a block: the kernel hands a block over 1 ms after
	// its first packet (later on a loaded host: then a block takes a few),
	// so packets 2 ms apart use up the 64 blocks after 64 or a few times
	// that; send until the ring drops, 20 more, and at most 2,000.
	sent, mid := 0, uint32(0)
	for extra := 0; extra < 20 && sent < 2000; sent++ {
		if err := s.WriteTo(vecA, transport.Meta{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		if mid == 0 && sent%10 == 9 {
			// Reading the count resets the kernel's: the sum must carry on.
			d, err := c.QueueDrops()
			if err != nil {
				t.Fatal(err)
			}
			mid = d
		}
		if mid > 0 {
			extra++
		}
	}
	time.Sleep(10 * time.Millisecond)
	read := 0
	ms := make([]transport.Message, 16)
	for {
		for i := range ms {
			ms[i].Buf = make([]byte, 1500)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.ReadBatch(ms)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read += n
	}
	d, err := c.QueueDrops()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sent, %d read, %d dropped (%d at the first look)", sent, read, d, mid)
	if mid == 0 || d < mid || read+int(d) != sent {
		t.Errorf("QueueDrops() = %d (%d before the reads), %d read; want read + dropped = %d, some dropped", d, mid, read, sent)
	}
}
