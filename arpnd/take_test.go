package arpnd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/vrrp"
)

// filterConn is a fakeConn with the interface filter of a packet socket:
// multicast group and unicast MAC memberships counted per MAC as the
// kernel's packet_mclist counts them, with injected failures. A drop of a
// membership the socket does not hold is recorded as a stray (the kernel
// refuses it with EADDRNOTAVAIL; the Announcer must never try).
type filterConn struct {
	*fakeConn

	fmu      sync.Mutex
	groups   map[string]int
	unicast  map[string]int
	failJoin map[string]error // JoinGroup of that MAC fails
	failAdd  error            // AddUnicast fails
	strays   []string
}

func newFilterConn() *filterConn {
	return &filterConn{fakeConn: newFakeConn(), groups: map[string]int{}, unicast: map[string]int{}, failJoin: map[string]error{}}
}

var errNotMember = errors.New("fake: not a member (EADDRNOTAVAIL)")

func (c *filterConn) JoinGroup(mac net.HardwareAddr) error {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if err := c.failJoin[string(mac)]; err != nil {
		return err
	}
	c.groups[string(mac)]++
	return nil
}

func (c *filterConn) LeaveGroup(mac net.HardwareAddr) error {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return c.drop(c.groups, "LeaveGroup", mac)
}

func (c *filterConn) AddUnicast(mac net.HardwareAddr) error {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if c.failAdd != nil {
		return c.failAdd
	}
	c.unicast[string(mac)]++
	return nil
}

func (c *filterConn) DropUnicast(mac net.HardwareAddr) error {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return c.drop(c.unicast, "DropUnicast", mac)
}

func (c *filterConn) drop(m map[string]int, what string, mac net.HardwareAddr) error {
	k := string(mac)
	if m[k] == 0 {
		c.strays = append(c.strays, fmt.Sprintf("%s(%v) without membership", what, mac))
		return errNotMember
	}
	if m[k]--; m[k] == 0 {
		delete(m, k)
	}
	return nil
}

// filter returns the memberships as "MAC=count" strings, groups then
// unicast, and the strays.
func (c *filterConn) filter() (groups, unicast, strays []string) {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	list := func(m map[string]int) []string {
		var r []string
		for k, n := range m {
			r = append(r, fmt.Sprintf("%v=%d", net.HardwareAddr(k), n))
		}
		slices.Sort(r)
		return r
	}
	return list(c.groups), list(c.unicast), slices.Clone(c.strays)
}

// fakePlatform is a platform on one link whose take fails for the VRIDs in
// fail; it logs take and release calls and tracks what is held.
type fakePlatform struct {
	l    *link
	fail map[uint8]error
	// failRelease makes release fail for these VRIDs.
	failRelease map[uint8]error
	log         []string
	held        map[*vrState]bool
}

func (p *fakePlatform) linkFor(*Announcer, vrrp.VRInfo, vrKey, net.HardwareAddr) (*link, error) {
	return p.l, nil
}

func (p *fakePlatform) take(l *link, vr *vrState) error {
	p.log = append(p.log, fmt.Sprintf("take %d", vr.key.vrid))
	// A failed take may have done part of its work (set a macvlan up,
	// say): the platform holds vr until release undoes it.
	p.held[vr] = true
	return p.fail[vr.key.vrid]
}

func (p *fakePlatform) release(l *link, vr *vrState, down bool) error {
	p.log = append(p.log, fmt.Sprintf("release %d down=%v", vr.key.vrid, down))
	if err := p.failRelease[vr.key.vrid]; err != nil {
		return err
	}
	delete(p.held, vr)
	return nil
}

func (p *fakePlatform) forget(vr *vrState) error {
	p.log = append(p.log, fmt.Sprintf("forget %d", vr.key.vrid))
	return nil
}

func (p *fakePlatform) close() error { return closeConns(p.l) }

func (p *fakePlatform) takeLog() []string {
	l := p.log
	p.log = nil
	return l
}

