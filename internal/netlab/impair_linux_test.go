//go:build linux

package netlab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// udpProbe is a UDP server on one lab host that echoes requests and
// records one-way datagrams, and a client on another.
type udpProbe struct {
	srv, cli net.PacketConn
	wg       sync.WaitGroup

	mu      sync.Mutex
	phase   uint32
	arrived []uint32 // sequence numbers of the current phase, in arrival order
}

const (
	probeEcho = 'E'
	probeOne  = 'O'
	probePort = 9998
)

func newUDPProbe(t *testing.T, client, server *Host) *udpProbe {
	t.Helper()
	p := &udpProbe{}
	if err := server.Do(func() (err error) {
		p.srv, err = net.ListenPacket("udp", ":9998")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := client.Do(func() (err error) {
		p.cli, err = net.ListenPacket("udp", ":0")
		return err
	}); err != nil {
		p.srv.Close()
		t.Fatal(err)
	}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		p.srv.Close()
		p.cli.Close()
		p.wg.Wait()
	})
	return p
}

// serve runs until srv is closed.
func (p *udpProbe) serve() {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := p.srv.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 9 {
			continue
		}
		switch buf[0] {
		case probeEcho:
			_, _ = p.srv.WriteTo(buf[:n], from)
		case probeOne:
			phase, seq := binary.BigEndian.Uint32(buf[1:]), binary.BigEndian.Uint32(buf[5:])
			p.mu.Lock()
			if phase == p.phase {
				p.arrived = append(p.arrived, seq)
			}
			p.mu.Unlock()
		}
	}
}

func probeMsg(kind byte, phase, seq uint32, size int) []byte {
	b := make([]byte, max(size, 9))
	b[0] = kind
	binary.BigEndian.PutUint32(b[1:], phase)
	binary.BigEndian.PutUint32(b[5:], seq)
	return b
}

// rtt sends one echo request of size bytes to dst and waits for the
// reply; stale replies (of earlier requests) are skipped.
func (p *udpProbe) rtt(dst netip.Addr, seq uint32, size int) (time.Duration, error) {
	msg := probeMsg(probeEcho, 0, seq, size)
	start := time.Now()
	if _, err := p.cli.WriteTo(msg, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, probePort))); err != nil {
		return 0, err
	}
	buf := make([]byte, 65536)
	p.cli.SetReadDeadline(start.Add(3 * time.Second))
	for {
		n, _, err := p.cli.ReadFrom(buf)
		if err != nil {
			return 0, err
		}
		if bytes.Equal(buf[:n], msg) {
			return time.Since(start), nil
		}
	}
}

