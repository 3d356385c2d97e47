//go:build linux

package raw

import (
	"bytes"
	"encoding/hex"
	"errors"
	"github.com/govrrp/govrrp/transport"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/packet"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Advertisements from /work/shared/VECTORS.md: A (VRRPv3 IPv4) and C
// (VRRPv3 IPv6). The transport does not look inside them.
var (
	vecA = mustHex("31f0640100640608c0a800e6")
	vecC = mustHex("3134960100643cadfd990000000000000000000000000100")
	// vecB (two addresses) serves as a distinguishable second IPv4 packet.
	vecB = mustHex("31339602006437e00a6300640a630065")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// cmpMeta compares transport.Meta without Time, which checkTime checks.
var cmpMeta = cmp.Options{cmpAddr, cmpopts.IgnoreFields(transport.Meta{}, "Time")}

// checkTime checks a received packet's kernel arrival time against the
// moment it was sent and the moment it was read (SO_TIMESTAMPNS).
func checkTime(t *testing.T, who string, m transport.Meta, sent, read time.Time) {
	t.Helper()
	if m.Time.IsZero() {
		t.Errorf("%s: Meta.Time is zero, want the kernel arrival time", who)
		return
	}
	// The kernel stamps with CLOCK_REALTIME: compare wall clocks (a
	// microsecond of slack for the coarser clock).
	sent, read = sent.Round(0).Add(-time.Microsecond), read.Round(0).Add(time.Microsecond)
	if m.Time.Before(sent) || m.Time.After(read) {
		t.Errorf("%s: Meta.Time %v not between the send %v and the read %v", who, m.Time, sent, read)
	}
}

// listen opens a Listen conn on host h's eth0, closed at cleanup.
func listen(t *testing.T, h *netlab.Host, cfg *Config) *Conn {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	switch {
	case ringTest(t):
		c := *cfg
		c.Ring = true
		cfg = &c
	case pollTest(t):
		c := *cfg
		c.Poll = testPoll
		cfg = &c
	case linkTest(t):
		c := *cfg
		c.Send = SendLink
		cfg = &c
	}
	var c *Conn
	if err := h.Do(func() (err error) {
		c, err = Listen(h.Iface, cfg)
		return err
	}); err != nil {
		t.Fatalf("%s: Listen: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recv reads one packet with a generous deadline (a lost packet must not
// hang the test; the deadline is not a timing assertion).
func recv(t *testing.T, c *Conn, who string) ([]byte, transport.Meta) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1500)
	n, m, err := c.ReadFrom(b)
	if err != nil {
		t.Fatalf("%s: ReadFrom: %v", who, err)
	}
	return b[:n], m
}

// expectNothing checks that nothing arrives within a short wait.
func expectNothing(t *testing.T, c *Conn, who string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	b := make([]byte, 1500)
	n, m, err := c.ReadFrom(b)
	if err == nil {
		t.Errorf("%s: unexpected packet %x %+v", who, b[:n], m)
		return
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: ReadFrom: %v, want deadline exceeded", who, err)
	}
}

func srcOf(h *netlab.Host, fam int) netip.Addr {
	if fam == 4 {
		return h.Addr4
	}
	return h.LinkLocal().WithZone(h.Iface)
}

func groupOf(fam int) netip.Addr {
	if fam == 4 {
		return groupV4
	}
	return groupV6
}

func vecOf(fam int) []byte {
	if fam == 4 {
		return vecA
	}
	return vecC
}

// forFamilies runs f for each family, receiving on the protocol-112
// socket ("socket"), through the receive ring ("ring": listen sets
// Config.Ring) and on a polled socket ("poll": listen sets Config.Poll
// to testPoll), and sending on the link layer ("link": listen sets
// Config.Send to SendLink; IPv6 still sends on the socket).
func forFamilies(t *testing.T, f func(t *testing.T, fam int)) {
	for _, fam := range []int{4, 6} {
		t.Run(map[int]string{4: "IPv4", 6: "IPv6"}[fam], func(t *testing.T) {
			t.Run("socket", func(t *testing.T) { f(t, fam) })
			t.Run("ring", func(t *testing.T) { f(t, fam) })
			t.Run("poll", func(t *testing.T) { f(t, fam) })
			t.Run("link", func(t *testing.T) { f(t, fam) })
		})
	}
}

// ringTest reports whether t runs in forFamilies' ring mode.
func ringTest(t testing.TB) bool { return strings.HasSuffix(t.Name(), "/ring") }

// pollTest reports whether t runs in forFamilies' poll mode.
func pollTest(t testing.TB) bool { return strings.HasSuffix(t.Name(), "/poll") }

// linkTest reports whether t runs in forFamilies' link mode.
func linkTest(t testing.TB) bool { return strings.HasSuffix(t.Name(), "/link") }

// testPoll is Config.Poll in the poll mode of the tests.
const testPoll = 5 * time.Millisecond

func TestMulticast(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tm", 3)
		cfg := &Config{Family: fam}
		var cs []*Conn
		for _, h := range lab.Hosts() {
			cs = append(cs, listen(t, h, cfg))
		}
		h1 := lab.Host(1)
		if src, err := cs[0].Source(0); err != nil || src != srcOf(h1, fam) {
			t.Errorf("Source(0) = %v, %v; want %v", src, err, srcOf(h1, fam))
		}
		sent := time.Now()
		if err := cs[0].WriteTo(vecOf(fam), transport.Meta{}); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		for i := 2; i <= 3; i++ {
			h := lab.Host(i)
			b, m := recv(t, cs[i-1], h.Name)
			checkTime(t, h.Name, m, sent, time.Now())
			if diff := cmp.Diff(vecOf(fam), b); diff != "" {
				t.Errorf("%s: payload (-want +got):\n%s", h.Name, diff)
			}
			want := transport.Meta{Src: srcOf(h1, fam), Dst: groupOf(fam), TTL: 255, IfIndex: h.IfIndex}
			if diff := cmp.Diff(want, m, cmpMeta); diff != "" {
				t.Errorf("%s: transport.Meta (-want +got):\n%s", h.Name, diff)
			}
		}
		// Host 1 must not hear itself: the first packet it reads is host
		// 2's, sent after host 1's own.
		if err := cs[1].WriteTo(vecB, transport.Meta{}); err != nil {
			t.Fatalf("host 2 WriteTo: %v", err)
		}
		b, m := recv(t, cs[0], "h1")
		if m.Src != srcOf(lab.Host(2), fam) || !cmp.Equal(b, vecB) {
			t.Errorf("h1 read %x from %v, want host 2's %x from %v", b, m.Src, vecB, srcOf(lab.Host(2), fam))
		}
		if s := cs[0].Stats(); s.Own != 0 || s.Received != 1 {
			t.Errorf("h1 Stats = %+v, want 1 received, 0 own (loopback is off)", s)
		}
		if s := cs[0].Stats(); linkTest(t) && fam == 4 && s.LinkSent != 1 {
			t.Errorf("h1 Stats = %+v, want LinkSent 1 (Config.Send SendLink)", s)
		}
	})
}

// TestOwnFilter turns multicast loopback back on, so that the kernel hands
// host 1 its own packets on the protocol-112 socket, and checks
// the source filter drops them. The receive ring never sees them: the
// kernel gives AF_PACKET sockets neither outgoing nor looped-back packets.
func TestOwnFilter(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "to", 2)
		c1 := listen(t, lab.Host(1), &Config{Family: fam})
		c2 := listen(t, lab.Host(2), &Config{Family: fam})
		var err error
		if fam == 4 {
			err = c1.p4.SetMulticastLoopback(true)
		} else {
			err = c1.p6.SetMulticastLoopback(true)
		}
		if err != nil {
			t.Fatal(err)
		}
		ring := ringTest(t)
		if ring {
			c1.keepOwn = true // not even the filter's help
		}
		if err := c1.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
			t.Fatal(err)
		}
		if err := c2.WriteTo(vecB, transport.Meta{}); err != nil {
			t.Fatal(err)
		}
		_, m := recv(t, c1, "h1")
		if m.Src != srcOf(lab.Host(2), fam) {
			t.Errorf("h1 read a packet from %v, want host 2", m.Src)
		}
		if ring {
			expectNothing(t, c1, "h1")
			return
		}
		if linkTest(t) && fam == 4 {
			// Sent on the link layer, the packet never reaches the
			// IP stack's multicast loopback.
			if s := c1.Stats(); s.LinkSent != 1 || s.Own != 0 {
				t.Errorf("h1 Stats = %+v, want LinkSent 1, Own 0", s)
			}
			c1.keepOwn = true
			if err := c1.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
				t.Fatal(err)
			}
			expectNothing(t, c1, "h1")
			return
		}
		if s := c1.Stats(); s.Own != 1 {
			t.Errorf("h1 Stats = %+v, want Own 1", s)
		}

		// With the filter off, the looped-back packet is delivered.
		c1.keepOwn = true
		if err := c1.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
			t.Fatal(err)
		}
		_, m = recv(t, c1, "h1")
		if m.Src != srcOf(lab.Host(1), fam) {
			t.Errorf("keepOwn: h1 read a packet from %v, want its own", m.Src)
		}
	})
}

