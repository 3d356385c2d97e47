package memnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/transport"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	a4 = netip.MustParseAddr("192.0.2.1")
	b4 = netip.MustParseAddr("192.0.2.2")
	c4 = netip.MustParseAddr("192.0.2.3")
	a6 = netip.MustParseAddr("fe80::1")
	b6 = netip.MustParseAddr("fe80::2")
)

// drain reads every queued packet of e without blocking.
func drain(t *testing.T, e *Endpoint) []string {
	t.Helper()
	var got []string
	buf := make([]byte, 64)
	for len(e.q) > 0 {
		n, m, err := e.ReadFrom(buf)
		if err != nil {
			t.Fatalf("ReadFrom: %v", err)
		}
		got = append(got, fmt.Sprintf("%s %v->%v ttl=%d if=%d", buf[:n], m.Src, m.Dst, m.TTL, m.IfIndex))
	}
	return got
}

func TestDelivery(t *testing.T) {
	n := New(Config{})
	a := n.MustAttach(EndpointConfig{Name: "a", Addrs: []netip.Addr{a4, a6}, IfIndex: 7})
	b := n.MustAttach(EndpointConfig{Name: "b", Addrs: []netip.Addr{b4}, IfIndex: 8})
	c := n.MustAttach(EndpointConfig{Name: "c", Addrs: []netip.Addr{c4, b6}})

	if err := a.WriteTo([]byte("m4"), transport.Meta{Src: a4}); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteTo([]byte("m6"), transport.Meta{Dst: groupIPv6}); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteTo([]byte("u"), transport.Meta{Dst: c4}); err != nil {
		t.Fatal(err)
	}
	b.SetTTL(64)
	if _, err := b.WriteBatch([]transport.Message{{Buf: []byte("x1")}, {Buf: []byte("x2"), Meta: transport.Meta{Dst: a4}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteTo([]byte("?"), transport.Meta{}); !errors.Is(err, errFamily) {
		t.Errorf("WriteTo with no family = %v, want errFamily", err)
	}

	want := map[*Endpoint][]string{
		a: {"x1 192.0.2.2->224.0.0.18 ttl=64 if=7", "x2 192.0.2.2->192.0.2.1 ttl=64 if=7"},
		b: {"m4 192.0.2.1->224.0.0.18 ttl=255 if=8"},
		c: {"m4 192.0.2.1->224.0.0.18 ttl=255 if=1", "m6 fe80::1->ff02::12 ttl=255 if=1", "u 192.0.2.2->192.0.2.3 ttl=255 if=1", "x1 192.0.2.2->224.0.0.18 ttl=64 if=1"},
	}
	for e, w := range want {
		if diff := cmp.Diff(w, drain(t, e)); diff != "" {
			t.Errorf("%s received (-want +got):\n%s", e.Name(), diff)
		}
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) || !errors.Is(err, transport.ErrClosed) {
		t.Errorf("ReadFrom after Close = %v, want net.ErrClosed", err)
	}
	if err := c.WriteTo([]byte("z"), transport.Meta{Src: c4}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close = %v, want net.ErrClosed", err)
	}
	if err := a.WriteTo([]byte("y"), transport.Meta{Src: a4}); err != nil {
		t.Fatal(err)
	}
	if got := b.Stats(); got.Received != 2 {
		t.Errorf("b received %d, want 2 (closed c must not matter)", got.Received)
	}
}

func TestReadBlocksUntilClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{})
		a := n.MustAttach(EndpointConfig{Addrs: []netip.Addr{a4}})
		done := make(chan error)
		go func() {
			_, _, err := a.ReadFrom(make([]byte, 10))
			done <- err
		}()
		synctest.Wait()
		a.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom = %v, want net.ErrClosed", err)
		}
	})
}