// newPlatTest returns an Announcer on a fakePlatform whose connections are
// filterConns.
func newPlatTest(t *testing.T, cfg Config) (*Announcer, *fakePlatform, *filterConn, *filterConn) {
	t.Helper()
	ac, nc := newFilterConn(), newFilterConn()
	l := &link{ifi: testIfi, arp: ac, nd: nc}
	p := &fakePlatform{l: l, fail: map[uint8]error{}, failRelease: map[uint8]error{}, held: map[*vrState]bool{}}
	a, err := newAnnouncer(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	a.startReaders(l, a.responding(), a.responding() || a.ra != nil)
	t.Cleanup(func() { a.Close() })
	return a, p, ac, nc
}

func vrid(vr vrrp.VRInfo, id uint8) vrrp.VRInfo {
	vr.VRID = id
	vr.Name = fmt.Sprintf("vr%d", id)
	return vr
}

// checkFilter compares c's memberships ("MAC=count") with the wanted ones
// and fails on a stray drop.
func checkFilter(t *testing.T, what string, c *filterConn, wantGroups, wantUnicast []string) {
	t.Helper()
	g, u, strays := c.filter()
	slices.Sort(wantGroups)
	slices.Sort(wantUnicast)
	if diff := cmp.Diff(wantGroups, g); diff != "" {
		t.Errorf("%s: group memberships (-want +got):\n%s", what, diff)
	}
	if diff := cmp.Diff(wantUnicast, u); diff != "" {
		t.Errorf("%s: unicast filter (-want +got):\n%s", what, diff)
	}
	if len(strays) != 0 {
		t.Errorf("%s: memberships dropped that were never added: %q", what, strays)
	}
}

// checkCounts compares the link's reference counts (holders per MAC)
// with the wanted ones.
func checkCounts(t *testing.T, what string, a *Announcer, l *link, wantGroups, wantUnicast map[string]int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	str := func(m map[string]int) map[string]int {
		r := map[string]int{}
		for k, n := range m {
			r[net.HardwareAddr(k).String()] = n
		}
		return r
	}
	r := l.refs()
	if diff := cmp.Diff(wantGroups, str(r.groups)); diff != "" {
		t.Errorf("%s: link group counts (-want +got):\n%s", what, diff)
	}
	if diff := cmp.Diff(wantUnicast, str(r.unicast)); diff != "" {
		t.Errorf("%s: link unicast counts (-want +got):\n%s", what, diff)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func snMAC(s string) string { return multicastMAC(solicitedNode(netip.MustParseAddr(s))).String() }

const allNodesStr = "33:33:00:00:00:01"

// TestFailedTakeHoldsNothing: in ModeVirtualMAC with the responder, a Take
// whose platform part fails (the nftables table, say) gives back what it
// did, joins no group, adds no unicast MAC, answers nothing; the Announce
// that follows retries the take, and while that fails too it sends
// nothing (no announcement of a MAC nobody answers for); Release then has
// nothing to give back. Once the platform works, Announce takes over.
func TestFailedTakeHoldsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, p, ac, nc := newPlatTest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: 1, MasterDelay: -1})
		v6 := vr4("2001:db8::10")
		v4 := vr4("192.0.2.10")
		errNFT := errors.New("nftables: operation not permitted")
		p.fail[7] = errNFT
		ns := nsFrame(t, netip.MustParseAddr("fe80::99"), solicitedNode(vip6), vip6, peerMAC)
		areq := arpRequest(1, netip.MustParseAddr("192.0.2.99"), vip4)

		for _, vr := range []vrrp.VRInfo{v4, v6} {
			if err := a.Take(vr); !errors.Is(err, errNFT) {
				t.Fatalf("Take (%v): %v, want the platform's error", vr.Addrs, err)
			}
			if got := p.takeLog(); !slices.Equal(got, []string{"take 7", "release 7 down=true"}) {
				t.Errorf("platform calls of a failed Take: %q, want the take undone", got)
			}
			if err := a.Announce(vr); !errors.Is(err, errNFT) {
				t.Errorf("Announce after a failed Take (%v): %v, want the retried take's error", vr.Addrs, err)
			}
			p.takeLog()
		}
		synctest.Wait()
		if st := a.Stats(); st.GARPs != 0 || st.NAs != 0 {
			t.Errorf("a master whose Take failed announced: %+v", st)
		}
		if got := exchange(ac.fakeConn, areq); len(got) != 0 {
			t.Errorf("answered ARP after a failed Take: %x", got)
		}
		if got := exchange(nc.fakeConn, ns); len(got) != 0 {
			t.Errorf("answered NS after a failed Take: %x", got)
		}
		checkFilter(t, "after the failed Take", nc, nil, nil)
		checkFilter(t, "after the failed Take (ARP socket)", ac, nil, nil)
		checkCounts(t, "after the failed Take", a, p.l, map[string]int{}, map[string]int{})
		if len(p.held) != 0 {
			t.Errorf("platform still holds %d virtual routers", len(p.held))
		}

		for _, vr := range []vrrp.VRInfo{v4, v6} {
			if err := a.Release(vr); err != nil {
				t.Errorf("Release after a failed Take: %v", err)
			}
		}
		if got := p.takeLog(); len(got) != 0 {
			t.Errorf("Release after a failed Take called the platform: %q", got)
		}
		checkFilter(t, "after Release", nc, nil, nil)
		checkFilter(t, "after Release (ARP socket)", ac, nil, nil)

		// Take fails, the platform recovers, the next Announce takes over.
		for _, vr := range []vrrp.VRInfo{v4, v6} {
			p.fail[7] = errNFT
			if err := a.Take(vr); err == nil {
				t.Fatal("Take: no error")
			}
			delete(p.fail, 7)
			if err := a.Announce(vr); err != nil {
				t.Fatalf("Announce retrying the take: %v", err)
			}
		}
		synctest.Wait()
		if st := a.Stats(); st.GARPs != 1 || st.NAs != 1 {
			t.Errorf("after the retried take: %+v, want one GARP and one NA", st)
		}
		if got := exchange(ac.fakeConn, areq); len(got) != 1 {
			t.Errorf("ARP answers after the retried take: %d, want 1", len(got))
		}
		if got := exchange(nc.fakeConn, ns); len(got) != 1 {
			t.Errorf("NS answers after the retried take: %d, want 1", len(got))
		}
		vmac4, vmac6 := VirtualMAC(7, false).String(), VirtualMAC(7, true).String()
		checkFilter(t, "after the retried take", nc, []string{snMAC("2001:db8::10") + "=1", allNodesStr + "=1"}, []string{vmac6 + "=1"})
		checkFilter(t, "after the retried take (ARP socket)", ac, nil, []string{vmac4 + "=1"})
		for _, vr := range []vrrp.VRInfo{v4, v6} {
			mustOK(t, "Release", a.Release(vr))
		}
		checkFilter(t, "after the last Release", nc, nil, nil)
		checkFilter(t, "after the last Release (ARP socket)", ac, nil, nil)
		checkCounts(t, "after the last Release", a, p.l, map[string]int{}, map[string]int{})
	})
}

