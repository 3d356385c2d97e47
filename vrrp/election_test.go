package vrrp_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// electionCfg is an ElectionOnly VRRPv3 configuration of VRID 1.
func electionCfg(prio uint8, self netip.Addr) vrrp.Config {
	return vrrp.Config{VRID: 1, Priority: prio, AdvertInterval: time.Second, Primary: self, ElectionOnly: true}
}

func TestElectionOnlyConfig(t *testing.T) {
	got := mtNew(t, electionCfg(100, mtSelf)).Config()
	if !slices.Equal(got.Addrs, []netip.Addr{mtSelf}) || !got.ElectionOnly {
		t.Errorf("Config() Addrs %v ElectionOnly %v, want [%v] true", got.Addrs, got.ElectionOnly, mtSelf)
	}
	// Idempotent: the configuration a machine reports makes the same
	// machine again.
	if again := mtNew(t, got).Config(); !slices.Equal(again.Addrs, got.Addrs) {
		t.Errorf("NewMachine(Config()) Addrs %v, want %v", again.Addrs, got.Addrs)
	}
	v6 := electionCfg(100, netip.MustParseAddr("fe80::1%eth0"))
	if a := mtNew(t, v6).Config().Addrs; !slices.Equal(a, []netip.Addr{mtSelf6}) {
		t.Errorf("IPv6 Addrs %v, want [%v] (no zone)", a, mtSelf6)
	}
	v2 := electionCfg(100, mtSelf)
	v2.Version = 2
	mtNew(t, v2)

	for _, tc := range []struct {
		name  string
		mod   func(*vrrp.Config)
		field string
	}{
		{"a virtual address", func(c *vrrp.Config) { c.Addrs = []netip.Addr{mtVIP} }, "Addrs"},
		{"Primary and more", func(c *vrrp.Config) { c.Addrs = []netip.Addr{mtSelf, mtVIP} }, "Addrs"},
		{"no Primary", func(c *vrrp.Config) { c.Primary = netip.Addr{} }, "Primary"},
		{"unspecified Primary", func(c *vrrp.Config) { c.Primary = netip.IPv4Unspecified() }, "Primary"},
		{"mapped Primary", func(c *vrrp.Config) { c.Primary = netip.MustParseAddr("::ffff:10.0.0.1") }, "Primary"},
		{"IPv6 with VRRPv2", func(c *vrrp.Config) { c.Primary, c.Version = mtSelf6, 2 }, "Primary"},
	} {
		cfg := electionCfg(100, mtSelf)
		tc.mod(&cfg)
		_, err := vrrp.NewMachine(cfg)
		var ce *vrrp.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("%s: err %v, want a ConfigError for %s", tc.name, err, tc.field)
		}
	}
}

// TestElectionOnlyMachine: the machine asks for no address work, its
// advertisements carry its primary address, and it takes a peer's
// advertisement of the peer's own address as the right address list.
func TestElectionOnlyMachine(t *testing.T) {
	cfg := electionCfg(100, mtSelf)
	m, now := mtStartMaster(t, cfg)
	for _, a := range slices.Clone(m.Shutdown(now)) {
		if a.Kind == vrrp.ActReleaseAddrs {
			t.Errorf("Shutdown asked for %v", a.Kind)
		}
	}
	m = mtNew(t, cfg)
	m.Start(mt0)
	acts := slices.Clone(m.Tick(m.Deadline()))
	want := []vrrp.Action{mtTrans(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterNoResponse), mtSend(100)}
	if len(acts) != len(want) || acts[0].Kind != want[0].Kind || acts[0].To != vrrp.Master || acts[1] != want[1] {
		t.Errorf("takeover actions %+v, want a transition to Master and a send, no Take or Announce", acts)
	}
	if a := m.Advertisement(100).Addrs; !slices.Equal(a, []netip.Addr{mtSelf}) {
		t.Errorf("advertised addresses %v, want [%v]", a, mtSelf)
	}
	// A lower-priority advertisement makes an RFC 9568 master send at once
	// (and a master with addresses announce them): no announcement here.
	low := mtAdv(electionCfg(50, mtLower), 50)
	low.Addrs = []netip.Addr{mtLower}
	for _, a := range mtRecv(m, m.Deadline().Add(-time.Millisecond), low, mtLower) {
		if a.Kind == vrrp.ActAnnounce || a.Kind == vrrp.ActNotice || a.Kind == vrrp.ActDrop {
			t.Errorf("lower-priority advertisement: %+v", a)
		}
	}

	for _, version := range []uint8{3, 2} {
		cfg := electionCfg(100, mtSelf)
		cfg.Version = version
		b := mtStartBackup(t, cfg)
		peer := mtAdv(b.Config(), 200)
		peer.Addrs = []netip.Addr{mtHigher}
		acts := mtRecv(b, mt0.Add(time.Millisecond), peer, mtHigher)
		if len(acts) != 0 || b.Stats().AddressListErrors != 0 || b.Master() != mtHigher {
			t.Errorf("v%d: the peer's own address: actions %+v, AddressListErrors %d, master %v", version, acts, b.Stats().AddressListErrors, b.Master())
		}
		// A router with virtual addresses on the same VRID is not one of
		// the election: an address list error, as RFC 9568 and RFC 3768
		// section 7.1 want it (VRRPv3 notes and processes it, VRRPv2
		// drops it).
		other := mtAdv(b.Config(), 200)
		other.Addrs = []netip.Addr{mtVIP}
		acts = mtRecv(b, mt0.Add(2*time.Millisecond), other, mtHigher)
		wantAct := mtNotice(vrrp.AnomalyAddrList)
		if version == 2 {
			wantAct = mtDrop(vrrp.AnomalyAddrList)
		}
		if !slices.Contains(acts, wantAct) || b.Stats().AddressListErrors != 1 {
			t.Errorf("v%d: a virtual address list: actions %+v, AddressListErrors %d", version, acts, b.Stats().AddressListErrors)
		}
	}
}