func TestUnicast(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tu", 3)
		h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
		addr := func(h *netlab.Host) netip.Addr { return srcOf(h, fam).WithZone("") }
		c1 := listen(t, h1, &Config{Family: fam, Peers: []netip.Addr{addr(h2)}})
		c2 := listen(t, h2, &Config{Family: fam, Peers: []netip.Addr{addr(h1)}})
		// Host 3 peers with host 2, but host 2 does not list host 3.
		c3 := listen(t, h3, &Config{Family: fam, Peers: []netip.Addr{addr(h2)}})

		if err := c3.WriteTo(vecB, transport.Meta{}); err != nil {
			t.Fatalf("h3 WriteTo: %v", err)
		}
		if err := c1.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
			t.Fatalf("h1 WriteTo: %v", err)
		}
		b, m := recv(t, c2, "h2")
		if diff := cmp.Diff(vecOf(fam), b); diff != "" {
			t.Errorf("h2: payload (-want +got):\n%s", diff)
		}
		dst := h2.Addr4
		if fam == 6 {
			dst = h2.LinkLocal()
		}
		want := transport.Meta{Src: srcOf(h1, fam), Dst: dst, TTL: 255, IfIndex: h2.IfIndex}
		if diff := cmp.Diff(want, m, cmpMeta); diff != "" {
			t.Errorf("h2: transport.Meta (-want +got):\n%s", diff)
		}
		// Nothing more for host 2 (host 3's packet is filtered) and
		// nothing for host 3 (host 1 sent only to host 2).
		expectNothing(t, c2, "h2")
		expectNothing(t, c3, "h3")
		if s := c2.Stats(); s.NotPeer != 1 || s.Received != 1 {
			t.Errorf("h2 Stats = %+v, want NotPeer 1, Received 1", s)
		}
	})
}

