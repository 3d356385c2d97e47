package vrrp_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// keyConn is a transport.Conn that only serves as a key: a RawRouter
// never calls it.
type keyConn struct{ name string }

func (keyConn) ReadFrom([]byte) (int, transport.Meta, error) { panic("RawRouter read a Conn") }
func (keyConn) WriteTo([]byte, transport.Meta) error         { panic("RawRouter wrote a Conn") }
func (keyConn) Close() error                                 { panic("RawRouter closed a Conn") }

// rawWire delivers what one RawRouter's Ready sends to the others, at
// the same instant, and renders what each asked for.
type rawWire struct {
	rrs   []*vrrp.RawRouter
	conns []transport.Conn
	log   []string
	t0    time.Time
}

// step carries out every Ready until all are empty.
func (w *rawWire) step(now time.Time) {
	for again := true; again; {
		again = false
		for i, r := range w.rrs {
			rd := r.Ready()
			if rd.Empty() {
				continue
			}
			again = true
			at := now.Sub(w.t0)
			for _, o := range rd.Sends {
				for _, m := range o.Msgs {
					adv, _, err := packet.Parse(m.Buf, m.Meta.Src, m.Meta.Dst)
					if err != nil {
						panic(err)
					}
					w.log = append(w.log, fmt.Sprintf("%v r%d send vrid=%d prio=%d", at, i, adv.VRID, adv.Priority))
					for j, p := range w.rrs {
						if j != i {
							p.Receive(now, w.conns[j], m.Buf, transport.Meta{Src: m.Meta.Src, Dst: m.Meta.Dst, TTL: 255})
						}
					}
				}
			}
			for _, h := range rd.Host {
				switch h.Kind {
				case vrrp.HostTransition:
					w.log = append(w.log, fmt.Sprintf("%v r%d %s %v->%v %v", at, i, h.VR.Name, h.Event.From, h.Event.To, h.Event.Reason))
				default:
					w.log = append(w.log, fmt.Sprintf("%v r%d %v %s", at, i, h.Kind, h.VR.Name))
				}
			}
			for _, c := range rd.Closed {
				w.log = append(w.log, fmt.Sprintf("%v r%d close %v", at, i, c))
			}
			r.Advance()
		}
	}
}

// run ticks every RawRouter at each deadline until end.
func (w *rawWire) run(end time.Time) time.Time {
	for {
		next := end
		for _, r := range w.rrs {
			if d := r.Deadline(); !d.IsZero() && d.Before(next) {
				next = d
			}
		}
		now := next
		for _, r := range w.rrs {
			r.Tick(now)
		}
		w.step(now)
		if !now.Before(end) {
			return now
		}
	}
}

