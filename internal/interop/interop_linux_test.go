//go:build linux

package interop

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
	"github.com/govrrp/govrrp/packet"
)

// labPrefix starts the name of every namespace these tests create.
const labPrefix = "iop"

// setups are the ways of running a virtual router that every scenario is
// run in. Each runs in a fresh lab, so VRIDs and VIPs need not differ;
// they do, to tell captures apart.
var setups = []setup{
	{name: "v3-ipv4", version: 3, interval: 100 * time.Millisecond, vrid: 51,
		vip: netip.MustParsePrefix("10.99.0.100/24"), csA: "pseudo", csB: "pseudo"},
	{name: "v3-ipv6", version: 3, ipv6: true, interval: 100 * time.Millisecond, vrid: 52,
		vip: netip.MustParsePrefix("fd99::100/64")},
	{name: "v3-ipv4-unicast", version: 3, unicast: true, interval: 100 * time.Millisecond, vrid: 53,
		vip: netip.MustParsePrefix("10.99.0.101/24"), csA: "pseudo", csB: "pseudo"},
	// The RFC 9568 message-only checksum form on every side: keepalived
	// here is the 2.2.8 or later build GOVRRP_KEEPALIVED_RFC9568 names
	// (built by internal/keepalived/build-keepalived.sh) with
	// v3_checksum_as_v2.
	{name: "v3-ipv4-rfc9568", version: 3, interval: 100 * time.Millisecond, vrid: 54,
		vip: netip.MustParsePrefix("10.99.0.104/24"), csA: "rfc9568", csB: "rfc9568", kaRFC9568: true},
	// Host 1 sends the RFC 9568 form, host 2 the pseudo-header form: each
	// must accept the other's, in every role.
	{name: "v3-ipv4-mixed-checksum", version: 3, interval: 100 * time.Millisecond, vrid: 55,
		vip: netip.MustParsePrefix("10.99.0.105/24"), csA: "rfc9568", csB: "pseudo", vrrpdOnly: true},
	{name: "v2", version: 2, interval: time.Second, vrid: 56,
		vip: netip.MustParsePrefix("10.99.0.102/24")},
	{name: "v2-auth", version: 2, interval: time.Second, authPass: "secret1", vrid: 57,
		vip: netip.MustParsePrefix("10.99.0.103/24")},
}

// A pairing says what runs on hosts 1 and 2.
type pairing struct{ h1, h2 string }

func (p pairing) name() string { return "h1-" + p.h1 + "_h2-" + p.h2 }

var pairings = []pairing{
	{"vrrpd", "keepalived"},
	{"keepalived", "vrrpd"},
	{"vrrpd", "vrrpd"},
}

// baseline is keepalived against itself: the reference that validates the
// tests' own expectations. It runs only with GOVRRP_INTEROP_BASELINE=1.
var baseline = pairing{"keepalived", "keepalived"}

// forEach runs f for every setup and pairing as subtests of t. The VRRPv2
// subtests run in parallel with each other (TestMain raises -parallel),
// after the VRRPv3 ones, which run one at a time.
func forEach(t *testing.T, f func(t *testing.T, s setup, p pairing)) {
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			if s.parallel() {
				t.Parallel()
			}
			ps := pairings
			if os.Getenv("GOVRRP_INTEROP_BASELINE") == "1" {
				ps = append(ps, baseline)
			}
			for _, p := range ps {
				if s.vrrpdOnly && (p.h1 != "vrrpd" || p.h2 != "vrrpd") {
					continue
				}
				t.Run(p.name(), func(t *testing.T) {
					if s.parallel() {
						t.Parallel()
					}
					requireAll(t, p.h1 == "vrrpd" || p.h2 == "vrrpd")
					keepalived.RequireTime(t, runNeed)
					if s.kaRFC9568 && (p.h1 == "keepalived" || p.h2 == "keepalived") {
						keepalived.RFC9568Binary(t)
					}
					f(t, s, p)
				})
			}
		})
	}
}