func TestUnicastSrcOverride(t *testing.T) {
	lab := netlab.New(t, "ts", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	// IPv6 unicast between global addresses: both ends set Src.
	c1 := listen(t, h1, &Config{Src: h1.Addr6, Peers: []netip.Addr{h2.Addr6}})
	c2 := listen(t, h2, &Config{Src: h2.Addr6, Peers: []netip.Addr{h1.Addr6}})
	if src, _ := c1.Source(0); src != h1.Addr6 {
		t.Errorf("Source = %v, want %v", src, h1.Addr6)
	}
	if err := c1.WriteTo(vecC, transport.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, m := recv(t, c2, "h2")
	want := transport.Meta{Src: h1.Addr6, Dst: h2.Addr6, TTL: 255, IfIndex: h2.IfIndex}
	if diff := cmp.Diff(want, m, cmpMeta); diff != "" {
		t.Errorf("transport.Meta (-want +got):\n%s", diff)
	}
}

// TestWrongTTL sends from a plain raw socket with TTL / hop limit 1: the
// transport delivers the packet and reports the TTL, for the runtime to
// count and drop (RFC 9568 section 7.1).
func TestWrongTTL(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tt", 2)
		h1, h2 := lab.Host(1), lab.Host(2)
		c2 := listen(t, h2, &Config{Family: fam})
		if err := h1.Do(func() error {
			ifi, err := net.InterfaceByName(h1.Iface)
			if err != nil {
				return err
			}
			if fam == 4 {
				pc, err := net.ListenPacket("ip4:112", "0.0.0.0")
				if err != nil {
					return err
				}
				defer pc.Close()
				p := ipv4.NewPacketConn(pc)
				if err := p.SetMulticastInterface(ifi); err != nil {
					return err
				}
				if err := p.SetMulticastTTL(1); err != nil {
					return err
				}
				_, err = p.WriteTo(vecA, nil, &net.IPAddr{IP: groupV4.AsSlice()})
				return err
			}
			pc, err := net.ListenPacket("ip6:112", "::")
			if err != nil {
				return err
			}
			defer pc.Close()
			p := ipv6.NewPacketConn(pc)
			_, err = p.WriteTo(vecC, &ipv6.ControlMessage{HopLimit: 1, IfIndex: ifi.Index}, &net.IPAddr{IP: groupV6.AsSlice()})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		_, m := recv(t, c2, "h2")
		want := transport.Meta{Src: srcOf(h1, fam), Dst: groupOf(fam), TTL: 1, IfIndex: h2.IfIndex}
		if diff := cmp.Diff(want, m, cmpMeta); diff != "" {
			t.Errorf("transport.Meta (-want +got):\n%s", diff)
		}
	})
}

func TestWriteBatch(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tb", 3)
		h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
		addr := func(h *netlab.Host) netip.Addr { return srcOf(h, fam).WithZone("") }
		c1 := listen(t, h1, &Config{Family: fam, Peers: []netip.Addr{addr(h2), addr(h3)}})
		c2 := listen(t, h2, &Config{Family: fam, Peers: []netip.Addr{addr(h1)}})
		c3 := listen(t, h3, &Config{Family: fam, Peers: []netip.Addr{addr(h1)}})
		ms := []transport.Message{{Buf: vecOf(fam)}, {Buf: vecB}, {Buf: vecOf(fam), Meta: transport.Meta{Dst: addr(h3)}}}
		n, err := c1.WriteBatch(ms)
		if n != 3 || err != nil {
			t.Fatalf("WriteBatch = %d, %v; want 3, nil", n, err)
		}
		for _, r := range []struct {
			c    *Conn
			h    *netlab.Host
			want [][]byte
		}{
			{c2, h2, [][]byte{vecOf(fam), vecB}},
			{c3, h3, [][]byte{vecOf(fam), vecB, vecOf(fam)}},
		} {
			var got [][]byte
			for range r.want {
				b, m := recv(t, r.c, r.h.Name)
				if m.TTL != 255 || m.Src != srcOf(h1, fam) {
					t.Errorf("%s: transport.Meta %+v", r.h.Name, m)
				}
				got = append(got, b)
			}
			if diff := cmp.Diff(r.want, got); diff != "" {
				t.Errorf("%s: payloads (-want +got):\n%s", r.h.Name, diff)
			}
		}
		if n, err := c1.WriteBatch([]transport.Message{{Buf: vecB, Meta: transport.Meta{IfIndex: 999}}}); n != 0 || err == nil {
			t.Errorf("WriteBatch on unknown interface = %d, %v; want an error", n, err)
		}
	})
}