// TestRawRouter drives two RawRouters by hand, without a goroutine or a
// clock: the election, a sync group following its member, a fault hold,
// Remove, all in an exact order.
func TestRawRouter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, cb := keyConn{"a"}, keyConn{"b"}
	a, b := vrrp.NewRawRouter(vrrp.RawConfig{}), vrrp.NewRawRouter(vrrp.RawConfig{})
	w := &rawWire{rrs: []*vrrp.RawRouter{a, b}, conns: []transport.Conn{ca, cb}, t0: t0}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Add(t0, vrrp.VirtualRouter{Name: "x", Conn: ca, Interface: "eth0", SyncGroup: "g", Config: rtCfg4(1, 200, rtIP4(1))}))
	must(a.Add(t0, vrrp.VirtualRouter{Name: "y", Conn: ca, Interface: "eth1", SyncGroup: "g", Config: rtCfg4(2, 100, rtIP4(1))}))
	must(b.Add(t0, vrrp.VirtualRouter{Name: "x", Conn: cb, Config: rtCfg4(1, 100, rtIP4(2))}))
	must(b.Add(t0, vrrp.VirtualRouter{Name: "y", Conn: cb, Config: rtCfg4(2, 150, rtIP4(2))}))
	if err := a.Add(t0, vrrp.VirtualRouter{Name: "x", Conn: ca, Config: rtCfg4(3, 100, rtIP4(1))}); !errors.Is(err, vrrp.ErrDuplicate) {
		t.Errorf("Add of a duplicate name: %v, want ErrDuplicate", err)
	}
	a.StartAll(t0)
	b.StartAll(t0)
	w.step(t0)
	now := w.run(t0.Add(4 * time.Second))
	must(a.InterfaceDown(now, "eth1"))
	w.step(now)
	now = w.run(now.Add(4 * time.Second))
	must(a.Remove(now, "y"))
	w.step(now)
	now = w.run(now.Add(4 * time.Second))
	must(a.Remove(now, "x"))
	w.step(now)
	got := strings.Join(w.log, "\n")
	want := strings.TrimSpace(`
0s r0 added x
0s r0 added y
0s r0 x Initialize->Backup start
0s r0 y Initialize->Backup start
0s r1 added x
0s r1 added y
0s r1 x Initialize->Backup start
0s r1 y Initialize->Backup start
3.21875s r0 send vrid=1 prio=200
3.21875s r0 send vrid=2 prio=100
3.21875s r0 x Backup->Master masterNoResponse
3.21875s r0 take x
3.21875s r0 announce x
3.21875s r0 y Backup->Master syncGroup
3.21875s r0 take y
3.21875s r0 announce y
3.4140625s r1 send vrid=2 prio=150
3.4140625s r1 y Backup->Master preempted
3.4140625s r1 take y
3.4140625s r1 announce y
3.4140625s r0 release y
3.4140625s r0 y Master->Backup higherPriority
3.4140625s r0 release x
3.4140625s r0 x Master->Backup syncGroup
4s r0 y Backup->Fault interfaceDown
4s r0 x Backup->Fault syncGroup
4.4140625s r1 send vrid=2 prio=150
5.4140625s r1 send vrid=2 prio=150
6.4140625s r1 send vrid=2 prio=150
6.828125s r1 send vrid=1 prio=100
6.828125s r1 x Backup->Master masterNoResponse
6.828125s r1 take x
6.828125s r1 announce x
7.4140625s r1 send vrid=2 prio=150
7.828125s r1 send vrid=1 prio=100
8s r0 y Fault->Initialize shutdown
8s r0 removed y
8s r0 x Fault->Backup syncGroup
8.4140625s r1 send vrid=2 prio=150
8.828125s r1 send vrid=1 prio=100
9.4140625s r1 send vrid=2 prio=150
9.828125s r1 send vrid=1 prio=100
10.4140625s r1 send vrid=2 prio=150
10.828125s r1 send vrid=1 prio=100
11.21875s r0 send vrid=1 prio=200
11.21875s r0 x Backup->Master preempted
11.21875s r0 take x
11.21875s r0 announce x
11.21875s r1 release x
11.21875s r1 x Master->Backup higherPriority
11.4140625s r1 send vrid=2 prio=150
12s r0 send vrid=1 prio=0
12s r0 release x
12s r0 x Master->Initialize shutdown
12s r0 removed x
12s r0 close {a}
`)
	if got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

