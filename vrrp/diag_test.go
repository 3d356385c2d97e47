package vrrp_test

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// diagAdv marshals an advertisement from src to the IPv4 group.
func diagAdv(t testing.TB, adv packet.Advertisement, src netip.Addr) []byte {
	t.Helper()
	if adv.Type == 0 {
		adv.Type = packet.TypeAdvertisement
	}
	b, err := adv.Append(nil, src, packet.GroupIPv4, packet.ChecksumUnknown)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRawRouterDiscards: the table of discarded advertisements names
// the host that sends with TTL 64, the other cluster on the same VRID
// (VRRPv2: another address list is dropped) and the corrupt sender, by
// count; it stays bounded, a heavy source keeping its row under a flood
// of one-off sources.
func TestRawRouterDiscards(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := keyConn{"a"}
	r := vrrp.NewRawRouter(vrrp.RawConfig{Notes: true})
	cfg := rtCfg4(7, 100, rtIP4(1))
	cfg.Version = 2
	if err := r.Add(t0, vrrp.VirtualRouter{Name: "vr", Interface: "eth0", Conn: c, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	r.StartAll(t0)
	ttlHost, cluster, corrupt := rtIP4(66), rtIP4(77), rtIP4(88)
	good := diagAdv(t, packet.Advertisement{Version: 2, VRID: 7, Priority: 50, MaxAdvertInt: 1, Addrs: []netip.Addr{rtVIP4}}, ttlHost)
	other := diagAdv(t, packet.Advertisement{Version: 2, VRID: 7, Priority: 50, MaxAdvertInt: 1, Addrs: []netip.Addr{rtIP4(200)}}, cluster)
	bad := append([]byte(nil), diagAdv(t, packet.Advertisement{Version: 2, VRID: 7, Priority: 50, MaxAdvertInt: 1, Addrs: []netip.Addr{rtVIP4}}, corrupt)...)
	bad[6] ^= 0xff
	now := t0
	recv := func(b []byte, src netip.Addr, ttl int) {
		now = now.Add(10 * time.Millisecond)
		r.Receive(now, c, b, transport.Meta{Src: src, Dst: packet.GroupIPv4, TTL: ttl})
		r.Advance()
	}
	for range 5 {
		recv(good, ttlHost, 64)
	}
	for range 3 {
		recv(other, cluster, 255)
	}
	for range 2 {
		recv(bad, corrupt, 255)
	}
	got := r.Discards(nil)
	want := []struct {
		src    netip.Addr
		reason string
		n      uint64
	}{{ttlHost, "ttl", 5}, {cluster, "addressListMismatch", 3}, {corrupt, "checksum", 2}}
	if len(got) != len(want) {
		t.Fatalf("discards %+v, want %v", got, want)
	}
	for i, w := range want {
		d := got[i]
		if d.Src != w.src || d.Reason != w.reason || d.Count != w.n || d.Name != "vr" || d.VRID != 7 || d.Interface != "eth0" || d.Last.IsZero() || d.First.After(d.Last) {
			t.Errorf("row %d: %+v, want %v", i, d, w)
		}
	}
	// A flood of one-off sources: the table stays at its size, and the
	// heavy hitters keep their rows.
	for i := range 100 {
		src := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		recv(diagAdv(t, packet.Advertisement{Version: 2, VRID: 7, Priority: 50, MaxAdvertInt: 1, Addrs: []netip.Addr{rtVIP4}}, src), src, 1)
	}
	got = r.Discards(nil)
	if len(got) != vrrp.DiscardTableLen {
		t.Fatalf("%d rows, want %d", len(got), vrrp.DiscardTableLen)
	}
	for i, w := range want {
		if got[i].Src != w.src || got[i].Count != w.n {
			t.Errorf("after the flood, row %d: %+v, want %v", i, got[i], w)
		}
	}
	// No allocation on the receive path, notes (summarised) included.
	for _, p := range []struct {
		b   []byte
		src netip.Addr
		ttl int
	}{{good, ttlHost, 64}, {other, cluster, 255}, {bad, corrupt, 255}} {
		if n := testing.AllocsPerRun(100, func() { recv(p.b, p.src, p.ttl) }); n != 0 {
			t.Errorf("receiving a discarded advertisement from %v allocates %v times", p.src, n)
		}
	}
}

// BenchmarkRawRouterDiscard: a flood of advertisements with TTL 64 from
// 32 sources (more than the table holds): counted, noted (summarised),
// entered in the table, without allocating.
func BenchmarkRawRouterDiscard(b *testing.B) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := keyConn{"a"}
	r := vrrp.NewRawRouter(vrrp.RawConfig{Notes: true})
	if err := r.Add(t0, vrrp.VirtualRouter{Name: "vr", Conn: c, Config: rtCfg4(7, 100, rtIP4(1))}); err != nil {
		b.Fatal(err)
	}
	r.StartAll(t0)
	var srcs []netip.Addr
	var pkts [][]byte
	for i := range 32 {
		src := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		srcs = append(srcs, src)
		pkts = append(pkts, diagAdv(b, packet.Advertisement{Version: 3, VRID: 7, Priority: 50, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}, src))
	}
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Microsecond)
		j := i % len(srcs)
		r.Receive(now, c, pkts[j], transport.Meta{Src: srcs[j], Dst: packet.GroupIPv4, TTL: 64})
		r.Advance()
	}
}