// TestRawRouterElectionOnly: two RawRouters elect a master with no host
// work but the transitions, and count no address list error.
func TestRawRouterElectionOnly(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, cb := keyConn{"a"}, keyConn{"b"}
	a, b := vrrp.NewRawRouter(vrrp.RawConfig{}), vrrp.NewRawRouter(vrrp.RawConfig{})
	w := &rawWire{rrs: []*vrrp.RawRouter{a, b}, conns: []transport.Conn{ca, cb}, t0: t0}
	for _, err := range []error{
		a.Add(t0, vrrp.VirtualRouter{Name: "leader", Conn: ca, Config: electionCfg(200, rtIP4(1))}),
		b.Add(t0, vrrp.VirtualRouter{Name: "leader", Conn: cb, Config: electionCfg(100, rtIP4(2))}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	a.StartAll(t0)
	b.StartAll(t0)
	w.step(t0)
	now := w.run(t0.Add(5 * time.Second))
	if err := a.Remove(now, "leader"); err != nil {
		t.Fatal(err)
	}
	w.step(now)
	w.run(now.Add(700 * time.Millisecond))
	got := strings.Join(w.log, "\n")
	want := strings.TrimSpace(`
0s r0 added leader
0s r0 leader Initialize->Backup start
0s r1 added leader
0s r1 leader Initialize->Backup start
3.21875s r0 send vrid=1 prio=200
3.21875s r0 leader Backup->Master masterNoResponse
4.21875s r0 send vrid=1 prio=200
5s r0 send vrid=1 prio=0
5s r0 leader Master->Initialize shutdown
5s r0 removed leader
5s r0 close {a}
5.609375s r1 send vrid=1 prio=100
5.609375s r1 leader Backup->Master masterNoResponse`)
	if got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	if s, err := b.Stats("leader"); err != nil || s.AddressListErrors != 0 || s.RcvdAdvertisements != 3 {
		t.Errorf("b's stats %+v (%v): want 3 advertisements received, no address list error", s, err)
	}
}

// addrLog is a Hook that prints every transition and any address work
// it is asked for.
type addrLog struct{ master chan struct{} }

func (h addrLog) Take(vr vrrp.VRInfo) error     { fmt.Println("take", vr.Addrs); return nil }
func (h addrLog) Release(vr vrrp.VRInfo) error  { fmt.Println("release", vr.Addrs); return nil }
func (h addrLog) Announce(vr vrrp.VRInfo) error { fmt.Println("announce", vr.Addrs); return nil }
func (h addrLog) Transition(ev vrrp.Event) {
	fmt.Printf("%s: %v -> %v\n", ev.Name, ev.From, ev.To)
	if ev.To == vrrp.Master {
		close(h.master)
	}
}

// Leader election among replicas, without a virtual address: with
// Config.ElectionOnly the advertisements carry the replica's own address
// (Primary) and the Hook is asked for no address work, only told the
// transitions (vrrp.TransitionHook), which is what a job fences on.
func ExampleConfig_electionOnly() {
	lan := memnet.New(memnet.Config{})
	self := netip.MustParseAddr("192.0.2.1")
	conn := lan.MustAttach(memnet.EndpointConfig{Name: "eth0", Addrs: []netip.Addr{self}})
	// Another host on the LAN, to see the advertisements.
	peer := lan.MustAttach(memnet.EndpointConfig{Name: "eth0", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.2")}})
	defer peer.Close()

	hook := addrLog{master: make(chan struct{})}
	r := vrrp.NewRouter(vrrp.RouterConfig{Hook: hook})
	err := r.Add(vrrp.VirtualRouter{Name: "leader", Conn: conn, Interface: "eth0", Config: vrrp.Config{
		VRID: 42, Priority: 150, AdvertInterval: 10 * time.Millisecond, Primary: self, ElectionOnly: true,
	}})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-hook.master // alone on the LAN: master after Master_Down_Interval
	buf := make([]byte, 1500)
	n, meta, err := peer.ReadFrom(buf)
	if err != nil {
		panic(err)
	}
	adv, _, err := packet.Parse(buf[:n], meta.Src, meta.Dst)
	cancel()
	fmt.Println("Run:", <-done)
	fmt.Println("advertisement:", err, meta.Src, "VRID", adv.VRID, "priority", adv.Priority, "addresses", adv.Addrs)
	// Output:
	// leader: Initialize -> Backup
	// leader: Backup -> Master
	// leader: Master -> Initialize
	// Run: <nil>
	// advertisement: <nil> 192.0.2.1 VRID 42 priority 150 addresses [192.0.2.1]
}