// TestLifecycle runs one virtual router through every role change, host
// 1 (priority 150) against host 2 (priority 100), with host 3 capturing:
//
//  1. host 1 starts and becomes master; host 2 starts later and stays
//     backup; the VIP is on host 1 only; host 2 sends nothing.
//  2. crash: host 1 is killed with SIGKILL; host 2 takes over within
//     Master_Down_Interval (plus a margin), measured on the wire from host
//     1's last advert to host 2's first, and announces the VIP (gratuitous
//     ARP / unsolicited NA).
//  3. preemption: host 1 starts again (the crash's stale VIP removed, as
//     a reboot would) and, with the higher priority, takes over; host 2
//     goes back to backup and stops advertising.
//  4. priority 0: host 1 gets SIGTERM; it sends a priority 0 advert and
//     removes the VIP, and host 2 takes over within Skew_Time (plus a
//     margin) of that advert.
//  5. nopreempt: host 1 starts again with -nopreempt / nopreempt and
//     stays backup, silent, for longer than its Master_Down_Interval.
//
// Every advert on the wire is then checked with the project's decoder
// (package packet) and with tshark: TTL 255, version, VRID, interval,
// address list, destination, authentication, checksum form per sender.
func TestLifecycle(t *testing.T) {
	forEach(t, func(t *testing.T, s setup, p pairing) { runLifecycle(t, s, p) })
}

// TestEqualPriority checks the tie-break of RFC 9568 Section 6.4.3 / RFC
// 3768 Section 6.4.3: two masters of equal priority (both 100, made by
// blocking VRRP on both hosts until both are master) meet when the
// network heals; the one with the higher primary address (host 2:
// 10.99.0.2 > 10.99.0.1, fe80::ff:fe00:2 > fe80::ff:fe00:1) stays master,
// the other becomes backup within about one advertisement interval.
func TestEqualPriority(t *testing.T) {
	forEach(t, func(t *testing.T, s setup, p pairing) { runEqual(t, s, p) })
}

// events are the times of what a test did.
type events struct {
	start1, start2  time.Time // first starts of hosts 1 and 2
	kill            time.Time // SIGKILL of host 1 sent ...
	killed          time.Time // ... and host 1 reaped: it sends nothing after this
	restart         time.Time // host 1 started again, preempting
	backupAgain     time.Time // ... and host 2 recorded BACKUP (its notify script ran)
	term            time.Time // SIGTERM to host 1
	nopreempt       time.Time // host 1 started again with nopreempt
	nopreemptBackup time.Time // ... and reported BACKUP
	end             time.Time
}