// TestRawRouterSecondMaster: a master that hears another router advertise
// its VRID counts every such advertisement and notes the first of each
// episode; an episode ends after 3 advertisement intervals without one.
func TestRawRouterSecondMaster(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := keyConn{"a"}
	r := vrrp.NewRawRouter(vrrp.RawConfig{Notes: true})
	if err := r.Add(t0, vrrp.VirtualRouter{Name: "vr", Conn: c, Config: rtCfg4(7, 200, rtIP4(1))}); err != nil {
		t.Fatal(err)
	}
	r.StartAll(t0)
	rogue := rtIP4(9)
	adv := diagAdv(t, packet.Advertisement{Version: 3, VRID: 7, Priority: 100, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}, rogue)
	var notes []vrrp.Note
	collect := func() {
		notes = append(notes, r.Ready().Notes...)
		r.Advance()
	}
	now := t0
	second := func(rogueSends bool) {
		now = now.Add(time.Second)
		r.Tick(now)
		if rogueSends {
			r.Receive(now.Add(time.Millisecond), c, adv, transport.Meta{Src: rogue, Dst: packet.GroupIPv4, TTL: 255})
		}
		collect()
	}
	for range 5 {
		second(false)
	}
	if s, _ := r.State("vr"); s != vrrp.Master {
		t.Fatalf("vr is %v", s)
	}
	for range 10 { // a split brain of 10 s
		second(true)
	}
	for range 4 { // over
		second(false)
	}
	for range 3 { // again
		second(true)
	}
	var sm []vrrp.Note
	for _, n := range notes {
		if n.SecondMaster {
			sm = append(sm, n)
		}
	}
	if len(sm) != 2 || sm[0].Src != rogue || sm[0].Priority != 100 || sm[0].Name != "vr" {
		t.Errorf("second-master notes %+v, want 2 (one per episode) from %v", sm, rogue)
	}
	if s, _ := r.Stats("vr"); s.SecondMaster != 13 {
		t.Errorf("Stats.SecondMaster %d, want 13", s.SecondMaster)
	}
	if s, _ := r.State("vr"); s != vrrp.Master {
		t.Errorf("vr is %v", s)
	}
}

// logCollector counts log records by message and level and keeps the
// attributes of the last of each message.
type logCollector struct {
	countHandler
	levels map[string]slog.Level
	attrs  map[string]map[string]string
}

func newLogCollector() *logCollector {
	return &logCollector{countHandler: countHandler{n: map[string]int{}}, levels: map[string]slog.Level{}, attrs: map[string]map[string]string{}}
}

func (h *logCollector) Handle(ctx context.Context, r slog.Record) error {
	h.countHandler.Handle(ctx, r)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.levels[r.Message] = r.Level
	a := map[string]string{}
	r.Attrs(func(at slog.Attr) bool { a[at.Key] = at.Value.String(); return true })
	h.attrs[r.Message] = a
	return nil
}
func (h *logCollector) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCollector) WithGroup(string) slog.Handler      { return h }