// BenchmarkRawRouter255 is BenchmarkRouter255 without goroutines,
// channels or memnet: 255 masters on one RawRouter, 255 backups on
// another, one op a round of 255 advertisements written and received.
// The steady state allocates nothing.
func BenchmarkRawRouter255(b *testing.B) {
	const n = 255
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, cb := keyConn{"a"}, keyConn{"b"}
	ra, rb := vrrp.NewRawRouter(vrrp.RawConfig{}), vrrp.NewRawRouter(vrrp.RawConfig{})
	for i := 1; i <= n; i++ {
		name := fmt.Sprint("vr", i)
		if err := ra.Add(t0, vrrp.VirtualRouter{Name: name, Conn: ca, Config: rtCfg4(uint8(i), 200, rtIP4(1))}); err != nil {
			b.Fatal(err)
		}
		if err := rb.Add(t0, vrrp.VirtualRouter{Name: name, Conn: cb, Config: rtCfg4(uint8(i), 100, rtIP4(2))}); err != nil {
			b.Fatal(err)
		}
	}
	ra.StartAll(t0)
	rb.StartAll(t0)
	round := func(now time.Time) int {
		ra.Tick(now)
		rb.Tick(now)
		sent := 0
		for _, o := range ra.Ready().Sends {
			for _, m := range o.Msgs {
				rb.Receive(now, cb, m.Buf, transport.Meta{Src: m.Meta.Src, Dst: m.Meta.Dst, TTL: 255})
				sent++
			}
		}
		ra.Advance()
		rb.Advance()
		return sent
	}
	now := t0.Add(3*time.Second + 218750*time.Microsecond)
	round(now)
	for range 10 {
		now = now.Add(time.Second)
		round(now)
	}
	if s, _ := ra.State("vr1"); s != vrrp.Master {
		b.Fatalf("vr1 is %v", s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Second)
		if round(now) != n {
			b.Fatal("a round sent the wrong number of advertisements")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/adv")
	if s := rb.RouterStats(); s.Received == 0 || s.VRIDErrors+s.TTLErrors+s.ChecksumErrors != 0 {
		b.Errorf("receive stats %+v", s)
	}
	_ = netip.Addr{}
}

// FuzzRawRouterReceive: whatever arrives, with whatever metadata, the
// RawRouter drops or handles it without panicking, and its deadline
// stays ahead of the time.
func FuzzRawRouterReceive(f *testing.F) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good, err := (&packet.Advertisement{Version: 3, Type: packet.TypeAdvertisement, VRID: 1, Priority: 200,
		MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}).Append(nil, rtIP4(2), packet.GroupIPv4, packet.ChecksumPseudoHeader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, uint8(255), false, uint16(0))
	f.Add([]byte{0x31}, uint8(255), true, uint16(3))
	f.Add(good[:8], uint8(1), false, uint16(1000))
	f.Fuzz(func(t *testing.T, b []byte, ttl uint8, v6 bool, ms uint16) {
		c := keyConn{"c"}
		r := vrrp.NewRawRouter(vrrp.RawConfig{Notes: true, DebugNotes: true})
		for i, cfg := range []vrrp.Config{rtCfg4(1, 100, rtIP4(1)), rtCfg6(1, 100, rtIP6(1)), rtCfg4(2, 255, rtIP4(1))} {
			if err := r.Add(t0, vrrp.VirtualRouter{Name: fmt.Sprint(i), Conn: c, SyncGroup: "g", Config: cfg}); err != nil {
				t.Fatal(err)
			}
		}
		r.StartAll(t0)
		src := rtIP4(2)
		if v6 {
			src = rtIP6(2)
		}
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		r.Receive(now, c, b, transport.Meta{Src: src, Dst: packet.GroupIPv4, TTL: int(ttl)})
		r.Receive(now, keyConn{"unknown"}, b, transport.Meta{Src: src, TTL: 255})
		r.Tick(now)
		if d := r.Deadline(); !d.IsZero() && !d.After(now) {
			t.Errorf("Deadline %v not after now %v", d, now)
		}
		r.Advance()
	})
}

// TestRawRouterReAddBeforeAdvance: a Conn whose last virtual router is
// removed and one added again before Advance is not to be closed.
func TestRawRouterReAddBeforeAdvance(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := keyConn{"c"}
	r := vrrp.NewRawRouter(vrrp.RawConfig{})
	vr := vrrp.VirtualRouter{Name: "x", Conn: c, Config: rtCfg4(1, 100, rtIP4(1))}
	if err := r.Add(t0, vr); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(t0, "x"); err != nil {
		t.Fatal(err)
	}
	if got := r.Ready().Closed; len(got) != 1 {
		t.Fatalf("Closed after the last Remove = %v, want the Conn", got)
	}
	if err := r.Add(t0, vr); err != nil {
		t.Fatal(err)
	}
	if got := r.Ready().Closed; len(got) != 0 {
		t.Errorf("Closed after adding again = %v, want none", got)
	}
}

// TestRawRouterBurstReleased: the host actions of starting a thousand
// virtual routers at once leave no array of that size behind once a
// quiet round follows (issue 12: 2 MB kept at 4,094).
func TestRawRouterBurstReleased(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := vrrp.NewRawRouter(vrrp.RawConfig{})
	c := keyConn{"a"}
	for i := range 1000 {
		name := fmt.Sprintf("vr%d", i)
		if err := r.Add(t0, vrrp.VirtualRouter{Name: name, Conn: c, Interface: name, IfIndex: i + 1, Config: rtCfg4(1, 100, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
	}
	r.StartAll(t0)
	if n := len(r.Ready().Host); n < 1000 {
		t.Fatalf("%d host actions after starting 1,000; want at least 1,000", n)
	}
	r.Advance()
	r.Tick(t0.Add(time.Millisecond)) // nothing due
	if n := len(r.Ready().Host); n != 0 {
		t.Fatalf("%d host actions in a quiet round", n)
	}
	r.Advance()
	// What stays is the room reserved for the takeover of 256 virtual
	// routers at once (rawrouter_reserve.go: 3 host actions each).
	if c := cap(r.Ready().Host); c > 3*256 {
		t.Errorf("after a quiet round the host actions' array holds %d; want the burst's released", c)
	}
}

// TestRawRouterSharedConnDemux: a thousand virtual routers of one VRID on
// one Conn (one socket per family for every link, issue 12), one per
// interface index: an advertisement reaches the one of its interface
// only, and one of an interface without a virtual router none.
func TestRawRouterSharedConnDemux(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := vrrp.NewRawRouter(vrrp.RawConfig{})
	c := keyConn{"shared"}
	const n = 1000
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("vr%d", i)
		if err := r.Add(t0, vrrp.VirtualRouter{Name: name, Conn: c, Interface: name, IfIndex: i, Config: rtCfg4(1, 100, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Add(t0, vrrp.VirtualRouter{Name: "dup", Conn: c, Interface: "x", IfIndex: 500, Config: rtCfg4(1, 100, rtIP4(1))}); !errors.Is(err, vrrp.ErrDuplicate) {
		t.Errorf("a second VRID 1 on interface index 500: %v; want ErrDuplicate", err)
	}
	if err := r.Add(t0, vrrp.VirtualRouter{Name: "any", Conn: c, Interface: "x", Config: rtCfg4(1, 100, rtIP4(1))}); !errors.Is(err, vrrp.ErrDuplicate) {
		t.Errorf("VRID 1 on any interface beside them: %v; want ErrDuplicate", err)
	}
	r.StartAll(t0)
	r.Advance()
	adv := diagAdv(t, packet.Advertisement{Version: 3, VRID: 1, Priority: 200, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}, rtIP4(9))
	at := t0.Add(time.Millisecond)
	for _, idx := range []int{1, 500, n, n + 1} {
		r.Receive(at, c, adv, transport.Meta{Src: rtIP4(9), Dst: packet.GroupIPv4, TTL: 255, IfIndex: idx})
	}
	r.Advance()
	for i := 1; i <= n; i++ {
		s, err := r.Stats(fmt.Sprintf("vr%d", i))
		if err != nil {
			t.Fatal(err)
		}
		want := uint64(0)
		if i == 1 || i == 500 || i == n {
			want = 1
		}
		if s.RcvdAdvertisements != want {
			t.Errorf("vr%d received %d advertisements; want %d", i, s.RcvdAdvertisements, want)
		}
	}
	if got := r.RouterStats().VRIDErrors; got != 1 {
		t.Errorf("VRIDErrors %d; want 1 (interface index %d has no virtual router)", got, n+1)
	}
	// Removing one takes it out of the index: its interface's packets
	// are then of an unknown VRID.
	if err := r.Remove(at, "vr500"); err != nil {
		t.Fatal(err)
	}
	r.Advance()
	r.Receive(at, c, adv, transport.Meta{Src: rtIP4(9), Dst: packet.GroupIPv4, TTL: 255, IfIndex: 500})
	if got := r.RouterStats().VRIDErrors; got != 2 {
		t.Errorf("after removing vr500: VRIDErrors %d; want 2", got)
	}
}

// BenchmarkRawRouterReceiveShared: one advertisement received on a Conn
// shared by n virtual routers of one VRID, one per interface (one
// socket per family for every link, issue 12). The cost of finding the
// virtual router must not grow with n.
func BenchmarkRawRouterReceiveShared(b *testing.B) {
	for _, n := range []int{100, 1000, 4094} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			r := vrrp.NewRawRouter(vrrp.RawConfig{})
			c := keyConn{"shared"}
			for i := 1; i <= n; i++ {
				name := fmt.Sprintf("vr%d", i)
				if err := r.Add(t0, vrrp.VirtualRouter{Name: name, Conn: c, Interface: name, IfIndex: i, Config: rtCfg4(1, 100, rtIP4(1))}); err != nil {
					b.Fatal(err)
				}
			}
			r.StartAll(t0)
			r.Advance()
			adv := diagAdv(b, packet.Advertisement{Version: 3, VRID: 1, Priority: 200, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}, rtIP4(9))
			at := t0.Add(time.Millisecond)
			b.ResetTimer()
			for i := range b.N {
				// The last half of the interfaces: a scan would go far.
				idx := n - i%(n/2)
				r.Receive(at, c, adv, transport.Meta{Src: rtIP4(9), Dst: packet.GroupIPv4, TTL: 255, IfIndex: idx})
				if i%64 == 63 {
					r.Advance()
				}
			}
		})
	}
}
