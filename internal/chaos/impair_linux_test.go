//go:build linux

package chaos

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
)

const (
	impairVRID     = 53
	impairInterval = 100 * time.Millisecond
	// impairWindow is how long the mild impairment lasts.
	impairWindow = 4 * time.Second
)

var impairVIP = netip.MustParsePrefix("10.99.0.100/24")

// TestImpairedLink runs vrrpd on real sockets with faults that the lab's
// kernel cannot inject (it has no sch_netem): delay, jitter, duplication
// and reordering on the master's link, made by netlab's user-space relay
// (netlab.Host.Impair). Project issue 7.
//
// "mild": delay and jitter far below the backups' Master_Down_Interval,
// duplication and reordering; the RFC predicts nothing visible but the
// counters. "delay-over-master-down": a delay longer than
// Master_Down_Interval; the RFC predicts a split brain that ends by
// itself, and one that the removal of the delay ends.
//
// GOVRRP_CHAOS_SEED replays the relay's random draws (as far as the
// frames arrive in the same order).
func TestImpairedLink(t *testing.T) {
	requireTools(t, "tcpdump", "tshark")
	seed := chaosSeed(t)
	t.Logf("seed %d (replay with GOVRRP_CHAOS_SEED=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d: replay with GOVRRP_CHAOS_SEED=%d", seed, seed)
		}
	})
	t.Run("mild", func(t *testing.T) {
		keepalived.RequireTime(t, impairNeed)
		impairMild(t, seed)
	})
	t.Run("delay-over-master-down", func(t *testing.T) {
		keepalived.RequireTime(t, impairNeed)
		impairLong(t, seed)
	})
}

// impairLAN starts vrrpd with prios on hosts 1..len(prios) of a new lab
// that has one more host, the observer, capturing, and waits until host 1
// is master.
func impairLAN(t *testing.T, prios ...int) (*netlab.Lab, []*vrrpdtest.Proc, *keepalived.Capture) {
	t.Helper()
	lab := netlab.New(t, "cim", len(prios)+1)
	capture := keepalived.StartCapture(t, lab.Host(len(prios)+1))
	var ds []*vrrpdtest.Proc
	for i, p := range prios {
		ds = append(ds, startVrrpd(t, lab.Host(i+1), vrrpdtest.Options{
			VRID: impairVRID, Priority: p, Interval: impairInterval, VIPs: []netip.Prefix{impairVIP},
		}))
		if i == 0 {
			// The first (the master) is MASTER, alone, before the others
			// start: on a loaded machine its process can take longer to
			// start than the others' Master_Down_Interval, and a backup
			// would rightly be master for a while first, a transition
			// that is not the phase under test (CI saw it).
			if took, ok := waitFor(settleTimeout, func() bool { return ds[0].State("") == "MASTER" }); !ok {
				t.Fatalf("start: %s alone not MASTER after %v: %s", lab.Host(1).Name, took, ds[0].State(""))
			}
		}
	}
	impairSettle(t, "start", ds, 0)
	return lab, ds, capture
}

// watchAll starts a scheduling probe that watches every daemon of ds.
func watchAll(t *testing.T, ds []*vrrpdtest.Proc) *keepalived.SchedProbe {
	probe := keepalived.StartSchedProbeT(t)
	for _, d := range ds {
		probe.Watch(d.PID(), "vrrpd on "+d.Host.Name)
	}
	return probe
}