// TestFailedTakeKeepsOthersMemberships: two IPv6 virtual routers on one
// link whose addresses share their last 24 bits, so their solicited-node
// group MAC (and the all-nodes MAC) are the same. VRID 7 is master; VRID
// 8's Take fails and it is released. VRID 7 keeps its memberships and goes
// on answering.
func TestFailedTakeKeepsOthersMemberships(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, p, _, nc := newPlatTest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: -1})
		v7 := vrid(vr4("2001:db8::1:10"), 7)
		v8 := vrid(vr4("2001:db8:8::1:10"), 8)
		sn := snMAC("2001:db8::1:10")
		if sn != snMAC("2001:db8:8::1:10") {
			t.Fatal("the test addresses do not share a solicited-node group")
		}
		takeover(t, a, v7)
		p.fail[8] = errors.New("boom")
		if err := a.Take(v8); err == nil {
			t.Fatal("Take of VRID 8: no error")
		}
		if err := a.Announce(v8); err == nil {
			t.Error("Announce of VRID 8 after its failed Take: no error")
		}
		mustOK(t, "Release of VRID 8", a.Release(v8))

		vmac7 := VirtualMAC(7, true).String()
		checkFilter(t, "VRID 7 master, VRID 8 released", nc, []string{sn + "=1", allNodesStr + "=1"}, []string{vmac7 + "=1"})
		checkCounts(t, "VRID 7 master, VRID 8 released", a, p.l, map[string]int{sn: 1, allNodesStr: 1}, map[string]int{vmac7: 1})
		ns := nsFrame(t, netip.MustParseAddr("fe80::99"), solicitedNode(netip.MustParseAddr("2001:db8::1:10")), netip.MustParseAddr("2001:db8::1:10"), peerMAC)
		if got := exchange(nc.fakeConn, ns); len(got) != 1 {
			t.Errorf("VRID 7's NS answers: %d, want 1", len(got))
		}
		mustOK(t, "Release of VRID 7", a.Release(v7))
		checkFilter(t, "both released", nc, nil, nil)
		checkCounts(t, "both released", a, p.l, map[string]int{}, map[string]int{})
	})
}