func TestQueueBound(t *testing.T) {
	n := New(Config{QueueLen: 3})
	a := n.MustAttach(EndpointConfig{Addrs: []netip.Addr{a4}})
	b := n.MustAttach(EndpointConfig{Addrs: []netip.Addr{b4}})
	for i := range 5 {
		a.WriteTo([]byte{byte('0' + i)}, transport.Meta{})
	}
	want := EndpointStats{Received: 3, QueueDrops: 2}
	if diff := cmp.Diff(want, b.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if got := len(drain(t, b)); got != 3 {
		t.Errorf("read %d packets, want 3", got)
	}
}

func TestPartitionCrash(t *testing.T) {
	n := New(Config{})
	a := n.MustAttach(EndpointConfig{Name: "a", Addrs: []netip.Addr{a4}})
	b := n.MustAttach(EndpointConfig{Name: "b", Addrs: []netip.Addr{b4}})
	c := n.MustAttach(EndpointConfig{Name: "c", Addrs: []netip.Addr{c4}})
	send := func(e *Endpoint, s string) {
		t.Helper()
		if err := e.WriteTo([]byte(s), transport.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	got := func() string {
		return fmt.Sprint(len(drain(t, a)), len(drain(t, b)), len(drain(t, c)))
	}
	n.Partition([]*Endpoint{a}) // a alone; b and c together
	send(a, "1")
	send(b, "2")
	if g := got(); g != "0 0 1" {
		t.Errorf("partitioned: received a b c = %s, want 0 0 1", g)
	}
	n.Heal()
	n.Crash(c)
	send(a, "3")
	send(c, "4")
	if g := got(); g != "0 1 0" {
		t.Errorf("c crashed: received a b c = %s, want 0 1 0", g)
	}
	n.Restore(c)
	send(c, "5")
	if g := got(); g != "1 1 0" {
		t.Errorf("restored: received a b c = %s, want 1 1 0", g)
	}
}

// run sends 200 numbered packets from a to b and c over lossy, jittery,
// duplicating links and returns what arrived, in order.
func run(t *testing.T, seed uint64) []string {
	c := clock.NewFake(epoch)
	n := New(Config{Clock: c, Seed: seed, QueueLen: 1000})
	a := n.MustAttach(EndpointConfig{Name: "a", Addrs: []netip.Addr{a4}})
	b := n.MustAttach(EndpointConfig{Name: "b", Addrs: []netip.Addr{b4}})
	d := n.MustAttach(EndpointConfig{Name: "d", Addrs: []netip.Addr{c4}})
	n.SetLoss(nil, nil, 0.2)
	n.SetDup(a, b, 0.1)
	n.SetDelay(nil, nil, 5*time.Millisecond, 20*time.Millisecond)
	n.SetLoss(a, d, 0) // most specific rule wins for loss only
	for i := range 200 {
		if err := a.WriteTo(fmt.Appendf(nil, "%03d", i), transport.Meta{}); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Millisecond)
	}
	c.Advance(time.Second)
	if n.InFlight() != 0 {
		t.Fatalf("%d packets still in flight", n.InFlight())
	}
	var got []string
	for _, e := range []*Endpoint{b, d} {
		for _, s := range drain(t, e) {
			got = append(got, e.Name()+":"+s[:3])
		}
	}
	sb, sd := b.Stats(), d.Stats()
	if sb.Lost == 0 || sb.Duplicated == 0 || sd.Lost != 0 || sd.Duplicated != 0 {
		t.Errorf("stats b=%+v d=%+v: want loss and dups on a->b only", sb, sd)
	}
	if sb.Received != 200-sb.Lost+sb.Duplicated || sd.Received != 200 {
		t.Errorf("stats b=%+v d=%+v: counts do not add up", sb, sd)
	}
	return got
}

func TestDeterministic(t *testing.T) {
	r1, r2, r3 := run(t, 1), run(t, 1), run(t, 2)
	if diff := cmp.Diff(r1, r2); diff != "" {
		t.Errorf("same seed, different runs (-first +second):\n%s", diff)
	}
	if cmp.Equal(r1, r3) {
		t.Error("seeds 1 and 2 gave identical runs")
	}
	// Jitter of 20ms at 1ms spacing must reorder.
	reordered := false
	for i := 1; i < len(r1); i++ {
		if r1[i][0] == r1[i-1][0] && r1[i] < r1[i-1] {
			reordered = true
		}
	}
	if !reordered {
		t.Error("no reordering with jitter")
	}
}

func TestDelayExact(t *testing.T) {
	c := clock.NewFake(epoch)
	n := New(Config{Clock: c})
	a := n.MustAttach(EndpointConfig{Addrs: []netip.Addr{a4}})
	b := n.MustAttach(EndpointConfig{Addrs: []netip.Addr{b4}})
	n.SetDelay(a, b, 30*time.Millisecond, 0)
	a.WriteTo([]byte("late"), transport.Meta{})
	c.Advance(10 * time.Millisecond)
	n.SetDelay(a, b, 0, 0)
	a.WriteTo([]byte("now"), transport.Meta{})
	if got := drain(t, b); len(got) != 1 || got[0][:3] != "now" {
		t.Fatalf("at 10ms got %q, want only the undelayed packet", got)
	}
	if next, ok := c.NextDeadline(); !ok || !next.Equal(epoch.Add(30*time.Millisecond)) {
		t.Fatalf("next deadline %v %v, want +30ms", next, ok)
	}
	c.Advance(19 * time.Millisecond)
	if got := drain(t, b); len(got) != 0 {
		t.Fatalf("at 29ms got %q", got)
	}
	c.Advance(time.Millisecond)
	if got := drain(t, b); len(got) != 1 {
		t.Fatalf("at 30ms got %q, want the delayed packet", got)
	}
}

func TestDecide(t *testing.T) {
	r := NewRand(42)
	if got := Decide(r, Link{}); got != (Fate{Copies: 1}) {
		t.Errorf("zero link: %+v", got)
	}
	const N = 100000
	var lost, dup int
	for range N {
		f := Decide(r, Link{Loss: 0.25, Dup: 0.5, Delay: time.Second, Jitter: time.Millisecond})
		switch f.Copies {
		case 0:
			lost++
		case 2:
			dup++
		}
		for i := range f.Copies {
			if f.Delay[i] < time.Second || f.Delay[i] >= time.Second+time.Millisecond {
				t.Fatalf("delay %v out of [1s, 1.001s)", f.Delay[i])
			}
		}
	}
	if lost < N*24/100 || lost > N*26/100 {
		t.Errorf("lost %d of %d, want about 25%%", lost, N)
	}
	if dup < N*36/100 || dup > N*39/100 { // 0.75*0.5
		t.Errorf("duplicated %d of %d, want about 37.5%%", dup, N)
	}
}

func BenchmarkMulticast(b *testing.B) {
	n := New(Config{})
	a := n.MustAttach(EndpointConfig{Addrs: []netip.Addr{a4}})
	r := n.MustAttach(EndpointConfig{Addrs: []netip.Addr{b4}})
	msg := make([]byte, 40)
	buf := make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		a.WriteTo(msg, transport.Meta{})
		r.ReadFrom(buf)
	}
}

// TestReadBatch: ReadBatch takes what is queued, up to len(ms), in order,
// with the metadata ReadFrom gives; it blocks only for the first packet.
func TestReadBatch(t *testing.T) {
	n := New(Config{})
	a := n.MustAttach(EndpointConfig{Name: "a", Addrs: []netip.Addr{a4}, IfIndex: 7})
	b := n.MustAttach(EndpointConfig{Name: "b", Addrs: []netip.Addr{b4}, IfIndex: 8})
	for i := range 5 {
		if err := a.WriteTo([]byte{'p', byte('0' + i)}, transport.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	ms := make([]transport.Message, 3)
	read := func() []string {
		for i := range ms {
			ms[i].Buf = make([]byte, 64)
		}
		k, err := b.ReadBatch(ms)
		if err != nil {
			t.Fatalf("ReadBatch: %v", err)
		}
		var got []string
		for _, m := range ms[:k] {
			got = append(got, fmt.Sprintf("%s %v->%v ttl=%d if=%d", m.Buf, m.Meta.Src, m.Meta.Dst, m.Meta.TTL, m.Meta.IfIndex))
		}
		return got
	}
	want := func(ps ...string) []string {
		var w []string
		for _, p := range ps {
			w = append(w, p+" 192.0.2.1->224.0.0.18 ttl=255 if=8")
		}
		return w
	}
	if diff := cmp.Diff(want("p0", "p1", "p2"), read()); diff != "" {
		t.Errorf("first batch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want("p3", "p4"), read()); diff != "" {
		t.Errorf("second batch (-want +got):\n%s", diff)
	}
	b.Close()
	if _, err := b.ReadBatch(ms); !errors.Is(err, net.ErrClosed) || !errors.Is(err, transport.ErrClosed) {
		t.Errorf("ReadBatch after Close: %v, want net.ErrClosed", err)
	}
}