func runLifecycle(t *testing.T, s setup, p pairing) {
	lab := netlab.New(t, labPrefix, 3)
	capt := keepalived.StartCapture(t, lab.Host(3))
	probe := keepalived.StartSchedProbeT(t)
	h1, h2 := lab.Host(1), lab.Host(2)
	vip := s.vip.Addr()
	var ev events

	// 1. Host 1 master, host 2 backup.
	ev.start1 = time.Now()
	a := watch(probe, s.start(t, lab, 1, p.h1, 150, false))
	waitState(t, a, "MASTER")
	ev.start2 = time.Now()
	b := watch(probe, s.start(t, lab, 2, p.h2, 100, false))
	waitState(t, b, "BACKUP")
	// Longer than host 2's Master_Down_Interval: a backup that missed the
	// master's adverts would be master by now.
	time.Sleep(s.masterDown(100) + s.interval)
	s.checkRoles(t, a, b)

	// 2. Crash of the master.
	ev.kill = time.Now()
	a.Kill()
	ev.killed = time.Now()
	waitState(t, b, "MASTER")
	eventually(t, 2*time.Second, func() error {
		if !b.HasVIP(vip) {
			return fmt.Errorf("new master %s on h2 lacks VIP %v", b.Kind(), vip)
		}
		return nil
	})
	time.Sleep(s.pause())
	if vrrpdtest.RemoveAddr(t, h1, vip) {
		t.Logf("the crashed %s left VIP %v on h1 (removed, as a reboot would)", p.h1, vip)
	}

	// 3. Preemption by the higher priority, started later.
	ev.restart = time.Now()
	a2 := watch(probe, s.start(t, lab, 1, p.h1, 150, false))
	waitState(t, a2, "MASTER")
	ev.backupAgain = waitState(t, b, "BACKUP")
	time.Sleep(s.pause())
	s.checkRoles(t, a2, b)

	// 4. Priority 0 handover.
	ev.term = time.Now()
	a2.Stop()
	if vrrpdtest.HasAddr(t, h1, vip) {
		t.Errorf("%s on h1 still holds VIP %v after a graceful stop", p.h1, vip)
	}
	waitState(t, b, "MASTER")
	time.Sleep(s.pause())

	// 5. nopreempt: the higher priority started later stays backup.
	ev.nopreempt = time.Now()
	a3 := watch(probe, s.start(t, lab, 1, p.h1, 150, true))
	ev.nopreemptBackup = waitState(t, a3, "BACKUP")
	window := s.masterDown(150) + max(s.interval, 500*time.Millisecond)
	time.Sleep(window)
	s.checkRoles(t, b, a3)
	ev.end = time.Now()

	pkts := capt.Stop()
	checkWire(t, s, p, lab, capt)
	src1, src2 := s.src(h1), s.src(h2)

	// 1: host 2 silent while backup, host 1 at priority 150.
	for _, x := range pkts.Adverts(src2) {
		if x.Time.After(ev.start2) && x.Time.Before(ev.kill) {
			t.Errorf("phase 1: backup %s on h2 advertised at %v (priority %d)", p.h2, x.Time.Format(tsFormat), x.Priority)
			break
		}
	}
	if n := countAdverts(pkts, src1, ev.start1, ev.kill, 150); n < 3 {
		t.Errorf("phase 1: %d priority-150 adverts from master h1, want >= 3", n)
	}

	// 2: crash takeover, from h1's real last advert: the one before it
	// was reaped (killing the process tree takes a while on a loaded
	// machine, and a master sends an advert every interval until then).
	last, ok := pkts.LastAdvertBefore(src1, ev.killed)
	if !ok {
		t.Fatalf("crash: no advert from h1 (%v) before the kill", src1)
	}
	for _, x := range pkts.Adverts(src1) {
		if x.Time.After(ev.killed.Add(50*time.Millisecond)) && x.Time.Before(ev.restart) {
			t.Errorf("crash: the killed %s on h1 sent an advert at %v (%v after it was reaped), priority %d",
				p.h1, x.Time.Format(tsFormat), x.Time.Sub(ev.killed), x.Priority)
			break
		}
	}
	first, ok := pkts.FirstAdvertAfter(src2, last.Time)
	if !ok || !first.Time.Before(ev.restart) {
		t.Fatalf("crash: no advert from h2 (%v) between h1's last advert and h1's restart", src2)
	}
	if first.Priority != 100 {
		t.Errorf("crash: new master's first advert has priority %d, want 100", first.Priority)
	}
	takeover := first.Time.Sub(last.Time)
	bound := s.masterDown(100)
	t.Logf("MEASURED %s %s crash takeover (%s -> %s): %v (Master_Down_Interval %v, allowed %v..%v)",
		s.name, p.name(), p.h1, p.h2, takeover, bound, bound-margin(bound), bound+margin(bound))
	checkWithin(t, probe, "crash takeover (h1's last advert to h2's first)", last.Time, first.Time, bound)
	// From the kill: h1, master until then, may have sent its second
	// burst of gratuitous ARPs after its last advertisement.
	checkAnnounced(t, s, pkts, vip, h2, ev.kill, ev.restart, "crash takeover")

	// 3: preemption.
	pre, ok := pkts.FirstAdvertAfter(src1, ev.restart)
	if !ok || !pre.Time.Before(ev.term) {
		t.Fatalf("preemption: no advert from the restarted h1")
	}
	if pre.Priority != 150 {
		t.Errorf("preemption: h1's first advert has priority %d, want 150", pre.Priority)
	}
	// h2, master until it reads h1's first advert, leaves MASTER when
	// it has processed it: by its own record (log, notify script).
	left, how := leftMaster(b, ev.restart, ev.backupAgain)
	t.Logf("MEASURED %s %s preemption: h1 restarted, first advert after %v (its Master_Down_Interval %v); h2 left MASTER %v after that advert (%s)",
		s.name, p.name(), pre.Time.Sub(ev.restart), s.masterDown(150), left.Sub(pre.Time), how)
	// h2 was master from before h1's first advert until left, and again
	// wherever its own record says it took over once more (on a starved
	// machine it can miss h1's adverts for Master_Down_Interval): it may
	// advertise and announce then, and only then.
	spans := append([]span{{pre.Time.Add(-time.Millisecond), left}}, masterAgain(b, left, ev.term)...)
	for i := range spans {
		spans[i].to = spans[i].to.Add(roundGrace)
	}
	if len(spans) > 1 {
		t.Logf("preemption: h2 took over again by its own record %d times before SIGTERM to h1: %v", len(spans)-1, spans[1:])
	}
	for _, x := range pkts.After(pre.Time).Adverts(src2) {
		if x.Time.Before(ev.term) && !inSpans(spans, x.Time) {
			t.Errorf("preemption: h2 advertised at %v (priority %d), when by its own record (%s) it was not master: master %v",
				x.Time.Format(tsFormat), x.Priority, how, spans)
			break
		}
	}
	if lastB, ok := pkts.LastAdvertBefore(src2, left.Add(time.Nanosecond)); ok && lastB.Time.After(pre.Time) {
		if late := lastB.Time.Sub(pre.Time); late > stopAdvertising {
			if probe.Loaded(pre.Time, lastB.Time, late-stopAdvertising) {
				t.Logf("LOADED preemption: h2 still advertised %v after h1's first advert (at %v), more than %v; the machine was loaded (%s): reported, not failed",
					late, lastB.Time.Format(tsFormat), stopAdvertising, probe.Describe(pre.Time, lastB.Time))
			} else {
				t.Errorf("preemption: h2 still advertised %v after h1's first advert (at %v), want <= %v",
					late, lastB.Time.Format(tsFormat), stopAdvertising)
			}
		}
	}
	checkAnnouncedOld(t, s, pkts, vip, h1, h2, spans, pre.Time.Add(-time.Millisecond), ev.term, "preemption")

	// 4: priority 0. Until h1 has handled SIGTERM (its log says when),
	// a regular advert may still go out (its timer fired first); after
	// that its first advert has priority 0.
	handled, how := handledStop(a2, ev.term)
	var zero keepalived.Packet
	for _, x := range pkts.After(ev.term).Adverts(src1) {
		if x.Priority == 0 {
			zero = x
			break
		}
		if x.Time.After(handled) {
			t.Fatalf("priority 0: h1's advert at %v after SIGTERM has priority %d, want 0: h1 had handled SIGTERM at %v (%s)",
				x.Time.Format(tsFormat), x.Priority, handled.Format(tsFormat), how)
		}
		t.Logf("priority 0: h1's advert at %v (priority %d) went out after SIGTERM, before h1 handled it at %v (%s)",
			x.Time.Format(tsFormat), x.Priority, handled.Format(tsFormat), how)
	}
	if zero.Time.IsZero() {
		t.Fatalf("priority 0: no priority 0 advert from h1 after SIGTERM")
	}
	for _, x := range pkts.After(zero.Time).Adverts(src1) {
		if x.Priority != 0 && x.Time.Before(ev.nopreempt) {
			t.Errorf("priority 0: h1 advertised priority %d at %v, after its priority 0 advert", x.Priority, x.Time.Format(tsFormat))
			break
		}
	}
	hand, ok := pkts.FirstAdvertAfter(src2, zero.Time)
	if !ok || hand.Priority != 100 {
		t.Fatalf("priority 0: h2's first advert after h1's priority 0: %+v (found %v), want priority 100", hand, ok)
	}
	handover := hand.Time.Sub(zero.Time)
	skew := s.skew(100)
	t.Logf("MEASURED %s %s priority-0 handover (%s -> %s): %v (Skew_Time %v, allowed %v..%v)",
		s.name, p.name(), p.h1, p.h2, handover, skew, skew-margin(skew), skew+margin(skew))
	checkWithin(t, probe, "priority-0 handover (h1's priority 0 advert to h2's first)", zero.Time, hand.Time, skew)
	checkAnnounced(t, s, pkts, vip, h2, zero.Time, ev.nopreempt, "priority-0 handover")

	// 5: nopreempt: h1 silent, h2 advertising all along.
	for _, x := range pkts.Adverts(src1) {
		if x.Time.After(ev.nopreempt) {
			t.Errorf("nopreempt: h1 (priority 150, nopreempt) advertised at %v, priority %d", x.Time.Format(tsFormat), x.Priority)
			break
		}
	}
	if n, want := countAdverts(pkts, src2, ev.nopreemptBackup, ev.end, 100), int(window/s.interval)/2; n < want {
		t.Errorf("nopreempt: %d adverts from master h2 in %v, want >= %d", n, window, want)
	}
}