// TestRouterSecondMasterLog: a split brain of 20 s (a router that does
// not hear this master advertises its VRID every second) is logged once,
// at Warn, with the source, and each of its advertisements is counted.
func TestRouterSecondMasterLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newLogCollector()
		lan := memnet.New(memnet.Config{})
		a := rtNewNode(t, vrrp.RouterConfig{Logger: slog.New(h)})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 200, rtIP4(1))})
		rogue := rtAttach(lan, "rogue", rtIP4(9))
		a.start(false)
		time.Sleep(5 * time.Second)
		if s := a.state("vr"); s != vrrp.Master {
			t.Fatalf("vr is %v", s)
		}
		adv := diagAdv(t, packet.Advertisement{Version: 3, VRID: 7, Priority: 100, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}, rtIP4(9))
		for range 20 {
			if err := rogue.WriteTo(adv, transport.Meta{Src: rtIP4(9)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		const msg = "vrrp second master: another router advertises this VRID while we are master"
		if n := h.count(msg); n != 1 {
			t.Errorf("logged the second master %d times, want 1", n)
		}
		if h.levels[msg] != slog.LevelWarn || h.attrs[msg]["src"] != "192.0.2.9" {
			t.Errorf("second master logged at %v with %v", h.levels[msg], h.attrs[msg])
		}
		if s := a.stats("vr"); s.SecondMaster != 20 {
			t.Errorf("Stats.SecondMaster %d, want 20", s.SecondMaster)
		}
		a.stop()
	})
}

// TestRouterSummarisesRepeats: a peer whose every advertisement differs
// from the configuration (here its interval; a keepalived-translated IPv6
// instance: noLinkLocalFirst) is logged once at Warn, then summarised
// once per SummaryPeriod with the count, not every second (before: 300
// lines in 5 minutes).
func TestRouterSummarisesRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newLogCollector()
		lan := memnet.New(memnet.Config{})
		a := rtNewNode(t, vrrp.RouterConfig{Logger: slog.New(h)})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 100, rtIP4(1))})
		peer := rtAttach(lan, "peer", rtIP4(2))
		a.start(false)
		adv := diagAdv(t, packet.Advertisement{Version: 3, VRID: 7, Priority: 200, MaxAdvertInt: 200, Addrs: []netip.Addr{rtVIP4}}, rtIP4(2))
		for range 300 {
			if err := peer.WriteTo(adv, transport.Meta{Src: rtIP4(2)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		const msg = "vrrp advertisement differs from the configuration"
		if n := h.count(msg); n != 1 {
			t.Errorf("logged %q %d times, want 1", msg, n)
		}
		n := h.count(msg + " (repeated)")
		if n < 4 || n > 5 {
			t.Errorf("logged %d summaries in 5 minutes, want 4 or 5 (one a minute)", n)
		}
		if at := h.attrs[msg+" (repeated)"]; at["repeats"] != "60" && at["repeats"] != "59" || at["src"] != "192.0.2.2" || at["period"] != "1m0s" {
			t.Errorf("summary attributes %v, want 59 or 60 repeats from 192.0.2.2 in 1m0s", at)
		}
		if s := a.stats("vr"); s.AdvIntervalErrors != 300 {
			t.Errorf("AdvIntervalErrors %d, want 300", s.AdvIntervalErrors)
		}
		a.stop()
	})
}

// TestRouterLogsTransitionsAtWarn: transitions are logged at Warn, so that
// a daemon run with its log level at warn still shows them.
func TestRouterLogsTransitionsAtWarn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newLogCollector()
		lan := memnet.New(memnet.Config{})
		a := rtNewNode(t, vrrp.RouterConfig{Logger: slog.New(h)})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 100, rtIP4(1))})
		a.start(false)
		time.Sleep(5 * time.Second)
		a.stop()
		if n := h.count("vrrp transition"); n < 2 {
			t.Fatalf("logged %d transitions, want Initialize->Backup->Master at least", n)
		}
		if l := h.levels["vrrp transition"]; l != slog.LevelWarn {
			t.Errorf("transition logged at %v, want WARN", l)
		}
	})
}
