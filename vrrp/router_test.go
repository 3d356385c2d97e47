package vrrp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// The Router tests run in a testing/synctest bubble: time is virtual and
// only moves when every goroutine is blocked, so event times are exact and
// the end of the bubble proves no goroutine was left behind.

const (
	I = vrrp.Initialize
	B = vrrp.Backup
	M = vrrp.Master
	F = vrrp.Fault
)

func startEv(name string) rtEv {
	return rtEv{Name: name, From: I, To: B, Reason: vrrp.ReasonStart}
}

func TestRouterElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		var nodes []*rtNode
		// Three routers, each with an IPv4 and an IPv6 virtual router
		// with VRID 1 on one dual-stack Conn: the families are
		// independent.
		prios4 := []uint8{150, 100, 200}
		prios6 := []uint8{100, 255, 150}
		for i := range 3 {
			n := rtNewNode(t, vrrp.RouterConfig{})
			ep := rtAttach(lan, "r", rtIP4(byte(i+1)), rtIP6(byte(i+1)))
			n.add(vrrp.VirtualRouter{Name: "v4", Conn: ep, Config: rtCfg4(1, prios4[i], rtIP4(byte(i+1)))})
			c6 := rtCfg6(1, prios6[i], rtIP6(byte(i+1)))
			if prios6[i] == 255 {
				c6.Addrs = []netip.Addr{rtIP6(byte(i + 1))} // the owner
			}
			n.add(vrrp.VirtualRouter{Name: "v6", Conn: ep, Config: c6})
			nodes = append(nodes, n)
		}
		for _, n := range nodes {
			n.start(true)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()

		want := [][]rtEv{
			{startEv("v4"), startEv("v6")},
			{startEv("v4"), {Name: "v6", From: I, To: M, Reason: vrrp.ReasonStart}},
			{startEv("v4"), startEv("v6"), {At: rtDown200, Name: "v4", From: B, To: M, Reason: vrrp.ReasonMasterNoResponse}},
		}
		for i, n := range nodes {
			if diff := cmp.Diff(want[i], n.eventsAfter(t0, t0.Add(-1))); diff != "" {
				t.Errorf("router %d events (-want +got):\n%s", i, diff)
			}
		}
		wantStates := [][2]vrrp.State{{B, B}, {B, M}, {M, B}}
		for i, n := range nodes {
			if got := [2]vrrp.State{n.state("v4"), n.state("v6")}; got != wantStates[i] {
				t.Errorf("router %d states v4, v6 = %v, want %v", i, got, wantStates[i])
			}
		}
		// The owner sent at 0s..10s, the v4 master at 3.21875s..9.21875s.
		if got := nodes[1].stats("v6").SentAdvertisements; got != 11 {
			t.Errorf("owner sent %d advertisements in 10s, want 11", got)
		}
		if got := nodes[2].stats("v4").SentAdvertisements; got != 7 {
			t.Errorf("v4 master sent %d advertisements, want 7", got)
		}
		if got := nodes[0].stats("v4").RcvdAdvertisements; got != 7 {
			t.Errorf("v4 backup accepted %d advertisements, want 7", got)
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}

// plainConn hides everything but transport.Conn, so that the Router reads
// and writes one packet at a time.
type plainConn struct{ c transport.Conn }

func (p plainConn) ReadFrom(b []byte) (int, transport.Meta, error) { return p.c.ReadFrom(b) }
func (p plainConn) WriteTo(b []byte, m transport.Meta) error       { return p.c.WriteTo(b, m) }
func (p plainConn) Close() error                                   { return p.c.Close() }

// TestRouterCrashFailover runs over memnet's batch reads and writes, and
// over a plain transport.Conn (one packet per read and write).
func TestRouterCrashFailover(t *testing.T) {
	t.Run("batch", func(t *testing.T) {
		testCrashFailover(t, func(e *memnet.Endpoint) transport.Conn { return e })
	})
	t.Run("plain", func(t *testing.T) {
		testCrashFailover(t, func(e *memnet.Endpoint) transport.Conn { return plainConn{e} })
	})
}

func testCrashFailover(t *testing.T, wrap func(*memnet.Endpoint) transport.Conn) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		sn := rtNewSniffer(t, lan, rtIP4(9))
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		epA := rtAttach(lan, "a", rtIP4(1))
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: wrap(epA), Config: rtCfg4(7, 200, rtIP4(1))})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: wrap(rtAttach(lan, "b", rtIP4(2))), Config: rtCfg4(7, 100, rtIP4(2))})
		a.start(true)
		b.start(true)
		time.Sleep(5500 * time.Millisecond)
		lan.Crash(epA)
		time.Sleep(10 * time.Second)
		synctest.Wait()

		last := sn.last(rtIP4(1))
		if want := rtDown200 + 2*time.Second; last != want {
			t.Errorf("master's last advertisement at %v, want %v", last, want)
		}
		want := []rtEv{startEv("vr"), {At: last + rtDown100, Name: "vr", From: B, To: M, Reason: vrrp.ReasonMasterNoResponse}}
		if diff := cmp.Diff(want, b.eventsAfter(t0, t0.Add(-1))); diff != "" {
			t.Errorf("backup events (-want +got):\n%s", diff)
		}
		if got := b.stats("vr"); got.MasterTransitions != 1 || got.NewMasterReason != vrrp.ReasonMasterNoResponse {
			t.Errorf("backup stats: MasterTransitions %d NewMasterReason %v", got.MasterTransitions, got.NewMasterReason)
		}
		a.stop()
		b.stop()
		sn.close()
	})
}