func runEqual(t *testing.T, s setup, p pairing) {
	lab := netlab.New(t, labPrefix, 3)
	capt := keepalived.StartCapture(t, lab.Host(3))
	probe := keepalived.StartSchedProbeT(t)
	h1, h2 := lab.Host(1), lab.Host(2)
	vip := s.vip.Addr()
	for _, h := range []*netlab.Host{h1, h2} {
		if err := h.BlockVRRP(); err != nil {
			t.Fatal(err)
		}
	}
	n1 := watch(probe, s.start(t, lab, 1, p.h1, 100, false))
	n2 := watch(probe, s.start(t, lab, 2, p.h2, 100, false))
	waitState(t, n1, "MASTER")
	waitState(t, n2, "MASTER")
	if !n1.HasVIP(vip) || !n2.HasVIP(vip) {
		t.Errorf("partitioned: both masters should hold VIP %v: h1 %v, h2 %v", vip, n1.HasVIP(vip), n2.HasVIP(vip))
	}
	time.Sleep(s.pause())
	if err := lab.Heal(); err != nil {
		t.Fatal(err)
	}
	// The network is whole once Heal has removed the rules on both hosts
	// (an nft run each, which can take a while on a loaded machine).
	heal := time.Now()
	waitState(t, n1, "BACKUP")
	time.Sleep(s.masterDown(100) + s.interval)
	s.checkRoles(t, n2, n1)
	end := time.Now()

	pkts := capt.Stop()
	checkWire(t, s, p, lab, capt)
	src1, src2 := s.src(h1), s.src(h2)

	// h1 stops advertising once it hears h2 (at most one of h2's
	// intervals after the heal).
	last1, ok := pkts.LastAdvertBefore(src1, end)
	if !ok {
		t.Fatal("no advert from h1")
	}
	stop := last1.Time.Sub(heal)
	t.Logf("MEASURED %s %s equal priority: h1 (lower address) stopped advertising %v after the heal", s.name, p.name(), stop)
	if want := s.interval + margin(s.interval); stop > want {
		if probe.Loaded(heal, last1.Time, stop-want) {
			t.Logf("LOADED h1 (lower address) still advertised %v after the heal, want <= %v; the machine was loaded (%s): reported, not failed",
				stop, want, probe.Describe(heal, last1.Time))
		} else {
			t.Errorf("h1 (lower address) still advertised %v after the heal, want <= %v", stop, want)
		}
	}
	if n := countAdverts(pkts, src2, heal, end, 100); n < int(end.Sub(heal)/s.interval)/2 {
		t.Errorf("h2 (higher address) sent %d adverts in the %v after the heal", n, end.Sub(heal))
	}
	// h2 never stepped down.
	st := n2.States()
	if i := slices.Index(st, "MASTER"); i < 0 || i != len(st)-1 {
		t.Errorf("h2 (higher address) reported states %v, want MASTER last and nothing after it", st)
	}
}