// TestWriteBatchChunks: a batch larger than writeChunk goes out whole, in
// calls of writeChunk messages, and the Conn keeps arrays for one chunk,
// not for the whole batch (issue 12: 4,094 messages kept about 1 MB); a
// message that cannot be sent does not stop the others, before or after
// it, and is the one not counted.
func TestWriteBatchChunks(t *testing.T) {
	lab := netlab.New(t, "tw", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	c1 := listen(t, h1, &Config{})
	c2 := listen(t, h2, &Config{})
	const n = 3*writeChunk + 10
	ms := make([]transport.Message, n)
	for i := range ms {
		ms[i] = transport.Message{Buf: vecA}
	}
	if got, err := c1.WriteBatch(ms); got != n || err != nil {
		t.Fatalf("WriteBatch of %d = %d, %v; want %d, nil", n, got, err, n)
	}
	for i := range n {
		if b, _ := recv(t, c2, "h2"); !bytes.Equal(b, vecA) {
			t.Fatalf("packet %d: %x, want %x", i, b, vecA)
		}
	}
	c1.wmu.Lock()
	held := cap(c1.wms)
	c1.wmu.Unlock()
	if held > writeChunk {
		t.Errorf("after a batch of %d the Conn holds a message array of %d, want at most %d", n, held, writeChunk)
	}
	ms[writeChunk+5].Meta.IfIndex = 999
	ms[writeChunk+5].Buf = vecB
	if got, err := c1.WriteBatch(ms); got != n-1 || err == nil {
		t.Errorf("WriteBatch with message %d on an unknown interface = %d, %v; want %d and an error", writeChunk+5, got, err, n-1)
	}
	for i := range n - 1 {
		if b, _ := recv(t, c2, "h2"); !bytes.Equal(b, vecA) {
			t.Fatalf("second batch, packet %d: %x, want %x (not the unsendable message's)", i, b, vecA)
		}
	}
}

// TestListenMulti checks the multi-interface socket: joined interfaces
// deliver, others are dropped by interface index, Leave stops delivery;
// with the receive ring too (one ring for every interface, as vrrpd's
// instances with ring share it).
func TestListenMulti(t *testing.T) {
	for _, cfg := range []Config{{}, {Ring: true}, {Poll: testPoll}} {
		name := "socket"
		switch {
		case cfg.Ring:
			name = "ring"
		case cfg.Poll > 0:
			name = "poll"
		}
		t.Run(name, func(t *testing.T) { testListenMulti(t, cfg) })
	}
}

func testListenMulti(t *testing.T, cfg Config) {
	lab := netlab.New(t, "ti", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	c1 := listen(t, h1, &Config{})
	var c2 *Conn
	if err := h2.Do(func() (err error) {
		if c2, err = ListenMulti(4, &cfg); err != nil {
			return err
		}
		if cfg.Ring && c2.ring == nil {
			return errors.New("ListenMulti with Config.Ring: no ring")
		}
		if cfg.Poll > 0 && c2.poll == nil {
			return errors.New("ListenMulti with Config.Poll: no polled socket")
		}
		if err := c2.Join("eth0"); err != nil {
			return err
		}
		return c2.Join("lo") // no IPv4 multicast on lo, but an interface
	}); err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Source(0); err == nil {
		t.Error("Source(0) with two interfaces: no error")
	}
	if err := c1.WriteTo(vecA, transport.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, m := recv(t, c2, "h2")
	if m.IfIndex != h2.IfIndex || m.TTL != 255 || m.Src != h1.Addr4 {
		t.Errorf("transport.Meta %+v", m)
	}
	// Reply on eth0 explicitly.
	if err := c2.WriteTo(vecB, transport.Meta{IfIndex: h2.IfIndex}); err != nil {
		t.Fatal(err)
	}
	if b, _ := recv(t, c1, "h1"); !cmp.Equal(b, vecB) {
		t.Errorf("h1 got %x", b)
	}
	if err := c2.WriteTo(vecB, transport.Meta{}); err == nil {
		t.Error("WriteTo with IfIndex 0 on two interfaces: no error")
	}
	if err := h2.Do(func() error { return c2.Leave("eth0") }); err != nil {
		t.Fatal(err)
	}
	// Unicast to host 2 still reaches the socket (it is unbound) but eth0
	// is no longer joined.
	if err := c1.WriteTo(vecA, transport.Meta{Dst: h2.Addr4}); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, c2, "h2")
	if s := c2.Stats(); s.OtherIface != 1 {
		t.Errorf("Stats = %+v, want OtherIface 1", s)
	}
}

// TestBindToDevice: a bound socket never sees other interfaces' packets,
// even unicast ones addressed to the host.
func TestBindToDevice(t *testing.T) {
	lab := netlab.New(t, "tv", 1)
	h := lab.Host(1)
	var bound, unbound *Conn
	var sender *net.IPConn
	if err := h.Do(func() (err error) {
		if bound, err = Listen("eth0", nil); err != nil {
			return err
		}
		if unbound, err = Listen("eth0", &Config{NoBindToDevice: true}); err != nil {
			return err
		}
		sender, err = net.ListenIP("ip4:112", &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	defer unbound.Close()
	defer sender.Close()
	// 127.0.0.1 -> 127.0.0.1 arrives on lo.
	if _, err := sender.WriteTo(vecA, &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, unbound, "unbound")
	expectNothing(t, bound, "bound")
	if s := unbound.Stats(); s.OtherIface != 1 {
		t.Errorf("unbound Stats = %+v, want OtherIface 1", s)
	}
	if s := bound.Stats(); s.OtherIface != 0 {
		t.Errorf("bound Stats = %+v, want nothing seen", s)
	}
}

func TestReadClosed(t *testing.T) {
	for _, mode := range []string{"socket", "ring", "poll"} {
		t.Run(mode, func(t *testing.T) {
			lab := netlab.New(t, "tc", 1)
			c := listen(t, lab.Host(1), nil)
			errc := make(chan error, 1)
			go func() {
				_, _, err := c.ReadFrom(make([]byte, 100))
				errc <- err
			}()
			time.Sleep(50 * time.Millisecond) // let ReadFrom block (not required for correctness)
			c.Close()
			if err := <-errc; !errors.Is(err, net.ErrClosed) || !errors.Is(err, transport.ErrClosed) {
				t.Errorf("ReadFrom after Close: %v, want net.ErrClosed", err)
			}
		})
	}
}

// TestPollBatchesReads: with Config.Poll, packets queued beyond a batch
// are read at once, batch after batch; the first packet after a quiet
// spell is read at once (the reader waits for it, through the Conn's
// one-shot epoll registration); while packets keep coming, the reader
// looks only every Poll and the packets arriving meanwhile wake nobody:
// a stream of 20 packets 10 ms apart is read in two reads with a Poll of
// 1 s (on a socket the runtime's poller watches, the reader wakes for
// each of them: 20 reads). A
// SetReadDeadline or a Close ends a wait of either kind at once, not at
// the next look.
func TestPollBatchesReads(t *testing.T) {
	for _, fam := range []int{4, 6} {
		t.Run(map[int]string{4: "IPv4", 6: "IPv6"}[fam], func(t *testing.T) {
			lab := netlab.New(t, "tp", 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			// A long pause between looks, so that the stream lands
			// within one on a loaded host too.
			const every = time.Second
			c1 := listen(t, h1, &Config{Family: fam})
			c2 := listen(t, h2, &Config{Family: fam, Poll: every})
			type result struct {
				ms   []transport.Message
				err  error
				read time.Time
			}
			done := make(chan result, 1)
			read := func() {
				ms := batchBufs(64)
				n, err := c2.ReadBatch(ms)
				done <- result{ms[:max(n, 0)], err, time.Now()}
			}
			send := func() time.Time {
				t.Helper()
				sent := time.Now()
				if err := c1.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
					t.Fatalf("WriteTo: %v", err)
				}
				return sent
			}

			// Queued faster than a batch per look: whole batches are read
			// one after the other, without a pause between them (one
			// after each would read 4 packets a second here).
			burst := make([]transport.Message, 40)
			for i := range burst {
				burst[i].Buf = append([]byte(nil), vecOf(fam)...)
			}
			if n, err := c1.WriteBatch(burst); n != len(burst) || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			time.Sleep(100 * time.Millisecond) // the burst is queued
			start := time.Now()
			for got := 0; got < len(burst); {
				n, err := c2.ReadBatch(batchBufs(4))
				if err != nil {
					t.Fatalf("ReadBatch: %v", err)
				}
				got += n
			}
			if took := time.Since(start); took > every/2 {
				t.Errorf("40 queued packets read 4 at a time took %v: the reader paused after whole batches (every %v)", took, every)
			}

			// Quiet: the first packet is read at once.
			go read()
			time.Sleep(50 * time.Millisecond) // the reader found nothing and waits
			sent := send()
			r := <-done
			if r.err != nil || len(r.ms) != 1 {
				t.Fatalf("ReadBatch after a quiet spell = %d packets, %v; want 1", len(r.ms), r.err)
			}
			checkTime(t, h2.Name, r.ms[0].Meta, sent, r.read)
			if took := r.read.Sub(sent); took > every/2 {
				t.Errorf("the first packet after a quiet spell was read %v after it was sent: the reader waited for its next look (every %v)", took, every)
			}

			// Busy: 20 packets, 10 ms apart, in two reads.
			const stream = 20
			go func() {
				for range stream {
					send()
					time.Sleep(10 * time.Millisecond)
				}
			}()
			var sizes []int
			for got := 0; got < stream; {
				go read()
				r := <-done
				if r.err != nil {
					t.Fatalf("ReadBatch: %v", r.err)
				}
				sizes = append(sizes, len(r.ms))
				got += len(r.ms)
			}
			if len(sizes) > 2 {
				t.Errorf("%d packets 10 ms apart took %d reads %v; want 2: the reader was woken while it paced its looks", stream, len(sizes), sizes)
			}

			// A deadline set while the reader paces (after the stream's
			// last read) ends the wait at once,
			go read()
			time.Sleep(50 * time.Millisecond)
			set := time.Now()
			c2.SetReadDeadline(set)
			if r := <-done; !errors.Is(r.err, os.ErrDeadlineExceeded) {
				t.Errorf("ReadBatch after SetReadDeadline(now), pacing: %v, want deadline exceeded", r.err)
			} else if took := r.read.Sub(set); took > every/2 {
				t.Errorf("ReadBatch returned %v after SetReadDeadline(now), pacing: it waited for its next look (every %v)", took, every)
			}
			c2.SetReadDeadline(time.Time{})
			// as it does while the reader waits for a packet,
			c2.SetReadDeadline(time.Now().Add(time.Hour))
			go read()
			time.Sleep(50 * time.Millisecond)
			set = time.Now()
			c2.SetReadDeadline(set)
			if r := <-done; !errors.Is(r.err, os.ErrDeadlineExceeded) {
				t.Errorf("ReadBatch after SetReadDeadline(now), quiet: %v, want deadline exceeded", r.err)
			} else if took := r.read.Sub(set); took > every/2 {
				t.Errorf("ReadBatch returned %v after SetReadDeadline(now), quiet", took)
			}
			c2.SetReadDeadline(time.Time{})
			// and so does a Close.
			go read()
			time.Sleep(50 * time.Millisecond)
			closed := time.Now()
			c2.Close()
			if r := <-done; !errors.Is(r.err, net.ErrClosed) {
				t.Errorf("ReadBatch after Close: %v, want net.ErrClosed", r.err)
			} else if took := r.read.Sub(closed); took > every/2 {
				t.Errorf("ReadBatch returned %v after Close: it waited for its next look (every %v)", took, every)
			}
		})
	}
}

func TestListenErrors(t *testing.T) {
	lab := netlab.New(t, "te", 1)
	h := lab.Host(1)
	err := h.Do(func() error {
		_, err := Listen("nosuch0", nil)
		return err
	})
	var te *Error
	if !errors.As(err, &te) || te.Iface != "nosuch0" {
		t.Errorf("Listen(nosuch0): %v, want an *Error naming the interface", err)
	}
	// lo has no link-local address.
	err = h.Do(func() error {
		_, err := Listen("lo", &Config{Family: 6})
		return err
	})
	if err == nil || !errors.As(err, &te) || te.Op != "source address" {
		t.Errorf("Listen(lo, IPv6): %v, want a source address error", err)
	}
}

// TestPermissionDenied opens a socket without CAP_NET_RAW: as an
// unprivileged user directly, as root after dropping the capability from
// one OS thread (capabilities are per thread on Linux).
func TestPermissionDenied(t *testing.T) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if os.Geteuid() == 0 {
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capget(&hdr, &data[0]); err != nil {
				errc <- err
				return
			}
			data[unix.CAP_NET_RAW/32].Effective &^= 1 << (unix.CAP_NET_RAW % 32)
			if err := unix.Capset(&hdr, &data[0]); err != nil {
				errc <- err
				return
			}
		}
		c, err := Listen("lo", nil)
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	err := <-errc
	if err == nil {
		t.Fatal("Listen without CAP_NET_RAW succeeded")
	}
	if got, want := err.Error(), "transport: lo: raw socket: operation not permitted (needs CAP_NET_RAW)"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Error("errors.Is(err, os.ErrPermission) = false")
	}
}

func TestReadFromAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "ta", 2)
		c1 := listen(t, lab.Host(1), &Config{Family: fam})
		c2 := listen(t, lab.Host(2), &Config{Family: fam})
		b := make([]byte, 1500)
		c2.SetReadDeadline(time.Now().Add(30 * time.Second))
		// AllocsPerRun calls f runs+1 times: 51 packets written, then
		// the same 51 read.
		writes := testing.AllocsPerRun(50, func() {
			if err := c1.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
				t.Fatal(err)
			}
		})
		reads := testing.AllocsPerRun(50, func() {
			if _, _, err := c2.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
		})
		if reads != 0 {
			t.Errorf("ReadFrom allocates %v times per packet, want 0", reads)
		}
		if writes != 0 {
			t.Errorf("WriteTo allocates %v times per packet, want 0", writes)
		}
	})
}