func TestRouterPriorityZeroHandover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		sn := rtNewSniffer(t, lan, rtIP4(9))
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 200, rtIP4(1))})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2))})
		a.start(true)
		b.start(true)
		time.Sleep(5500 * time.Millisecond)
		if err := a.r.Shutdown("vr"); err != nil {
			t.Fatal(err)
		}
		ts := time.Since(t0)
		time.Sleep(5 * time.Second)
		synctest.Wait()

		want := []rtEv{startEv("vr"), {At: ts + rtSkew100, Name: "vr", From: B, To: M, Reason: vrrp.ReasonMasterNoResponse}}
		if diff := cmp.Diff(want, b.eventsAfter(t0, t0.Add(-1))); diff != "" {
			t.Errorf("backup events (-want +got):\n%s", diff)
		}
		wantA := []rtEv{startEv("vr"), {At: rtDown200, Name: "vr", From: B, To: M, Reason: vrrp.ReasonMasterNoResponse}, {At: ts, Name: "vr", From: M, To: I, Reason: vrrp.ReasonShutdown}}
		if diff := cmp.Diff(wantA, a.eventsAfter(t0, t0.Add(-1))); diff != "" {
			t.Errorf("old master events (-want +got):\n%s", diff)
		}
		var zero []rtSeen
		for _, s := range sn.all() {
			if s.Prio == 0 {
				zero = append(zero, s)
			}
		}
		wantZero := []rtSeen{{At: ts, Src: rtIP4(1), Dst: packet.GroupIPv4, VRID: 7, Prio: 0}}
		if diff := cmp.Diff(wantZero, zero, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("priority-0 advertisements (-want +got):\n%s", diff)
		}
		if got := b.stats("vr").RcvdPriZeroPackets; got != 1 {
			t.Errorf("backup RcvdPriZeroPackets = %d, want 1", got)
		}
		if got := a.state("vr"); got != I {
			t.Errorf("after Shutdown state %v, want Initialize", got)
		}
		a.stop()
		b.stop()
		sn.close()
	})
}

// TestRouterPreemption: a higher-priority router added later takes over
// (after its Master_Down_Interval: it discards the lower master's
// advertisements), unless it is configured not to preempt.
func TestRouterPreemption(t *testing.T) {
	for _, noPreempt := range []bool{false, true} {
		name := "preempt"
		if noPreempt {
			name = "nopreempt"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				t0 := time.Now()
				lan := memnet.New(memnet.Config{})
				a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
				b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2))})
				a.start(true)
				b.start(true)
				time.Sleep(10 * time.Second)
				// Add during Run.
				cfg := rtCfg4(7, 200, rtIP4(1))
				cfg.NoPreempt = noPreempt
				a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: cfg})
				time.Sleep(10 * time.Second)
				synctest.Wait()

				added := 10 * time.Second
				wantA := []rtEv{{At: added, Name: "vr", From: I, To: B, Reason: vrrp.ReasonStart}}
				wantB := []rtEv{startEv("vr"), {At: rtDown100, Name: "vr", From: B, To: M, Reason: vrrp.ReasonMasterNoResponse}}
				if !noPreempt {
					wantA = append(wantA, rtEv{At: added + rtDown200, Name: "vr", From: B, To: M, Reason: vrrp.ReasonPreempted})
					wantB = append(wantB, rtEv{At: added + rtDown200, Name: "vr", From: M, To: B, Reason: vrrp.ReasonHigherPriority})
				}
				if diff := cmp.Diff(wantA, a.eventsAfter(t0, t0.Add(-1))); diff != "" {
					t.Errorf("higher-priority router events (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantB, b.eventsAfter(t0, t0.Add(-1))); diff != "" {
					t.Errorf("lower-priority router events (-want +got):\n%s", diff)
				}
				if !noPreempt {
					if got := a.stats("vr").NewMasterReason; got != vrrp.ReasonPreempted {
						t.Errorf("NewMasterReason = %v, want preempted", got)
					}
				}
				a.stop()
				b.stop()
			})
		})
	}
}