const tsFormat = "15:04:05.000000"

// roundGrace is how long after its record of leaving MASTER a daemon may
// still send what it had queued before: vrrpd logs the transition while
// it processes a round of events and sends that round's queued
// advertisement at its end (a loaded run captured one 136 µs after the
// log line's time).
const roundGrace = 10 * time.Millisecond

// stopAdvertising is how soon after the new master's first advertisement
// the old master stops advertising on an unloaded machine: it reads the
// advertisement and goes to Backup (RFC 9568 Section 6.4.3).
const stopAdvertising = 50 * time.Millisecond

// checkWithin checks that a duration measured on the wire from from to
// to is within margin(bound) of the RFC figure bound. Sooner is always
// an error (no load makes a daemon early); later is reported instead
// when probe saw the machine loaded enough in [from, to] to explain the
// excess (keepalived.SchedProbe.Loaded).
func checkWithin(t *testing.T, probe *keepalived.SchedProbe, what string, from, to time.Time, bound time.Duration) {
	t.Helper()
	got, m := to.Sub(from), margin(bound)
	switch {
	case got < bound-m:
		t.Errorf("%s took %v, want %v +/- %v", what, got, bound, m)
	case got > bound+m && probe.Loaded(from, to, got-bound-m):
		t.Logf("LOADED %s took %v, want %v +/- %v; the machine was loaded (%s): reported, not failed",
			what, got, bound, m, probe.Describe(from, to))
	case got > bound+m:
		t.Errorf("%s took %v, want %v +/- %v (%s)", what, got, bound, m, probe.Describe(from, to))
	}
}