// TestJoinFailsPartWay: a Take whose responder cannot join one of its
// solicited-node groups gives back the groups it had joined (one shared
// with another master) and answers for none of its addresses; the other
// master's memberships are intact, and Release adds nothing to undo.
func TestJoinFailsPartWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, p, _, nc := newPlatTest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: -1})
		v7 := vrid(vr4("2001:db8::1:10"), 7)
		v8 := vrid(vr4("2001:db8:8::1:10", "2001:db8:8::2:20", "2001:db8:8::3:30"), 8)
		sn7, snBad, sn3 := snMAC("2001:db8::1:10"), snMAC("2001:db8:8::2:20"), snMAC("2001:db8:8::3:30")
		takeover(t, a, v7)
		errJoin := errors.New("join: no buffer space")
		nc.failJoin[string(multicastMAC(solicitedNode(netip.MustParseAddr("2001:db8:8::2:20"))))] = errJoin
		err := a.Take(v8)
		if !errors.Is(err, errJoin) {
			t.Fatalf("Take of VRID 8: %v, want the join error", err)
		}
		if got := p.takeLog(); !slices.Equal(got[len(got)-2:], []string{"take 8", "release 8 down=true"}) {
			t.Errorf("platform calls: %q, want VRID 8's take undone", got)
		}
		vmac7 := VirtualMAC(7, true).String()
		wantG := []string{sn7 + "=1", allNodesStr + "=1"}
		checkFilter(t, "after the failed Take", nc, wantG, []string{vmac7 + "=1"})
		checkCounts(t, "after the failed Take", a, p.l, map[string]int{sn7: 1, allNodesStr: 1}, map[string]int{vmac7: 1})
		for _, s := range []string{"2001:db8:8::1:10", "2001:db8:8::3:30"} {
			ip := netip.MustParseAddr(s)
			if got := exchange(nc.fakeConn, nsFrame(t, netip.MustParseAddr("fe80::99"), solicitedNode(ip), ip, peerMAC)); len(got) != 0 {
				t.Errorf("VRID 8 answers NS for %v after its failed Take", ip)
			}
		}
		mustOK(t, "Release of VRID 8", a.Release(v8))
		checkFilter(t, "VRID 8 released", nc, wantG, []string{vmac7 + "=1"})

		// The join works again: the next Take holds every group once.
		delete(nc.failJoin, string(multicastMAC(solicitedNode(netip.MustParseAddr("2001:db8:8::2:20")))))
		takeover(t, a, v8)
		vmac8 := VirtualMAC(8, true).String()
		checkFilter(t, "both master", nc, []string{sn7 + "=1", snBad + "=1", sn3 + "=1", allNodesStr + "=1"}, []string{vmac7 + "=1", vmac8 + "=1"})
		checkCounts(t, "both master", a, p.l, map[string]int{sn7: 2, snBad: 1, sn3: 1, allNodesStr: 2}, map[string]int{vmac7: 1, vmac8: 1})
		mustOK(t, "Release of VRID 7", a.Release(v7))
		mustOK(t, "Release of VRID 8", a.Release(v8))
		checkFilter(t, "both released", nc, nil, nil)
		checkCounts(t, "both released", a, p.l, map[string]int{}, map[string]int{})
	})
}

// TestAddUnicastFails: a Take whose responder cannot add the virtual MAC
// to the unicast filter gives back its groups and answers nothing; its
// Announce sends nothing, and Release drops no unicast MAC.
func TestAddUnicastFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, p, ac, nc := newPlatTest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: 1, MasterDelay: -1})
		errAdd := errors.New("add unicast: no memory")
		for _, c := range []*filterConn{ac, nc} {
			c.failAdd = errAdd
		}
		for _, vr := range []vrrp.VRInfo{vr4("192.0.2.10"), vr4("2001:db8::10")} {
			if err := a.Take(vr); !errors.Is(err, errAdd) {
				t.Errorf("Take %v: %v, want the unicast error", vr.Addrs, err)
			}
			if err := a.Announce(vr); !errors.Is(err, errAdd) {
				t.Errorf("Announce %v: %v, want the unicast error", vr.Addrs, err)
			}
		}
		synctest.Wait()
		if st := a.Stats(); st.GARPs != 0 || st.NAs != 0 {
			t.Errorf("announced without answering: %+v", st)
		}
		if got := exchange(ac.fakeConn, arpRequest(1, netip.MustParseAddr("192.0.2.99"), vip4)); len(got) != 0 {
			t.Errorf("answered ARP: %x", got)
		}
		for _, vr := range []vrrp.VRInfo{vr4("192.0.2.10"), vr4("2001:db8::10")} {
			mustOK(t, "Release", a.Release(vr))
		}
		checkFilter(t, "IPv6", nc, nil, nil)
		checkFilter(t, "IPv4", ac, nil, nil)
		checkCounts(t, "released", a, p.l, map[string]int{}, map[string]int{})
	})
}