// TestRouterTieBreak: on equal priority the higher primary address wins
// (RFC 9568 section 6.4.3).
func TestRouterTieBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 100, rtIP4(1))})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2))})
		a.start(true)
		b.start(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if sa, sb := a.state("vr"), b.state("vr"); sa != B || sb != M {
			t.Errorf("states: 192.0.2.1 %v, 192.0.2.2 %v; want Backup, Master", sa, sb)
		}
		a.stop()
		b.stop()
	})
}

// TestRouterUnicastPeers: with Peers, advertisements go to each peer and
// not to the group; the election works as with multicast.
func TestRouterUnicastPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		sn := rtNewSniffer(t, lan, rtIP4(9))
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 200, rtIP4(1)), Peers: []netip.Addr{rtIP4(2), rtIP4(3)}})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2)), Peers: []netip.Addr{rtIP4(1)}})
		epC := rtAttach(lan, "c", rtIP4(3))
		a.start(true)
		b.start(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if sa, sb := a.state("vr"), b.state("vr"); sa != M || sb != B {
			t.Errorf("states %v, %v; want Master, Backup", sa, sb)
		}
		if got := sn.all(); len(got) != 0 {
			t.Errorf("a bystander saw %d advertisements, want none: %v", len(got), got)
		}
		// The second peer got each advertisement, to its own address.
		sentA := a.stats("vr").SentAdvertisements
		if got := epC.Stats().Received; got != sentA {
			t.Errorf("peer 192.0.2.3 received %d, want %d", got, sentA)
		}
		if got := b.stats("vr").RcvdAdvertisements; got != sentA {
			t.Errorf("backup accepted %d of %d unicast advertisements", got, sentA)
		}
		a.stop()
		b.stop()
		sn.close()
	})
}

// TestRouterSyncGroup: when one member of a sync group fails, the others
// follow (keepalived's vrrp_sync_group): the group is held in Fault while
// the member's interface is down, the peer's group takes over as a whole,
// and when the interface comes back the group leaves Fault together.
// With and without preemption: with it, a held member must not take
// mastership back and split the groups.
func TestRouterSyncGroup(t *testing.T) {
	for _, preempt := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			t0 := time.Now()
			lan1 := memnet.New(memnet.Config{})
			lan2 := memnet.New(memnet.Config{})
			a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
			for i, n := range []*rtNode{a, b} {
				prio := []uint8{200, 100}[i]
				addr := byte(i + 1)
				c1 := rtCfg4(1, prio, rtIP4(addr))
				c2 := rtCfg6(2, prio, rtIP6(addr))
				c1.NoPreempt, c2.NoPreempt = !preempt, !preempt
				n.add(vrrp.VirtualRouter{Name: "outside", Interface: "eth0", Conn: rtAttach(lan1, "", rtIP4(addr)), Config: c1, SyncGroup: "g"})
				n.add(vrrp.VirtualRouter{Name: "inside", Interface: "eth1", Conn: rtAttach(lan2, "", rtIP6(addr)), Config: c2, SyncGroup: "g"})
				n.start(true)
			}
			time.Sleep(10 * time.Second)
			synctest.Wait()
			ts := time.Since(t0)
			if err := a.r.InterfaceDown("eth0"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Second)
			synctest.Wait()
			up := time.Since(t0)
			if err := a.r.InterfaceUp("eth0"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Second)
			synctest.Wait()

			wantA := []rtEv{
				{At: ts, Name: "outside", From: M, To: F, Reason: vrrp.ReasonInterfaceDown},
				{At: ts, Name: "inside", From: M, To: F, Reason: vrrp.ReasonSyncGroup},
				{At: up, Name: "outside", From: F, To: B, Reason: vrrp.ReasonInterfaceUp},
				{At: up, Name: "inside", From: F, To: B, Reason: vrrp.ReasonSyncGroup},
			}
			gotA := a.eventsAfter(t0, t0.Add(ts-1))
			if preempt && len(gotA) == 6 {
				// Back with the higher priority, A preempts as a group:
				// one member by its timer, the other by the group.
				checkPairToMaster(t, "router A preempts", gotA[4:], up+rtDown200, vrrp.ReasonPreempted)
				gotA = gotA[:4]
			}
			if diff := cmp.Diff(wantA, gotA); diff != "" {
				t.Errorf("preempt %v: router A events (-want +got):\n%s", preempt, diff)
			}
			// B takes over both after Skew_Time (priority 0 from A's
			// outside and inside): one by its timer, the other by the
			// group, in whichever order the timers fire.
			gotB := b.eventsAfter(t0, t0.Add(ts-1))
			wantB := 2
			if preempt {
				wantB = 4 // and yields both to A's preemption
			}
			if len(gotB) != wantB {
				t.Fatalf("preempt %v: router B events %v, want %d", preempt, gotB, wantB)
			}
			checkPairToMaster(t, "router B takes over", gotB[:2], ts+rtSkew100, vrrp.ReasonMasterNoResponse)
			if err := a.r.InterfaceDown("eth9"); !errors.Is(err, vrrp.ErrNoVirtualRouter) {
				t.Errorf("InterfaceDown(unknown) = %v, want ErrNoVirtualRouter", err)
			}
			a.stop()
			b.stop()
		})
	}
}