func BenchmarkRawConnWriteRead(b *testing.B) {
	for _, fam := range []int{4, 6} {
		b.Run(map[int]string{4: "IPv4", 6: "IPv6"}[fam], func(b *testing.B) {
			lab := netlab.New(b, "bw", 2)
			var c1, c2 *Conn
			for i, cp := range []**Conn{&c1, &c2} {
				h := lab.Host(i + 1)
				if err := h.Do(func() (err error) {
					*cp, err = Listen(h.Iface, &Config{Family: fam})
					return err
				}); err != nil {
					b.Fatal(err)
				}
				defer (*cp).Close()
			}
			buf := make([]byte, 1500)
			c2.SetReadDeadline(time.Now().Add(time.Minute))
			pkt := vecOf(fam)
			b.ReportAllocs()
			for b.Loop() {
				if err := c1.WriteTo(pkt, transport.Meta{}); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c2.ReadFrom(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPacketChecksum writes advertisements built by package packet with
// the checksum over Source() and the destination, and checks that the
// receiver verifies them with transport.Meta.Src and transport.Meta.Dst: the address the
// transport says it sends from is the one on the wire.
func TestPacketChecksum(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tk", 2)
		h1, h2 := lab.Host(1), lab.Host(2)
		vip := netip.MustParseAddr("10.99.0.100")
		if fam == 6 {
			vip = netip.MustParseAddr("fe80::100")
		}
		for _, unicast := range []bool{false, true} {
			cfg1, cfg2 := &Config{Family: fam}, &Config{Family: fam}
			dst := groupOf(fam)
			if unicast {
				cfg1.Peers = []netip.Addr{srcOf(h2, fam).WithZone("")}
				cfg2.Peers = []netip.Addr{srcOf(h1, fam).WithZone("")}
				dst = cfg1.Peers[0]
			}
			c1, c2 := listen(t, h1, cfg1), listen(t, h2, cfg2)
			src, err := c1.Source(0)
			if err != nil {
				t.Fatal(err)
			}
			adv := &packet.Advertisement{Version: 3, VRID: 7, Priority: 100, MaxAdvertInt: 100, Addrs: []netip.Addr{vip}}
			b, err := adv.Append(nil, src, dst, packet.ChecksumUnknown)
			if err != nil {
				t.Fatal(err)
			}
			if err := c1.WriteTo(b, transport.Meta{}); err != nil {
				t.Fatal(err)
			}
			got, m := recv(t, c2, "h2")
			if _, _, err := packet.Parse(got, m.Src, m.Dst); err != nil {
				t.Errorf("unicast=%v: Parse with transport.Meta %+v: %v", unicast, m, err)
			}
			c1.Close()
			c2.Close()
		}
	})
}

// readBatch calls ReadBatch on ms (Bufs resliced to capacity first) with
// a generous deadline, and returns the messages read.
func readBatch(t *testing.T, c *Conn, ms []transport.Message) []transport.Message {
	t.Helper()
	for i := range ms {
		ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.ReadBatch(ms)
	if err != nil {
		t.Fatalf("ReadBatch: %v", err)
	}
	if n < 1 || n > len(ms) {
		t.Fatalf("ReadBatch = %d of %d", n, len(ms))
	}
	return ms[:n]
}

func batchBufs(n int) []transport.Message {
	ms := make([]transport.Message, n)
	for i := range ms {
		ms[i].Buf = make([]byte, 1500)
	}
	return ms
}

// TestReadBatch: a burst of 40 advertisements sent with one sendmmsg is
// read in batches of 16 (recvmmsg), in order, with the metadata ReadFrom
// gives; ReadBatch then blocks like ReadFrom.
func TestReadBatch(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tr", 2)
		h1, h2 := lab.Host(1), lab.Host(2)
		c1 := listen(t, h1, &Config{Family: fam})
		c2 := listen(t, h2, &Config{Family: fam})
		const burst = 40
		var out []transport.Message
		var want [][]byte
		for i := range burst {
			b := append([]byte(nil), vecOf(fam)...)
			b[1] = byte(i + 1) // VRID: the sequence number
			out = append(out, transport.Message{Buf: b})
			want = append(want, b)
		}
		sent := time.Now()
		if n, err := c1.WriteBatch(out); n != burst || err != nil {
			t.Fatalf("WriteBatch = %d, %v", n, err)
		}
		// Let the burst reach the socket queue: the first batch is then
		// full. (Not a timing assertion: a slower delivery only makes
		// the batch-size check below fail with a clear message.)
		time.Sleep(100 * time.Millisecond)
		ms := batchBufs(16)
		var got [][]byte
		var sizes []int
		for len(got) < burst {
			batch := readBatch(t, c2, ms)
			read := time.Now()
			sizes = append(sizes, len(batch))
			for _, m := range batch {
				checkTime(t, h2.Name, m.Meta, sent, read)
				got = append(got, append([]byte(nil), m.Buf...))
				wantMeta := transport.Meta{Src: srcOf(h1, fam), Dst: groupOf(fam), TTL: 255, IfIndex: h2.IfIndex}
				if diff := cmp.Diff(wantMeta, m.Meta, cmpMeta); diff != "" {
					t.Errorf("Meta (-want +got):\n%s", diff)
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("payloads (-want +got):\n%s", diff)
		}
		if sizes[0] != 16 {
			t.Errorf("batch sizes %v: want the first batch full (16) with %d packets queued", sizes, burst)
		}
		if st := c2.Stats(); st.Received != burst {
			t.Errorf("Stats.Received = %d, want %d", st.Received, burst)
		}
		expectNothingBatch(t, c2)
	})
}

// expectNothingBatch checks that ReadBatch blocks until its deadline when
// nothing arrives.
func expectNothingBatch(t *testing.T, c *Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := c.ReadBatch(batchBufs(4))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadBatch with nothing queued = %d, %v; want deadline exceeded", n, err)
	}
}

// TestReadBatchFilters: packets from non-peers are dropped inside a batch
// and counted; the kept ones come first, and every buffer the caller gave
// is still in ms afterwards.
func TestReadBatchFilters(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tf", 3)
		h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
		c1 := listen(t, h1, &Config{Family: fam})
		c3 := listen(t, h3, &Config{Family: fam})
		c2 := listen(t, h2, &Config{Family: fam, Peers: []netip.Addr{srcOf(h3, fam).WithZone("")}})
		// h2 is in unicast mode (it has not joined the group): send to it.
		dst := transport.Meta{Dst: srcOf(h2, fam).WithZone("")}
		for i := range 6 {
			c := c1
			if i%2 == 1 {
				c = c3
			}
			b := append([]byte(nil), vecOf(fam)...)
			b[1] = byte(i + 1)
			if err := c.WriteTo(b, dst); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		ms := batchBufs(8)
		bufs := map[*byte]bool{}
		for _, m := range ms {
			bufs[&m.Buf[0]] = true
		}
		batch := readBatch(t, c2, ms)
		var vrids []byte
		for _, m := range batch {
			vrids = append(vrids, m.Buf[1])
			if m.Meta.Src != srcOf(h3, fam) {
				t.Errorf("kept a packet from %v", m.Meta.Src)
			}
		}
		if diff := cmp.Diff([]byte{2, 4, 6}, vrids); diff != "" {
			t.Errorf("kept packets' VRIDs (-want +got):\n%s", diff)
		}
		for _, m := range ms {
			delete(bufs, &m.Buf[:1][0]) // dropped ones keep their length
		}
		if len(bufs) != 0 {
			t.Errorf("ReadBatch lost %d of the caller's buffers", len(bufs))
		}
		if st := c2.Stats(); st.NotPeer != 3 || st.Received != 3 {
			t.Errorf("Stats: NotPeer %d, Received %d; want 3, 3", st.NotPeer, st.Received)
		}
	})
}

func TestReadBatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tz", 2)
		c1 := listen(t, lab.Host(1), &Config{Family: fam})
		c2 := listen(t, lab.Host(2), &Config{Family: fam})
		ms := batchBufs(8)
		out := make([]transport.Message, 4)
		for i := range out {
			out[i].Buf = vecOf(fam)
		}
		c2.SetReadDeadline(time.Now().Add(30 * time.Second))
		read := func() {
			for i := range ms {
				ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
			}
			if _, err := c2.ReadBatch(ms); err != nil {
				t.Fatal(err)
			}
		}
		// The first call allocates the recvmmsg state.
		if _, err := c1.WriteBatch(out[:1]); err != nil {
			t.Fatal(err)
		}
		read()
		// The recvmmsg state is sized to the batch, not to maxBatch: an
		// idle connection per link holds little (issue 12).
		if c2.ring == nil && (len(c2.bslots) != len(ms) || len(c2.bmsgs) != len(ms)) {
			t.Errorf("ReadBatch of %d: %d slots, %d mmsghdrs; want %d", len(ms), len(c2.bslots), len(c2.bmsgs), len(ms))
		}
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := c1.WriteBatch(out[:1]); err != nil {
				t.Fatal(err)
			}
			read()
		})
		if allocs != 0 {
			t.Errorf("WriteBatch+ReadBatch allocate %v times per round, want 0", allocs)
		}
	})
}