// impairSettle waits (a hang guard) until ds[master] is the only one in
// MASTER and the only one holding the address, the others in BACKUP, and
// until every notify record ends in that state too. The status endpoint
// shows a transition at once, the notify record once the script ran,
// which can be a second later on a loaded machine: the tests compare
// notify records before and after a phase, and a late line of an earlier
// transition must not count in the phase.
func impairSettle(t *testing.T, what string, ds []*vrrpdtest.Proc, master int) {
	t.Helper()
	var last string
	took, ok := waitFor(settleTimeout, func() bool {
		last = impairStates(t, ds)
		for i, d := range ds {
			st, vip := d.State(""), d.HasVIP(impairVIP.Addr())
			if i == master && (st != "MASTER" || !vip) || i != master && (st != "BACKUP" || vip) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("%s: not settled on %s after %v:%s", what, ds[master].Host.Name, took, last)
	}
	t.Logf("%s: settled on %s in %v", what, ds[master].Host.Name, took.Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	for i, d := range ds {
		want := "BACKUP"
		if i == master {
			want = "MASTER"
		}
		if _, err := d.WaitState(ctx, "", want); err != nil {
			t.Fatalf("%s: notify record of %s: %v (record %v)", what, d.Host.Name, err, d.States(""))
		}
	}
}

// impairStates describes the state and address of every daemon.
func impairStates(t *testing.T, ds []*vrrpdtest.Proc) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, " %s=%s/vip:%v", d.Host.Name, d.State(""), d.HasVIP(impairVIP.Addr()))
	}
	return b.String()
}