// checkPairToMaster checks that evs are the two members of a sync group
// becoming Master at at: one for reason, the other following it.
func checkPairToMaster(t *testing.T, what string, evs []rtEv, at time.Duration, reason vrrp.Reason) {
	t.Helper()
	if len(evs) != 2 || evs[0].At != at || evs[1].At != at || evs[0].To != M || evs[1].To != M ||
		evs[0].Name == evs[1].Name || evs[0].Reason != reason || evs[1].Reason != vrrp.ReasonSyncGroup {
		t.Errorf("%s: %v, want both members to Master at %v, the first for %v", what, evs, at, reason)
	}
}

// TestRouterHitlessAddRemove: adding and removing virtual routers during
// Run changes nothing for the others: same advertisements, no events, no
// hook calls.
func TestRouterHitlessAddRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		epA, epB := rtAttach(lan, "a", rtIP4(1)), rtAttach(lan, "b", rtIP4(2))
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		names := []string{"vr1", "vr2", "vr3"}
		for i, name := range names {
			vrid := uint8(i + 1)
			a.add(vrrp.VirtualRouter{Name: name, Conn: epA, Config: rtCfg4(vrid, 200, rtIP4(1))})
			b.add(vrrp.VirtualRouter{Name: name, Conn: epB, Config: rtCfg4(vrid, 100, rtIP4(2))})
		}
		a.start(true)
		b.start(true)
		time.Sleep(10500 * time.Millisecond)
		synctest.Wait()
		mark := time.Since(t0)
		sentBefore := map[string]uint64{}
		for _, name := range []string{"vr1", "vr3"} {
			sentBefore[name] = a.stats(name).SentAdvertisements
		}
		hooksBefore := len(a.hookCalls())

		// A new VR on a new Conn and on a shared one; remove one.
		a.add(vrrp.VirtualRouter{Name: "vr4", Conn: epA, Config: rtCfg4(4, 200, rtIP4(1))})
		a.add(vrrp.VirtualRouter{Name: "vr5", Conn: rtAttach(lan, "a2", rtIP4(11)), Config: rtCfg4(5, 200, rtIP4(11))})
		if err := a.r.Remove("vr2"); err != nil {
			t.Fatal(err)
		}
		if err := b.r.Remove("vr2"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()

		for _, name := range []string{"vr1", "vr3"} {
			if got := a.stats(name).SentAdvertisements - sentBefore[name]; got != 10 {
				t.Errorf("%s sent %d advertisements in 10s, want 10", name, got)
			}
			if got := b.state(name); got != B {
				t.Errorf("backup %s is %v", name, got)
			}
		}
		for _, n := range []*rtNode{a, b} {
			for _, e := range n.eventsAfter(t0, t0.Add(mark)) {
				if e.Name == "vr1" || e.Name == "vr3" {
					t.Errorf("event of an untouched virtual router: %+v", e)
				}
			}
		}
		for _, h := range a.hookCalls()[hooksBefore:] {
			if strings.Contains(h, " vr1 ") || strings.Contains(h, " vr3 ") {
				t.Errorf("hook call for an untouched virtual router: %s", h)
			}
		}
		if _, err := a.r.State("vr2"); !errors.Is(err, vrrp.ErrNoVirtualRouter) {
			t.Errorf("State(removed) = %v, want ErrNoVirtualRouter", err)
		}
		if err := a.r.Add(vrrp.VirtualRouter{Name: "vr1", Conn: epA, Config: rtCfg4(9, 100, rtIP4(1))}); !errors.Is(err, vrrp.ErrDuplicate) {
			t.Errorf("Add(same name) = %v, want ErrDuplicate", err)
		}
		if err := a.r.Add(vrrp.VirtualRouter{Name: "other", Conn: epA, Config: rtCfg4(1, 100, rtIP4(1))}); !errors.Is(err, vrrp.ErrDuplicate) {
			t.Errorf("Add(same VRID on same Conn) = %v, want ErrDuplicate", err)
		}
		if err := a.r.Add(vrrp.VirtualRouter{Name: "bad", Conn: epA, Config: rtCfg4(0, 100, rtIP4(1))}); !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("Add(VRID 0) = %v, want ErrConfig", err)
		}
		a.stop()
		b.stop()
	})
}