// TestAtomicFragment: an IPv6 advertisement with an atomic Fragment
// header (offset 0, M = 0) is delivered whole by the socket and the ring
// alike (RFC 8200 section 4.5, RFC 6946); a first fragment (M = 1) by
// neither (the kernel waits for the rest, the ring does not reassemble).
func TestAtomicFragment(t *testing.T) {
	for _, mode := range []string{"socket", "ring"} {
		t.Run(mode, func(t *testing.T) {
			lab := netlab.New(t, "af", 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			c2 := listen(t, h2, &Config{Family: 6, Ring: mode == "ring"})
			send := func(more bool) {
				t.Helper()
				if err := h1.Do(func() error {
					ifi, err := net.InterfaceByName(h1.Iface)
					if err != nil {
						return err
					}
					// A raw socket of protocol 44: the kernel writes the
					// IPv6 header, we the Fragment header and VRRP.
					pc, err := net.ListenPacket("ip6:44", "::")
					if err != nil {
						return err
					}
					defer pc.Close()
					b := append(fragHeader(vrrpProto, 0, more, 0), vecC...)
					_, err = ipv6.NewPacketConn(pc).WriteTo(b, &ipv6.ControlMessage{HopLimit: 255, IfIndex: ifi.Index}, &net.IPAddr{IP: groupV6.AsSlice()})
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			send(true)
			expectNothing(t, c2, "h2, a first fragment")
			send(false)
			b, m := recv(t, c2, "h2")
			if !bytes.Equal(b, vecC) {
				t.Errorf("received %x, want %x", b, vecC)
			}
			want := transport.Meta{Src: srcOf(h1, 6), Dst: groupV6, TTL: 255, IfIndex: h2.IfIndex}
			if diff := cmp.Diff(want, m, cmpMeta); diff != "" {
				t.Errorf("transport.Meta (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQueued: Queued reports a packet waiting in the socket (or in a
// block of the ring the kernel handed over) and none once it is read
// (transport.Queuer, for the runtime's start-up and its hold of timers:
// before, the ring could not tell, and a stalled backup's timers fired
// with its masters' advertisements unread in the ring).
func TestQueued(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tq", 2)
		cfg := &Config{Family: fam}
		c1, c2 := listen(t, lab.Host(1), cfg), listen(t, lab.Host(2), cfg)
		var _ transport.Queuer = c2
		if q, err := c2.Queued(); err != nil || q {
			t.Fatalf("before anything was sent: Queued() = %v, %v; want false", q, err)
		}
		if err := c1.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		// The packet is queued once it arrives: wait for it (a guard
		// against a hang, not a timing assertion).
		deadline := time.Now().Add(5 * time.Second)
		for {
			q, err := c2.Queued()
			if err != nil {
				t.Fatalf("Queued: %v", err)
			}
			if q {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a packet sent: Queued() stayed false for 5s")
			}
			time.Sleep(time.Millisecond)
		}
		recv(t, c2, "h2")
		if q, err := c2.Queued(); err != nil || q {
			t.Errorf("after the read: Queued() = %v, %v; want false", q, err)
		}
	})
}

// TestSourceNotLookedUp: an IPv4 Conn's socket has IP_TRANSPARENT on, so
// the kernel does not look each packet's source up among the host's
// addresses (a hash chain of every IPv4 address of every namespace: O(N)
// per packet at N links, issue 12). What shows it: a source the host does
// not hold goes out (before: the send failed with EINVAL). IPv6 keeps the
// kernel's check (it refuses tentative sources too).
func TestSourceNotLookedUp(t *testing.T) {
	lab := netlab.New(t, "tn", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	c1 := listen(t, h1, &Config{})
	c2 := listen(t, h2, &Config{})
	var on int
	var gerr error
	if err := c1.rc.Control(func(fd uintptr) {
		on, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TRANSPARENT)
	}); err != nil || gerr != nil {
		t.Fatalf("getsockopt IP_TRANSPARENT: %v, %v", err, gerr)
	}
	if on != 1 || !c1.anySrc {
		t.Errorf("IP_TRANSPARENT = %d (anySrc %v), want 1", on, c1.anySrc)
	}
	// An address of the lab's subnet that no host holds.
	other := h1.Addr4.As4()
	other[3] = 200
	src := netip.AddrFrom4(other)
	if err := c1.WriteTo(vecA, transport.Meta{Src: src}); err != nil {
		t.Fatalf("WriteTo from %v (not the host's): %v", src, err)
	}
	b, m := recv(t, c2, "h2")
	if m.Src != src || !cmp.Equal(b, vecA) {
		t.Errorf("h2 read %x from %v, want %x from %v", b, m.Src, vecA, src)
	}
	c6 := listen(t, h1, &Config{Family: 6})
	if err := c6.rc.Control(func(fd uintptr) {
		on, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT)
	}); err != nil || gerr != nil {
		t.Fatalf("getsockopt IPV6_TRANSPARENT: %v, %v", err, gerr)
	}
	if on != 0 || c6.anySrc {
		t.Errorf("IPV6_TRANSPARENT = %d (anySrc %v), want 0: IPv6 keeps the kernel's source check", on, c6.anySrc)
	}
}