// countAdverts counts the adverts from src in (from, to) with priority prio.
func countAdverts(pkts keepalived.Packets, src netip.Addr, from, to time.Time, prio int) int {
	n := 0
	for _, x := range pkts.Adverts(src) {
		if x.Time.After(from) && x.Time.Before(to) && x.Priority == prio {
			n++
		}
	}
	return n
}

// checkAnnounced checks that the observer saw a gratuitous ARP /
// unsolicited NA for vip from the new master h in (from, to), and none
// from another host.
func checkAnnounced(t *testing.T, s setup, pkts keepalived.Packets, vip netip.Addr, h *netlab.Host, from, to time.Time, what string) {
	t.Helper()
	checkAnnouncedOld(t, s, pkts, vip, h, nil, nil, from, to, what)
}

// checkAnnouncedOld is checkAnnounced for a takeover from a master that
// learns of it from the wire (preemption): the old master old may still
// announce vip from its own MAC until oldUntil, when it had processed the
// new master's first advertisement (a burst it had scheduled before can
// go out while that advertisement is on its way), and not after; oldMaster
// are the spans in which old was master by its own record.
func checkAnnouncedOld(t *testing.T, s setup, pkts keepalived.Packets, vip netip.Addr, h, old *netlab.Host, oldMaster []span, from, to time.Time, what string) {
	t.Helper()
	w := announceWindow{vip: vip, from: from, to: to, newMACs: s.announcerMACs(h), newName: h.Name}
	if old != nil {
		w.oldMAC, w.oldMaster = old.MAC.String(), oldMaster
	}
	n, errs := w.check(pkts)
	for _, e := range errs {
		t.Errorf("%s: %s", what, e)
	}
	if n > 0 {
		t.Logf("%s: %d announcements for %v from %s", what, n, vip, h.Name)
	}
}