// TestRouterFlood: a flood of bad packets (bad TTL, bad checksum, foreign
// VRID, bad version, garbage) during an election changes neither its
// outcome nor its timing, and every packet is counted where RFC 9568
// section 7.1 and RFC 6527 say.
func TestRouterFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 200, rtIP4(1))})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2))})

		evil := rtAttach(lan, "evil", rtIP4(66))
		badTTL := rtAttach(lan, "ttl", rtIP4(67))
		badTTL.SetTTL(64)
		mk := func(vrid, prio uint8, src netip.Addr) []byte {
			adv := packet.Advertisement{Version: 3, VRID: vrid, Priority: prio, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}
			buf, err := adv.Append(nil, src, packet.GroupIPv4, packet.ChecksumPseudoHeader)
			if err != nil {
				t.Fatal(err)
			}
			return buf
		}
		// A priority-254 advertisement that would win if it were accepted.
		good := mk(7, 254, rtIP4(66))
		badSum := append([]byte(nil), good...)
		badSum[6] ^= 0xff
		foreign := mk(99, 254, rtIP4(66))
		badVer := append([]byte(nil), good...)
		badVer[0] = 0x41
		garbage := []byte{0x31}
		ttlPkt := mk(7, 254, rtIP4(67))

		a.start(true)
		b.start(true)
		const rounds = 10000 // one burst per millisecond for 10s
		go func() {
			for range rounds {
				for _, p := range [][]byte{badSum, foreign, badVer, garbage} {
					evil.WriteTo(p, transport.Meta{})
				}
				badTTL.WriteTo(ttlPkt, transport.Meta{})
				time.Sleep(time.Millisecond)
			}
		}()
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()

		wantA := []rtEv{startEv("vr"), {At: rtDown200, Name: "vr", From: B, To: M, Reason: vrrp.ReasonMasterNoResponse}}
		if diff := cmp.Diff(wantA, a.eventsAfter(t0, t0.Add(-1))); diff != "" {
			t.Errorf("events under flood (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]rtEv{startEv("vr")}, b.eventsAfter(t0, t0.Add(-1))); diff != "" {
			t.Errorf("backup events under flood (-want +got):\n%s", diff)
		}
		for _, n := range []*rtNode{a, b} {
			got := n.r.RouterStats()
			want := vrrp.RouterStats{
				ChecksumErrors: rounds,
				VersionErrors:  rounds,
				VRIDErrors:     rounds,
				TTLErrors:      rounds,
				ShortPackets:   rounds,
				Received:       got.Received, // checked below
				Sent:           got.Sent,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("RouterStats (-want +got):\n%s", diff)
			}
			s := n.stats("vr")
			// Each round ends with the bad-TTL packet: RFC 6527's
			// vrrpv3StatisticsProtoErrReason is ipTtlError.
			if s.IPTTLErrors != rounds || s.ProtoErrReason != vrrp.ProtoErrTTL {
				t.Errorf("Stats: IPTTLErrors %d ProtoErrReason %v; want %d ipTtlError", s.IPTTLErrors, s.ProtoErrReason, rounds)
			}
		}
		// b received rounds bad checksums + a's 7 advertisements.
		if got := b.r.RouterStats().Received; got != rounds+7 {
			t.Errorf("backup handed %d packets to its machine, want %d", got, rounds+7)
		}
		a.stop()
		b.stop()
	})
}