// oneWay sends count datagrams of a new phase to dst, gap apart, waits
// until settle has passed without arrivals and returns the sequence
// numbers that arrived, in order.
func (p *udpProbe) oneWay(t *testing.T, dst netip.Addr, count int, gap, settle time.Duration) []uint32 {
	t.Helper()
	p.mu.Lock()
	p.phase++
	phase := p.phase
	p.arrived = nil
	p.mu.Unlock()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, probePort))
	for i := range count {
		if _, err := p.cli.WriteTo(probeMsg(probeOne, phase, uint32(i), 64), to); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	last, n := time.Now(), -1
	for time.Since(last) < settle {
		time.Sleep(10 * time.Millisecond)
		p.mu.Lock()
		if len(p.arrived) != n {
			n, last = len(p.arrived), time.Now()
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.arrived)
}

func ipLinkShow(t *testing.T, ns, dev string) (string, error) {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-d", "-o", "link", "show", "dev", dev).CombinedOutput()
	return string(out), err
}

// relayGoroutines returns the stacks of goroutines running relay code.
func relayGoroutines() string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	var out []string
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "(*ImpairedLink).") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// TestImpair puts an impaired link (the user-space relay) on host 2 of a
// two-host lab and measures what crosses it from host 1: round trips grow
// by twice the delay, full-size frames and a TCP transfer (checksum and
// segmentation offload) pass intact, duplication duplicates, reordering
// and jitter let datagrams overtake one another, loss loses. Remove
// restores the bridge port, stops every relay goroutine and carries the
// port's mcast_flood setting over. The only timing assertions are lower
// bounds the delay makes inherent, and hang guards.
func TestImpair(t *testing.T) {
	lab := New(t, "ni", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	p := newUDPProbe(t, h1, h2)
	br := lab.BridgeNS

	var base []time.Duration
	for i := range 5 {
		d, err := p.rtt(h2.Addr4, uint32(i), 64)
		if err != nil {
			t.Fatalf("baseline round trip: %v", err)
		}
		base = append(base, d)
	}

	const delay = 40 * time.Millisecond
	link := h2.Impair(t, 1, Impairment{Delay: delay})

	t.Run("topology", func(t *testing.T) {
		port, err := ipLinkShow(t, br, h2.Port)
		if err != nil || strings.Contains(port, "master br0") {
			t.Errorf("%s: %v %s; want it off the bridge", h2.Port, err, port)
		}
		mtu := func(s string) string {
			f := strings.Fields(s)
			if i := slices.Index(f, "mtu"); i >= 0 && i+1 < len(f) {
				return f[i+1]
			}
			return "?"
		}
		for _, dev := range []string{"r2", "p2"} {
			s, err := ipLinkShow(t, br, dev)
			if err != nil {
				t.Fatalf("%s: %v %s", dev, err, s)
			}
			if mtu(s) != mtu(port) {
				t.Errorf("%s: mtu %s, %s has %s", dev, mtu(s), h2.Port, mtu(port))
			}
			if dev == "p2" && !strings.Contains(s, "master br0") {
				t.Errorf("p2 not on the bridge: %s", s)
			}
		}
	})

	t.Run("delay", func(t *testing.T) {
		var got []time.Duration
		for i, dst := range []netip.Addr{h2.Addr4, h2.Addr4, h2.Addr4, h2.Addr4, h2.Addr4, h2.Addr6, h2.Addr6} {
			d, err := p.rtt(dst, uint32(100+i), 64)
			if err != nil {
				t.Fatalf("round trip to %v: %v", dst, err)
			}
			got = append(got, d)
			// The request and the reply each wait delay in the relay.
			if d < 2*delay {
				t.Errorf("round trip to %v %v; the delay alone is 2 x %v", dst, d, delay)
			}
		}
		t.Logf("round trips before %v, with %v delay %v", base, delay, got)
	})

	t.Run("full-size-and-tcp", func(t *testing.T) {
		// An IPv4 datagram of exactly the MTU, don't-fragment.
		var fdErr error
		rc, err := p.cli.(*net.UDPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Control(func(fd uintptr) {
			fdErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MTU_DISCOVER, syscall.IP_PMTUDISC_DO)
		}); err != nil || fdErr != nil {
			t.Fatal(err, fdErr)
		}
		if _, err := p.rtt(h2.Addr4, 200, 1500-20-8); err != nil {
			t.Errorf("full-size datagram: %v", err)
		}
		testTCP(t, h1, h2, 4<<20)
	})

	t.Run("duplicate", func(t *testing.T) {
		if err := link.Set(Impairment{Duplicate: 0.5}); err != nil {
			t.Fatal(err)
		}
		before := link.Stats(ToHost)
		const n = 300
		got := p.oneWay(t, h2.Addr4, n, 500*time.Microsecond, 300*time.Millisecond)
		counts := map[uint32]int{}
		for _, s := range got {
			counts[s]++
		}
		dups := len(got) - len(counts)
		st := link.Stats(ToHost)
		t.Logf("%d datagrams sent, %d received, %d distinct; the relay duplicated %d frames towards the host",
			n, len(got), len(counts), st.Duplicated-before.Duplicated)
		if len(counts) != n {
			t.Errorf("%d distinct datagrams arrived, want all %d", len(counts), n)
		}
		if dups < n/4 || dups > 3*n/4 {
			t.Errorf("%d duplicates of %d datagrams at 50%% duplication", dups, n)
		}
		if d := st.Duplicated - before.Duplicated; uint64(dups) > d {
			t.Errorf("%d duplicates arrived, the relay counts %d", dups, d)
		}
	})

	t.Run("reorder", func(t *testing.T) {
		if err := link.Set(Impairment{Reorder: 0.25, ReorderDelay: 30 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		const n = 300
		got := p.oneWay(t, h2.Addr4, n, time.Millisecond, 300*time.Millisecond)
		late := outOfOrder(got)
		t.Logf("%d datagrams 1 ms apart, %d arrived after a later one", n, late)
		if !sameSet(got, n) {
			t.Errorf("arrivals are not each of the %d datagrams once: %v", n, got)
		}
		if late < n/20 {
			t.Errorf("only %d of %d datagrams arrived out of order at 25%% reordering", late, n)
		}
	})

	t.Run("jitter", func(t *testing.T) {
		if err := link.Set(Impairment{Delay: 20 * time.Millisecond, Jitter: 15 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		const n = 200
		got := p.oneWay(t, h2.Addr4, n, 0, 300*time.Millisecond)
		late := outOfOrder(got)
		t.Logf("%d datagrams back to back, %d arrived after a later one", n, late)
		if !sameSet(got, n) {
			t.Errorf("arrivals are not each of the %d datagrams once", n)
		}
		if late == 0 {
			t.Errorf("no datagram overtaken with 15 ms jitter")
		}
	})

	t.Run("loss", func(t *testing.T) {
		if err := link.Set(Impairment{Loss: 0.3}); err != nil {
			t.Fatal(err)
		}
		const n = 300
		got := p.oneWay(t, h2.Addr4, n, 500*time.Microsecond, 300*time.Millisecond)
		t.Logf("%d of %d datagrams arrived at 30%% loss", len(got), n)
		if len(got) < n/2 || len(got) > n*9/10 {
			t.Errorf("%d of %d datagrams arrived at 30%% loss", len(got), n)
		}
	})

	t.Run("remove", func(t *testing.T) {
		if err := link.Set(Impairment{Delay: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if err := lab.SetMcastFlood(2, false); err != nil {
			t.Fatal(err)
		}
		if s, _ := ipLinkShow(t, br, "p2"); !strings.Contains(s, "mcast_flood off") {
			t.Errorf("p2 after SetMcastFlood(2, false): %s", s)
		}
		// Frames left in the relay are dropped. Wait (a hang guard, not a
		// timing check) until the relay has read all ten: on a loaded
		// machine they could still sit in its socket when Remove ran.
		before := link.Stats(ToHost).Received
		p.oneWay(t, h2.Addr4, 10, 0, 0)
		for deadline := time.Now().Add(10 * time.Second); link.Stats(ToHost).Received < before+10; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the relay read %d of the 10 datagrams in 10 s", link.Stats(ToHost).Received-before)
			}
		}
		if err := link.Remove(); err != nil {
			t.Fatal(err)
		}
		if err := link.Remove(); err != nil {
			t.Errorf("second Remove: %v", err)
		}
		if st := link.Stats(ToHost); st.Flushed < 10 {
			t.Errorf("Flushed %d, want the 10 datagrams held", st.Flushed)
		}
		if g := relayGoroutines(); g != "" {
			t.Errorf("relay goroutines left after Remove:\n%s", g)
		}
		s, err := ipLinkShow(t, br, h2.Port)
		if err != nil || !strings.Contains(s, "master br0") || !strings.Contains(s, "mcast_flood off") {
			t.Errorf("%s after Remove: %v %s; want it on br0 with mcast_flood off", h2.Port, err, s)
		}
		if s, err := ipLinkShow(t, br, "r2"); err == nil {
			t.Errorf("r2 left after Remove: %s", s)
		}
		if err := lab.SetMcastFlood(2, true); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := p.rtt(h2.Addr4, uint32(300+i), 64); err != nil {
				t.Errorf("round trip after Remove: %v", err)
			}
		}
		// A new impairment may go in after the old one is gone.
		l2 := h2.Impair(t, 2, Impairment{})
		if _, err := p.rtt(h2.Addr6, 400, 64); err != nil {
			t.Errorf("round trip through a pass-through link: %v", err)
		}
		if err := l2.Remove(); err != nil {
			t.Fatal(err)
		}
	})
}

// outOfOrder counts the arrivals that came after one of a higher number.
func outOfOrder(seqs []uint32) int {
	n, high := 0, -1
	for _, s := range seqs {
		if int(s) < high {
			n++
		}
		high = max(high, int(s))
	}
	return n
}

// sameSet reports whether seqs holds each of 0..n-1 exactly once.
func sameSet(seqs []uint32, n int) bool {
	s := slices.Sorted(slices.Values(seqs))
	if len(s) != n {
		return false
	}
	for i, v := range s {
		if v != uint32(i) {
			return false
		}
	}
	return true
}

// testTCP sends size random bytes from a to b over TCP and checks they
// arrive intact.
func testTCP(t *testing.T, a, b *Host, size int) {
	t.Helper()
	var ln net.Listener
	if err := b.Do(func() (err error) {
		ln, err = net.Listen("tcp", ":9997")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		var r result
		copy(r.sum[:], h.Sum(nil))
		r.n, r.err = n, err
		res <- r
	}()

	var c net.Conn
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", net.JoinHostPort(b.Addr4.String(), "9997"))
		return err
	}); err != nil {
		t.Fatalf("TCP connect: %v", err)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	_, werr := c.Write(data)
	c.Close()
	r := <-res
	if err := errors.Join(werr, r.err); err != nil {
		t.Fatalf("TCP transfer: %v", err)
	}
	if r.n != int64(size) || r.sum != sha256.Sum256(data) {
		t.Errorf("TCP transfer: %d bytes received, checksum match %v; sent %d", r.n, r.sum == sha256.Sum256(data), size)
	}
}