func mustStatus(t *testing.T, d *vrrpdtest.Proc) vrrpdtest.Status {
	t.Helper()
	s, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// impairMild: three vrrpd (200, 150, 100; VRRPv3, 100 ms) and an
// observer; the master's link gets 15 ms +- 5 ms of delay, 30%
// duplication and 25% of frames held back 120 ms (more than an interval,
// so that a held advertisement arrives after the next one), both ways,
// for impairWindow.
//
// What RFC 9568 predicts: nothing changes state. An advertisement carries
// no sequence number or timestamp, so a backup cannot tell a duplicate or
// a late one from a fresh one: each of them, coming from a master of
// higher priority, merely restarts the Master_Down_Timer (section 6.4.2).
// A constant delay only shifts the stream. What matters is the longest
// silence a backup sees: at most an interval plus the hold-back plus
// twice the jitter, 230 ms, against a Master_Down_Interval of 341 ms
// (priority 150) or 361 ms (priority 100). The delay stays well below the
// Skew_Time of either backup (41 ms, 61 ms). The master hears no
// advertisements (backups send none), so its side of the faults only
// touches its ARP traffic.
//
// Checked: no transition anywhere (the notify records do not move), at
// every poll exactly one master, the address only on host 1; the relay
// did duplicate and reorder advertisements (its counters, and adverts of
// host 1 closer than half an interval on the wire); each backup's
// RcvdAdvertisements grew by the advertisements of host 1 that reached
// the wire in the same time, duplicates included (plus or minus 3 for
// the edges); no error counter, no MasterTransitions, no
// SentAdvertisements moved on the backups. The checks of roles,
// transitions, MasterTransitions and SentAdvertisements rest on the
// relay keeping its bounds: when the capture shows a silence of host 1
// of three intervals or more, longer than the relay can cause, and the
// scheduling probe explains it by the load, they are reported instead
// (the relay runs in the test process).
func impairMild(t *testing.T, seed uint64) {
	lab, ds, capture := impairLAN(t, 200, 150, 100)
	probe := watchAll(t, ds)
	h1 := lab.Host(1)
	// The RFC predicts no visible effect only while the relay keeps the
	// longest silence of host 1 below the backups' Master_Down_Interval.
	// The relay runs in this process: on a loaded machine it can hold
	// frames longer than it was told, and a backup that then takes over
	// does what the RFC says. What depends on that premise is collected
	// here and judged once the capture shows the longest silence.
	var premise []string
	premiseErr := func(format string, args ...any) { premise = append(premise, fmt.Sprintf(format, args...)) }

	var trBefore [][]string
	for _, d := range ds {
		trBefore = append(trBefore, d.States(""))
	}
	imp := netlab.Impairment{
		Delay: 15 * time.Millisecond, Jitter: 5 * time.Millisecond,
		Duplicate: 0.3, Reorder: 0.25, ReorderDelay: 120 * time.Millisecond,
	}
	link := h1.Impair(t, seed, imp)
	from := time.Now()
	t.Logf("impaired %s: %+v", h1.Name, imp)

	// Read the counters once the impairment is in force.
	time.Sleep(2 * impairInterval)
	type snap struct {
		s        vrrpdtest.Status
		from, to time.Time // the read happened between these
	}
	read := func() []snap {
		var out []snap
		for _, d := range ds {
			a := time.Now()
			s := mustStatus(t, d)
			out = append(out, snap{s, a, time.Now()})
		}
		return out
	}
	before := read()

	var bad []string
	for time.Since(from) < impairWindow {
		desc := impairStates(t, ds)
		if !strings.HasPrefix(desc, fmt.Sprintf(" %s=MASTER/vip:true %s=BACKUP/vip:false %s=BACKUP/vip:false", ds[0].Host.Name, ds[1].Host.Name, ds[2].Host.Name)) {
			bad = append(bad, fmt.Sprintf("%v:%s", time.Since(from).Round(time.Millisecond), desc))
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := read()
	stFrom, stTo := link.Stats(netlab.FromHost), link.Stats(netlab.ToHost)
	if err := link.Remove(); err != nil {
		t.Fatal(err)
	}
	t.Logf("relay, frames from %s: %+v", h1.Name, stFrom)
	t.Logf("relay, frames to %s: %+v", h1.Name, stTo)
	impairSettle(t, "impairment removed", ds, 0)
	if len(bad) > 0 {
		premiseErr("not exactly one master (%s) during the impairment, %d times; first: %s", h1.Name, len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
	}
	for i, d := range ds {
		if got, was := d.States(""), trBefore[i]; strings.Join(got, " ") != strings.Join(was, " ") {
			premiseErr("%s: transitions %v, %v before the impairment", d.Host.Name, got, was)
		}
	}
	for _, d := range ds {
		d.Stop()
	}
	pkts := capture.Stop()

	// What the wire saw of host 1 while the relay ran.
	adverts := pkts.Adverts(h1.Addr4)
	var (
		nclose int
		maxGap time.Duration
		prev   time.Time
		gapEnd time.Time
	)
	for _, a := range adverts {
		if a.Time.Before(from.Add(impairInterval)) || a.Time.After(after[0].from) {
			continue
		}
		if !prev.IsZero() {
			g := a.Time.Sub(prev)
			if g > maxGap {
				maxGap, gapEnd = g, a.Time
			}
			if g < impairInterval/2 {
				nclose++
			}
		}
		prev = a.Time
	}
	t.Logf("adverts of %s on the wire: %d closer than %v to the previous one (duplicates, reordering), longest gap %v (Master_Down_Interval %v)",
		h1.Name, nclose, impairInterval/2, maxGap, masterDownInterval(150, impairInterval))
	if stFrom.Duplicated == 0 || stFrom.Reordered == 0 || nclose == 0 {
		t.Errorf("the relay did not disturb the advertisements: %d duplicated, %d reordered, %d close pairs on the wire", stFrom.Duplicated, stFrom.Reordered, nclose)
	}

	count := func(a, b time.Time) int {
		n := 0
		for _, p := range adverts {
			if p.Time.After(a) && p.Time.Before(b) {
				n++
			}
		}
		return n
	}
	m0, m1 := before[0].s.Instances[0].Stats, after[0].s.Instances[0].Stats
	t.Logf("%s sent %d advertisements in the window", h1.Name, m1.SentAdvertisements-m0.SentAdvertisements)
	if m1.MasterTransitions != m0.MasterTransitions {
		t.Errorf("%s: MasterTransitions %d -> %d", h1.Name, m0.MasterTransitions, m1.MasterTransitions)
	}
	for i := 1; i < len(ds); i++ {
		name := ds[i].Host.Name
		b, a := before[i].s.Instances[0].Stats, after[i].s.Instances[0].Stats
		rb, ra := before[i].s.Router, after[i].s.Router
		// Advertisements that reached the wire between the two reads (the
		// observer and the backup hang off the same bridge).
		wire := count(before[i].to, after[i].from)
		got := int(a.RcvdAdvertisements - b.RcvdAdvertisements)
		t.Logf("%s: RcvdAdvertisements +%d, adverts of %s on the wire meanwhile %d, sent by it %d",
			name, got, h1.Name, wire, m1.SentAdvertisements-m0.SentAdvertisements)
		if got < wire-3 || got > wire+3 {
			t.Errorf("%s: RcvdAdvertisements grew by %d, the wire carried %d adverts of %s (duplicates included)", name, got, wire, h1.Name)
		}
		if a.MasterTransitions != b.MasterTransitions || a.SentAdvertisements != b.SentAdvertisements {
			premiseErr("%s: MasterTransitions %d -> %d, SentAdvertisements %d -> %d during the impairment",
				name, b.MasterTransitions, a.MasterTransitions, b.SentAdvertisements, a.SentAdvertisements)
		}
		for _, c := range []struct {
			what string
			b, a uint64
		}{
			{"RcvdPriZeroPackets", b.RcvdPriZeroPackets, a.RcvdPriZeroPackets},
			{"AdvIntervalErrors", b.AdvIntervalErrors, a.AdvIntervalErrors},
			{"IPTTLErrors", b.IPTTLErrors, a.IPTTLErrors},
			{"AddressListErrors", b.AddressListErrors, a.AddressListErrors},
			{"PacketLengthErrors", b.PacketLengthErrors, a.PacketLengthErrors},
			{"RcvdInvalidTypePackets", b.RcvdInvalidTypePackets, a.RcvdInvalidTypePackets},
			{"Router.ChecksumErrors", rb.ChecksumErrors, ra.ChecksumErrors},
			{"Router.VersionErrors", rb.VersionErrors, ra.VersionErrors},
			{"Router.VRIDErrors", rb.VRIDErrors, ra.VRIDErrors},
			{"Router.TTLErrors", rb.TTLErrors, ra.TTLErrors},
			{"Router.ShortPackets", rb.ShortPackets, ra.ShortPackets},
			{"Router.ReadErrors", rb.ReadErrors, ra.ReadErrors},
		} {
			if c.a != c.b {
				t.Errorf("%s: %s %d -> %d during the impairment", name, c.what, c.b, c.a)
			}
		}
	}
	// The longest silence the relay can cause: an interval, plus a frame
	// held back by ReorderDelay, plus the jitter.
	relayMax := impairInterval + imp.ReorderDelay + imp.Jitter
	// A takeover needs a silence of at least three intervals (RFC 9568
	// section 6.1: Master_Down_Interval is more than that).
	broken := maxGap >= 3*impairInterval && probe.Loaded(gapEnd.Add(-maxGap), gapEnd, maxGap-relayMax)
	for _, e := range premise {
		if broken {
			t.Logf("LOADED %s: the relay left %s silent for %v on the wire (it should cause at most %v; %s), so a backup's takeover is what the RFC predicts: reported, not failed",
				e, h1.Name, maxGap, relayMax, probe.Describe(gapEnd.Add(-maxGap), gapEnd))
		} else {
			t.Errorf("%s (longest silence of %s on the wire %v)", e, h1.Name, maxGap)
		}
	}
	checkNothingLeft(t, []*netlab.Host{lab.Host(1), lab.Host(2), lab.Host(3)}, []netip.Addr{impairVIP.Addr()})
}

// impairLong: vrrpd on host 1 (priority 200) and host 2 (100), VRRPv3,
// 100 ms, and an observer; host 1's link gets a delay far longer than
// host 2's Master_Down_Interval (361 ms), both ways.
//
// What RFC 9568 predicts, phase by phase:
//
//  1. Delay 1 s. Host 2 hears nothing for Master_Down_Interval and
//     becomes Master (section 6.4.2), while host 1 stays Master: a split
//     brain, both holding the address. Host 1 hears host 2's adverts only
//     1 s later and discards them (lower priority, section 6.4.3). The
//     split ends by itself, with the delay still there: about 1 s after
//     the delay began, host 1's advertisements arrive again, one per
//     interval, and host 2, seeing a higher priority, goes back to Backup
//     (section 6.4.3). From then on a constant delay is invisible: the
//     stream is regular, only late.
//  2. The delay is removed. The relay drops what it still held, so host
//     2's last advertisement from host 1 is followed by a fresh one within
//     an interval: nothing changes.
//  3. Delay 3 s, removed as soon as the split brain shows (host 2 Master,
//     about 361 ms in, long before the delayed adverts could end it).
//     Host 1's next advertisement, within one Advertisement_Interval of
//     the removal, reaches host 2, which goes back to Backup at once
//     (section 6.4.3).
//
// Checked: the transitions of both (host 1 never leaves Master; host 2
// goes Backup, Master, Backup, Master, Backup); both holding the address
// during each split; on the wire, each takeover by host 2 came between 3
// intervals and Master_Down_Interval plus max(100ms, 50%) after the last
// advertisement of host 1 it could hear; each split ended (host 2's last
// advertisement) within half an interval of host 1's first advertisement
// to reach the LAN again, and in phase 3 that was within an
// Advertisement_Interval plus max(100ms, 50%) of the removal; at the end
// the address is on host 1 only.
func impairLong(t *testing.T, seed uint64) {
	lab, ds, capture := impairLAN(t, 200, 100)
	probe := watchAll(t, ds)
	h1, h2 := lab.Host(1), lab.Host(2)
	d1, d2 := ds[0], ds[1]
	tr1, tr2 := d1.States(""), d2.States("")

	split := func(what string) {
		t.Helper()
		var last string
		took, ok := waitFor(settleTimeout, func() bool {
			last = impairStates(t, ds)
			return last == fmt.Sprintf(" %s=MASTER/vip:true %s=MASTER/vip:true", h1.Name, h2.Name)
		})
		if !ok {
			t.Fatalf("%s: no split brain after %v:%s", what, took, last)
		}
		t.Logf("%s: split brain (both MASTER with the address) %v after the delay began", what, took.Round(time.Millisecond))
	}
	quiet := func(what string, d time.Duration) {
		t.Helper()
		n1, n2 := len(d1.States("")), len(d2.States(""))
		time.Sleep(d)
		if m1, m2 := len(d1.States("")), len(d2.States("")); m1 != n1 || m2 != n2 {
			t.Errorf("%s: transitions while nothing should change: %s %v, %s %v", what, h1.Name, d1.States(""), h2.Name, d2.States(""))
		}
	}

	// Phase 1.
	link := h1.Impair(t, seed, netlab.Impairment{Delay: time.Second})
	at1 := time.Now()
	split("phase 1, delay 1s")
	impairSettle(t, "phase 1, delay 1s still on", ds, 0)
	t.Logf("phase 1: one master again %v after the delay began, the delay still on", time.Since(at1).Round(time.Millisecond))
	quiet("phase 1, steady delay", time.Second)

	// Phase 2.
	if err := link.Remove(); err != nil {
		t.Fatal(err)
	}
	at2 := time.Now()
	quiet("phase 2, delay removed", time.Second)

	// Phase 3.
	link = h1.Impair(t, seed+1, netlab.Impairment{Delay: 3 * time.Second})
	at3 := time.Now()
	split("phase 3, delay 3s")
	if err := link.Remove(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	t.Logf("phase 3: delay removed %v after it began; the relay dropped %d frames it held", healed.Sub(at3).Round(time.Millisecond), link.Stats(netlab.FromHost).Flushed)
	impairSettle(t, "phase 3, delay removed", ds, 0)
	quiet("phase 3, after", 3*impairInterval)
	end := time.Now()

	if got := d1.States(""); strings.Join(got, " ") != strings.Join(tr1, " ") {
		t.Errorf("%s: transitions %v, want %v: it must never leave MASTER", h1.Name, got, tr1)
	}
	if got, want := strings.Join(d2.States(""), " "), strings.Join(append(tr2, "MASTER", "BACKUP", "MASTER", "BACKUP"), " "); got != want {
		t.Errorf("%s: transitions %s, want %s", h2.Name, got, want)
	}
	for _, h := range lab.Hosts() {
		if has := vrrpdtest.HasAddr(t, h, impairVIP.Addr()); has != (h == h1) {
			t.Errorf("%s: holds the virtual address: %v at the end", h.Name, has)
		}
	}
	// Host 2 first: host 1's priority 0 would make it master.
	d2.Stop()
	d1.Stop()
	pkts := capture.Stop()

	bound := takeoverBound(100, impairInterval)
	endMargin := impairInterval / 2
	for _, ph := range []struct {
		name       string
		from, till time.Time
	}{{"phase 1", at1, at2}, {"phase 3", at3, end}} {
		last1, ok := pkts.LastAdvertBefore(h1.Addr4, ph.from)
		if !ok {
			t.Errorf("%s: no advert of %s before the delay", ph.name, h1.Name)
			continue
		}
		first2, ok := pkts.FirstAdvertAfter(h2.Addr4, ph.from)
		if !ok || first2.Time.After(ph.till) {
			t.Errorf("%s: no advert of %s after the delay began", ph.name, h2.Name)
			continue
		}
		lat := first2.Time.Sub(last1.Time)
		t.Logf("%s: %s took over %v after the last advert of %s it heard (Master_Down_Interval %v, bound %v)",
			ph.name, h2.Name, lat.Round(time.Millisecond), h1.Name, masterDownInterval(100, impairInterval), bound)
		switch {
		case lat < 3*impairInterval:
			t.Errorf("%s: %s took over %v after the last advert of %s; want between %v and %v",
				ph.name, h2.Name, lat, h1.Name, 3*impairInterval, bound)
		case lat > bound:
			lateOrLoaded(t, probe, last1.Time, first2.Time, lat-bound, "%s: %s took over %v after the last advert of %s; want between %v and %v",
				ph.name, h2.Name, lat, h1.Name, 3*impairInterval, bound)
		}
		// The split ends with the first advert of host 1 to reach the LAN
		// again: the first delayed one (phase 1) or the first after the
		// removal (phase 3).
		back, ok := pkts.FirstAdvertAfter(h1.Addr4, first2.Time)
		if !ok {
			t.Errorf("%s: no advert of %s after %s took over", ph.name, h1.Name, h2.Name)
			continue
		}
		var last2 keepalived.Packet
		for _, a := range pkts.Adverts(h2.Addr4) {
			if a.Time.After(ph.from) && a.Time.Before(ph.till) && a.Priority > 0 {
				last2 = a
			}
		}
		t.Logf("%s: split brain on the wire from %v to %v after the delay began; %s was heard again at %v",
			ph.name, first2.Time.Sub(ph.from).Round(time.Millisecond), last2.Time.Sub(ph.from).Round(time.Millisecond),
			h1.Name, back.Time.Sub(ph.from).Round(time.Millisecond))
		if d := last2.Time.Sub(back.Time); d > endMargin {
			lateOrLoaded(t, probe, back.Time, last2.Time, d-endMargin, "%s: %s still advertised %v after hearing %s (priority 200) again; want it Backup at once (within %v)",
				ph.name, h2.Name, d, h1.Name, endMargin)
		}
		if ph.name == "phase 3" {
			heal := impairInterval + max(100*time.Millisecond, impairInterval/2)
			if d := last2.Time.Sub(healed); d > heal {
				lateOrLoaded(t, probe, healed, last2.Time, d-heal, "phase 3: split brain lasted %v after the delay was removed; want within %v (an Advertisement_Interval plus margin)", d, heal)
			}
			if d := back.Time.Sub(healed); d > heal {
				lateOrLoaded(t, probe, healed, back.Time, d-heal, "phase 3: %s heard again %v after the removal; want within %v", h1.Name, d, heal)
			}
		}
	}
	checkNothingLeft(t, []*netlab.Host{h1, h2}, []netip.Addr{impairVIP.Addr()})
}