// TestRouterRunCancel: cancelling Run sends priority 0 for every master,
// releases the addresses through the hook, closes the Conns and leaves no
// goroutine behind (the bubble would not end otherwise).
func TestRouterRunCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		sn := rtNewSniffer(t, lan, rtIP4(9), rtIP6(9))
		a := rtNewNode(t, vrrp.RouterConfig{})
		ep := rtAttach(lan, "a", rtIP4(1), rtIP6(1))
		a.add(vrrp.VirtualRouter{Name: "m4", Conn: ep, Config: rtCfg4(1, 200, rtIP4(1))})
		a.add(vrrp.VirtualRouter{Name: "m6", Conn: ep, Config: rtCfg6(1, 200, rtIP6(1))})
		b := rtNewNode(t, vrrp.RouterConfig{})
		b.add(vrrp.VirtualRouter{Name: "b4", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(1, 100, rtIP4(2))})
		a.start(true)
		b.start(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		a.stop()
		stopped := time.Since(t0)
		synctest.Wait()

		var zero []rtSeen
		for _, s := range sn.all() {
			if s.Prio == 0 {
				zero = append(zero, s)
			}
		}
		want := []rtSeen{
			{At: stopped, Src: rtIP4(1), Dst: packet.GroupIPv4, VRID: 1},
			{At: stopped, Src: rtIP6(1), Dst: packet.GroupIPv6, VRID: 1},
		}
		if diff := cmp.Diff(want, zero, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("priority-0 advertisements (-want +got):\n%s", diff)
		}
		// Take and Announce run once the advertisements are sent, in
		// the order of the actions.
		wantHooks := []string{
			"take m4 prio=200", "announce m4 prio=200",
			"take m6 prio=200", "announce m6 prio=200",
			"release m4 prio=200", "release m6 prio=200",
		}
		if diff := cmp.Diff(wantHooks, a.hookCalls()); diff != "" {
			t.Errorf("hook calls (-want +got):\n%s", diff)
		}
		if _, _, err := ep.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Conn after Run: ReadFrom = %v, want net.ErrClosed", err)
		}
		if s, _ := a.r.State("m4"); s != I {
			t.Errorf("state after Run = %v, want Initialize", s)
		}
		if _, err := a.r.Stats("m4"); err != nil {
			t.Errorf("Stats after Run: %v", err)
		}
		if err := a.r.SetPriority("m4", 10); !errors.Is(err, vrrp.ErrRouterStopped) {
			t.Errorf("SetPriority after Run = %v, want ErrRouterStopped", err)
		}
		if err := a.r.Run(context.Background()); !errors.Is(err, vrrp.ErrRouterStopped) {
			t.Errorf("second Run = %v, want ErrRouterStopped", err)
		}
		// The backup took over after Skew_Time.
		time.Sleep(time.Second)
		if got := b.state("b4"); got != M {
			t.Errorf("backup state %v, want Master", got)
		}
		b.stop()
		sn.close()
	})
}

// TestRouterSlowConsumer: a consumer that never reads Events delays
// nothing; the oldest events are dropped and counted.
func TestRouterSlowConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		sn := rtNewSniffer(t, lan, rtIP4(9))
		a := rtNewNode(t, vrrp.RouterConfig{EventBuffer: 2})
		ep := rtAttach(lan, "a", rtIP4(1))
		for i := range 10 {
			a.add(vrrp.VirtualRouter{Name: string(rune('a' + i)), Conn: ep, Config: rtCfg4(uint8(i+1), 255, rtIP4(1))})
		}
		a.start(false) // nobody reads Events
		time.Sleep(5*time.Second + time.Millisecond)
		synctest.Wait()
		// 10 owners, one advertisement each at 0s, 1s, ..., 5s.
		if got := len(sn.all()); got != 60 {
			t.Errorf("saw %d advertisements, want 60", got)
		}
		for _, s := range sn.all() {
			if s.At%time.Second != 0 {
				t.Errorf("advertisement at %v, want whole seconds", s.At)
			}
		}
		if got := a.r.RouterStats().EventsDropped; got != 8 {
			t.Errorf("EventsDropped = %d, want 8", got)
		}
		// The newest two events are kept.
		var names []string
		for range 2 {
			names = append(names, (<-a.r.Events()).Name)
		}
		if diff := cmp.Diff([]string{"i", "j"}, names); diff != "" {
			t.Errorf("kept events (-want +got):\n%s", diff)
		}
		a.stop()
		sn.close()
	})
}

func TestRouterSetPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 150, rtIP4(1))})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2))})
		a.start(true)
		b.start(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		mark := time.Since(t0)
		if err := b.r.SetPriority("vr", 200); err != nil {
			t.Fatal(err)
		}
		if err := b.r.SetPriority("nope", 200); !errors.Is(err, vrrp.ErrNoVirtualRouter) {
			t.Errorf("SetPriority(unknown) = %v", err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if sa, sb := a.state("vr"), b.state("vr"); sa != B || sb != M {
			t.Errorf("after raising the backup's priority: %v, %v; want Backup, Master", sa, sb)
		}
		evs := b.eventsAfter(t0, t0.Add(mark))
		if len(evs) != 1 || evs[0].To != M || evs[0].Reason != vrrp.ReasonPreempted {
			t.Errorf("backup events %+v, want one preempting takeover", evs)
		}
		a.stop()
		b.stop()
	})
}

func TestRouterAddErrors(t *testing.T) {
	r := vrrp.NewRouter(vrrp.RouterConfig{})
	lan := memnet.New(memnet.Config{})
	ep := rtAttach(lan, "a", rtIP4(1))
	tests := []struct {
		name string
		vr   vrrp.VirtualRouter
	}{
		{"no name", vrrp.VirtualRouter{Conn: ep, Config: rtCfg4(1, 100, rtIP4(1))}},
		{"no conn", vrrp.VirtualRouter{Name: "x", Config: rtCfg4(1, 100, rtIP4(1))}},
		{"bad config", vrrp.VirtualRouter{Name: "x", Conn: ep, Config: rtCfg4(1, 100, netip.Addr{})}},
		{"peer family", vrrp.VirtualRouter{Name: "x", Conn: ep, Config: rtCfg4(1, 100, rtIP4(1)), Peers: []netip.Addr{rtIP6(2)}}},
	}
	for _, tt := range tests {
		if err := r.Add(tt.vr); !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("%s: Add = %v, want ErrConfig", tt.name, err)
		}
	}
	// Before Run: Remove closes the Conn it owned.
	if err := r.Add(vrrp.VirtualRouter{Name: "x", Conn: ep, Config: rtCfg4(1, 100, rtIP4(1))}); err != nil {
		t.Fatal(err)
	}
	if s, err := r.State("x"); err != nil || s != vrrp.Initialize {
		t.Errorf("State before Run = %v, %v", s, err)
	}
	if err := r.Remove("x"); err != nil {
		t.Fatal(err)
	}
	if err := ep.WriteTo([]byte{1}, transport.Meta{}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Conn of a removed virtual router not closed: %v", err)
	}
}

// countHandler counts log records by message.
type countHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Message]++
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func (h *countHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

// TestRouterLogRateLimit: receive errors are logged at most LogLimit times
// per second (RFC 9568 section 7.1), per transport and per virtual router.
// Each packet comes from another source: the repeats of one source are
// summarised instead (TestRouterSummarisesRepeats).
func TestRouterLogRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &countHandler{n: map[string]int{}}
		lan := memnet.New(memnet.Config{QueueLen: 1000})
		a := rtNewNode(t, vrrp.RouterConfig{Logger: slog.New(h), LogLimit: 3})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 100, rtIP4(1))})
		var evils []*memnet.Endpoint
		for i := range 200 {
			evils = append(evils, rtAttach(lan, fmt.Sprint("evil", i), netip.AddrFrom4([4]byte{198, 51, byte(i / 100), byte(i%100 + 1)})))
		}
		a.start(true)
		foreign := []byte{0x31, 99, 100, 1, 0, 100, 0, 0, 192, 0, 2, 100}
		badSum := []byte{0x31, 7, 100, 1, 0, 100, 0, 0, 192, 0, 2, 100}
		for s := range 2 { // two seconds
			for i := range 100 {
				evil := evils[s*100+i]
				evil.WriteTo(foreign, transport.Meta{})
				evil.WriteTo(badSum, transport.Meta{})
				time.Sleep(time.Millisecond)
			}
			time.Sleep(900 * time.Millisecond)
		}
		synctest.Wait()
		// 3 per second for the transport (unknown VRID) and 3 for the VR.
		if got := h.count("vrrp packet dropped"); got != 12 {
			t.Errorf("logged %d receive errors in 2s, want 12", got)
		}
		if got := a.r.RouterStats(); got.VRIDErrors != 200 || got.ChecksumErrors != 200 {
			t.Errorf("counted %d VRID and %d checksum errors, want 200 each", got.VRIDErrors, got.ChecksumErrors)
		}
		a.stop()
	})
}