// An announceWindow says who may announce vip (gratuitous ARP /
// unsolicited NA) in [from, to): the new master, from one of newMACs, all
// along, and at least once; the old master, from oldMAC (if not empty),
// within oldMaster, when it was master by its own record; nobody else.
type announceWindow struct {
	vip       netip.Addr
	from, to  time.Time
	newMACs   []string
	newName   string
	oldMAC    string
	oldMaster []span
}

// A span is a time interval, both ends included.
type span struct{ from, to time.Time }

func (s span) String() string { return s.from.Format(tsFormat) + ".." + s.to.Format(tsFormat) }

func inSpans(ss []span, t time.Time) bool {
	for _, s := range ss {
		if !t.Before(s.from) && !t.After(s.to) {
			return true
		}
	}
	return false
}

// check returns the new master's announcements in the window and what is
// wrong with the capture.
func (w announceWindow) check(pkts keepalived.Packets) (int, []string) {
	var errs []string
	n := 0
	for _, g := range pkts.After(w.from).GARPs(w.vip) {
		if !g.Time.Before(w.to) {
			break
		}
		mac := g.SrcMAC.String()
		switch {
		case slices.Contains(w.newMACs, mac):
			n++
		case w.oldMAC != "" && mac == w.oldMAC && inSpans(w.oldMaster, g.Time):
			// Sent while the old master was master by its own record:
			// before it had processed the new master's first
			// advertisement.
		case w.oldMAC != "" && mac == w.oldMAC:
			errs = append(errs, fmt.Sprintf("announcement for %v at %v from the old master's MAC %v, after it had left MASTER (master by its own record: %v)",
				w.vip, g.Time.Format(tsFormat), g.SrcMAC, w.oldMaster))
		default:
			errs = append(errs, fmt.Sprintf("announcement for %v at %v from MAC %v, want one of %v (%s)",
				w.vip, g.Time.Format(tsFormat), g.SrcMAC, w.newMACs, w.newName))
		}
	}
	if n == 0 {
		errs = append(errs, fmt.Sprintf("no gratuitous ARP / unsolicited NA for %v from %s", w.vip, w.newName))
	}
	return n, errs
}