// TestAnnounceNewAddrsJoinFails: an Announce with new addresses that
// cannot be answered for gives back the take (as a failed Take would) and
// sends nothing; the next Announce retries.
func TestAnnounceNewAddrsJoinFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, p, _, nc := newPlatTest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: 1, MasterDelay: -1, MasterRefresh: time.Minute})
		takeover(t, a, vr4("2001:db8::10"))
		p.takeLog()
		bad := netip.MustParseAddr("2001:db8::2:20")
		errJoin := errors.New("join failed")
		nc.failJoin[string(multicastMAC(solicitedNode(bad)))] = errJoin
		if err := a.Announce(vr4("2001:db8::10", bad.String())); !errors.Is(err, errJoin) {
			t.Fatalf("Announce with new addresses: %v, want the join error", err)
		}
		if got := p.takeLog(); !slices.Equal(got, []string{"release 7 down=true"}) {
			t.Errorf("platform calls: %q, want the take given back", got)
		}
		checkFilter(t, "given back", nc, nil, nil)
		if n := a.Pending(); n != 0 {
			t.Errorf("%d announcements pending for a master that holds nothing", n)
		}
		synctest.Wait()
		before := a.Stats().NAs
		delete(nc.failJoin, string(multicastMAC(solicitedNode(bad))))
		mustOK(t, "Announce retrying", a.Announce(vr4("2001:db8::10", bad.String())))
		if got := a.Stats().NAs - before; got != 2 {
			t.Errorf("NAs of the retried takeover: %d, want 2", got)
		}
		checkFilter(t, "retried", nc, []string{snMAC("2001:db8::10") + "=1", snMAC(bad.String()) + "=1", allNodesStr + "=1"}, []string{VirtualMAC(7, true).String() + "=1"})
		mustOK(t, "Release", a.Release(vr4("2001:db8::10", bad.String())))
		checkFilter(t, "released", nc, nil, nil)
	})
}

// TestRAJoinFailureKeepsOthers: the Router Advertisement code of VRID 7
// fails to join the all-routers group; VRID 8 joins it later. VRID 7's
// Release must not leave the group VRID 8 holds.
func TestRAJoinFailureKeepsOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, p, _, nc := newPlatTest(t, Config{MasterRepeat: -1, RouterAdvertisements: &RAConfig{}})
		errJoin := errors.New("join failed")
		nc.failJoin[string(allRoutersMAC)] = errJoin
		v7, v8 := vrid(vr6(), 7), vrid(vr6(), 8)
		if err := a.Take(v7); !errors.Is(err, errJoin) {
			t.Fatalf("Take of VRID 7: %v, want the join error", err)
		}
		delete(nc.failJoin, string(allRoutersMAC))
		takeover(t, a, v8)
		mustOK(t, "Release of VRID 7", a.Release(v7))
		ar := allRoutersMAC.String()
		checkFilter(t, "VRID 7 released", nc, []string{ar + "=1"}, nil)
		checkCounts(t, "VRID 7 released", a, p.l, map[string]int{ar: 1}, map[string]int{})
		mustOK(t, "Release of VRID 8", a.Release(v8))
		checkFilter(t, "both released", nc, nil, nil)
		checkCounts(t, "both released", a, p.l, map[string]int{}, map[string]int{})
	})
}

// TestFailedUndoRetriedAtRelease: when undoing a failed Take fails too
// (the macvlan cannot be set down, say), Take reports both and Release
// tries the undo again.
func TestFailedUndoRetriedAtRelease(t *testing.T) {
	a, p, _, _ := newPlatTest(t, Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: -1})
	errTake, errRelease := errors.New("take failed"), errors.New("release failed")
	p.fail[7], p.failRelease[7] = errTake, errRelease
	vr := vr4("192.0.2.10")
	if err := a.Take(vr); !errors.Is(err, errTake) || !errors.Is(err, errRelease) {
		t.Fatalf("Take: %v, want both errors", err)
	}
	p.takeLog()
	delete(p.failRelease, 7)
	mustOK(t, "Release", a.Release(vr))
	if got := p.takeLog(); !slices.Equal(got, []string{"release 7 down=true"}) {
		t.Errorf("Release after a failed undo: platform calls %q, want the undo retried", got)
	}
	if len(p.held) != 0 {
		t.Errorf("platform still holds %d virtual routers", len(p.held))
	}
	mustOK(t, "second Release", a.Release(vr))
	if got := p.takeLog(); len(got) != 0 {
		t.Errorf("second Release: platform calls %q, want none", got)
	}
}