// TestRouterLogsAnomalies: an advertisement the Machine drops (ActDrop)
// or processes with a mismatch (ActNotice) is logged at Warn, within the
// rate limit (RFC 9568 section 7.1: "log the event (subject to
// rate-limiting)"); counted as well.
func TestRouterLogsAnomalies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &countHandler{n: map[string]int{}}
		lan := memnet.New(memnet.Config{QueueLen: 1000})
		a := rtNewNode(t, vrrp.RouterConfig{Logger: slog.New(h), LogLimit: 3})
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "a", rtIP4(1)), Config: rtCfg4(7, 100, rtIP4(1))})
		peer := rtAttach(lan, "peer", rtIP4(2))
		a.start(true)
		send := func(adv packet.Advertisement) {
			t.Helper()
			b, err := adv.Append(nil, rtIP4(2), packet.GroupIPv4, packet.ChecksumUnknown)
			if err != nil {
				t.Fatal(err)
			}
			if err := peer.WriteTo(b, transport.Meta{Src: rtIP4(2)}); err != nil {
				t.Fatal(err)
			}
		}
		v2 := packet.Advertisement{Version: 2, VRID: 7, Priority: 200, MaxAdvertInt: 1, Addrs: []netip.Addr{rtVIP4}}
		slow := packet.Advertisement{Version: 3, VRID: 7, Priority: 200, MaxAdvertInt: 200, Addrs: []netip.Addr{rtVIP4}}
		for range 10 {
			send(v2)   // dropped: version
			send(slow) // processed: interval mismatch
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		// The first drop and the first notice of the peer; their
		// repeats are summarised (TestRouterSummarisesRepeats).
		dropped, differs := h.count("vrrp advertisement dropped"), h.count("vrrp advertisement differs from the configuration")
		if dropped != 1 || differs != 1 {
			t.Errorf("logged %d dropped and %d mismatched in the first second, want 1 and 1", dropped, differs)
		}
		time.Sleep(time.Second)
		send(slow)
		synctest.Wait()
		if got := h.count("vrrp advertisement differs from the configuration"); got != differs {
			t.Errorf("logged %d mismatches in all, want %d (a repeat)", got, differs)
		}
		time.Sleep(vrrp.SummaryPeriod)
		if d, n := h.count("vrrp advertisement dropped (repeated)"), h.count("vrrp advertisement differs from the configuration (repeated)"); d != 1 || n != 1 {
			t.Errorf("logged %d and %d summaries, want 1 and 1", d, n)
		}
		s := a.stats("vr")
		if s.ProtoErrReason != vrrp.ProtoErrVersion || s.AdvIntervalErrors != 11 || s.RcvdAdvertisements != 11 {
			t.Errorf("stats: %+v", s)
		}
		a.stop()
	})
}

// TestRouterEventMasterReason: an Event to Master carries the RFC 6527
// NewMasterReason besides its cause: the owner starting (cause start,
// reason priority), a backup preempting (preempted).
func TestRouterEventMasterReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		owner := rtNewNode(t, vrrp.RouterConfig{})
		owner.add(vrrp.VirtualRouter{Name: "o", Conn: rtAttach(lan, "o", rtIP4(1)), Config: rtCfg4(1, 255, rtIP4(1))})
		lo, hi := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		lo.add(vrrp.VirtualRouter{Name: "v", Conn: rtAttach(lan, "lo", rtIP4(2)), Config: rtCfg4(2, 100, rtIP4(2))})
		owner.start(true)
		lo.start(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		hi.add(vrrp.VirtualRouter{Name: "v", Conn: rtAttach(lan, "hi", rtIP4(3)), Config: rtCfg4(2, 200, rtIP4(3))})
		hi.start(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		owner.stop()
		lo.stop()
		hi.stop()
		toMaster := func(n *rtNode) []vrrp.Event {
			var out []vrrp.Event
			for _, ev := range n.events {
				if ev.To == vrrp.Master {
					out = append(out, ev)
				}
			}
			return out
		}
		if evs := toMaster(owner); len(evs) != 1 || evs[0].Reason != vrrp.ReasonStart || evs[0].MasterReason != vrrp.ReasonPriority {
			t.Errorf("owner: %+v, want one to Master, cause start, reason priority", evs)
		}
		if evs := toMaster(hi); len(evs) != 1 || evs[0].Reason != vrrp.ReasonPreempted || evs[0].MasterReason != vrrp.ReasonPreempted {
			t.Errorf("preempting backup: %+v, want one to Master, preempted", evs)
		}
		if evs := toMaster(lo); len(evs) != 1 || evs[0].MasterReason != vrrp.ReasonMasterNoResponse {
			t.Errorf("first master: %+v, want masterNoResponse", evs)
		}
	})
}