// checkWire checks every VRRP packet of the capture, decoded by package
// packet and by tshark. It returns the decoded packets.
func checkWire(t *testing.T, s setup, p pairing, lab *netlab.Lab, capt *keepalived.Capture) []wireAdvert {
	t.Helper()
	pkts := capt.Stop().Adverts(netip.Addr{})
	w, err := decodeCapture(capt.File)
	if err != nil {
		t.Fatalf("decode %s: %v", capt.File, err)
	}
	if len(w) != len(pkts) {
		t.Fatalf("capture: package packet sees %d VRRP packets, tshark %d", len(w), len(pkts))
	}
	h1, h2 := lab.Host(1), lab.Host(2)
	form := map[netip.Addr]packet.Checksum{}
	form[s.src(h1)], _ = s.form(p.h1, 1)
	form[s.src(h2)], _ = s.form(p.h2, 2)
	dsts := []netip.Addr{packet.GroupIPv4}
	if s.ipv6 {
		dsts = []netip.Addr{packet.GroupIPv6}
	}
	if s.unicast {
		dsts = []netip.Addr{s.addrOf(h1), s.addrOf(h2), s.addrOf(lab.Host(3))}
	}
	var auth [packet.AuthDataLen]byte
	authType := packet.AuthNone
	if s.authPass != "" {
		copy(auth[:], s.authPass)
		authType = packet.AuthPass
	}
	// tshark checks the VRRPv3 IPv4 checksum in the pseudo-header form
	// unless told otherwise: it must call the pseudo-header form good and
	// the RFC 9568 message-only form bad, and the reverse with
	// vrrp.v3_checksum_as_in_v2.
	// The two tshark passes are independent: run them side by side (each
	// takes seconds on a loaded machine, and every run of every scenario
	// makes them).
	var (
		stV2   []int
		errV2  error
		v2Done = make(chan struct{})
	)
	go func() {
		defer close(v2Done)
		stV2, errV2 = tsharkChecksums(capt.File, "-o", "vrrp.v3_checksum_as_in_v2:TRUE")
	}()
	st, err := tsharkChecksums(capt.File)
	<-v2Done
	if err != nil {
		t.Fatal(err)
	}
	if errV2 != nil {
		t.Fatal(errV2)
	}
	if len(st) != len(w) || len(stV2) != len(w) {
		t.Fatalf("tshark: %d and %d checksum statuses for %d VRRP packets", len(st), len(stV2), len(w))
	}
	var (
		errs  int
		forms = map[netip.Addr]map[packet.Checksum]int{}
	)
	bad := func(x wireAdvert, format string, args ...any) {
		t.Helper()
		if errs++; errs <= 10 {
			t.Errorf("frame %d from %v at %v: %s", x.Number, x.Src, x.Time.Format(tsFormat), fmt.Sprintf(format, args...))
		}
	}
	for i, x := range w {
		want, ours := form[x.Src]
		if !ours {
			bad(x, "VRRP packet from an unexpected source (to %v)", x.Dst)
			continue
		}
		if x.Err != nil {
			bad(x, "package packet rejects it: %v", x.Err)
			continue
		}
		a := x.Adv
		if forms[x.Src] == nil {
			forms[x.Src] = map[packet.Checksum]int{}
		}
		forms[x.Src][x.Info.Checksum]++
		if x.Info.Checksum != want {
			bad(x, "checksum in the %v form, want %v", x.Info.Checksum, want)
		}
		wantTshark, wantTsharkV2 := 1, 1
		if s.version == 3 && !s.ipv6 {
			if x.Info.Checksum == packet.ChecksumMessage {
				wantTshark = 0
			} else {
				wantTsharkV2 = 0
			}
		}
		if st[i] != wantTshark || (s.version == 3 && !s.ipv6 && stV2[i] != wantTsharkV2) {
			bad(x, "tshark checksum status %d (%d with v3_checksum_as_in_v2), want %d (%d) for the %v form",
				st[i], stV2[i], wantTshark, wantTsharkV2, x.Info.Checksum)
		}
		if x.TTL != packet.TTL {
			bad(x, "TTL / hop limit %d, want 255", x.TTL)
		}
		if !slices.Contains(dsts, x.Dst) {
			bad(x, "destination %v, want one of %v", x.Dst, dsts)
		}
		if int(a.Version) != s.version || int(a.VRID) != s.vrid || a.Interval() != s.interval {
			bad(x, "version %d VRID %d interval %v, want %d, %d, %v", a.Version, a.VRID, a.Interval(), s.version, s.vrid, s.interval)
		}
		if !slices.Equal(a.Addrs, []netip.Addr{s.vip.Addr()}) {
			bad(x, "addresses %v, want [%v]", a.Addrs, s.vip.Addr())
		}
		if s.version == 2 && (a.AuthType != authType || a.AuthData != auth) {
			bad(x, "auth type %d data %q, want %d %q", a.AuthType, a.AuthData[:], authType, auth[:])
		}
	}
	if errs > 10 {
		t.Errorf("... %d more wire errors", errs-10)
	}
	t.Logf("wire: %d VRRP packets; checksum forms by sender: %v", len(w), forms)
	return w
}
