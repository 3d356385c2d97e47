package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/govrrp/govrrp/internal/sim"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// maxRouters keeps the priorities distinct and the output readable.
const maxRouters = 20

// run is the program: it parses args, runs the scenario and returns the
// exit code (0: every check passed, 1: a check failed, 2: bad flags).
func run(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	routers := fs.Int("routers", 3, fmt.Sprintf("number of routers, 2-%d; priorities are spread from 200 down to 100", maxRouters))
	interval := fs.Duration("interval", time.Second, "advertisement interval: a multiple of 10ms from 10ms to 40.95s (VRRPv3)")
	loss := fs.Float64("loss", 0, "probability, from 0 to below 1, that an advertisement is lost on a link; exact-time checks become bounds")
	seed := fs.Uint64("seed", 1, "seed of the random source that decides losses")
	realtime := fs.Bool("realtime", false, "pace the virtual clock with real time, to watch it live")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stdout, "simulate: unexpected arguments %q\n", fs.Args())
		return 2
	case *routers < 2 || *routers > maxRouters:
		fmt.Fprintf(stdout, "simulate: -routers %d: want 2 to %d\n", *routers, maxRouters)
		return 2
	case *interval < 10*time.Millisecond || *interval > 40950*time.Millisecond || *interval%(10*time.Millisecond) != 0:
		fmt.Fprintf(stdout, "simulate: -interval %v: want a multiple of 10ms from 10ms to 40.95s\n", *interval)
		return 2
	case !(*loss >= 0 && *loss < 1):
		fmt.Fprintf(stdout, "simulate: -loss %v: want 0 to below 1\n", *loss)
		return 2
	}
	d, err := newDemo(stdout, *routers, *interval, *loss, *seed, *realtime)
	if err != nil {
		fmt.Fprintf(stdout, "simulate: %v\n", err)
		return 2
	}
	return d.play()
}

// The virtual routers every router runs: one IPv4 and one IPv6, both
// VRID 1 (independent, RFC 9568 section 7.1).
var (
	vr4 = sim.VR{VRID: 1}
	vr6 = sim.VR{V6: true, VRID: 1}
)

var vips = map[sim.VR][]netip.Addr{
	vr4: {netip.MustParseAddr("192.0.2.1")},
	// The link-local virtual address first, RFC 9568 section 5.2.9.
	vr6: {netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8::1")},
}

type demo struct {
	out      io.Writer
	s        *sim.Sim
	names    []string
	prios    []uint8
	vrs      []sim.VR
	iv       time.Duration
	loss     float64
	seed     uint64
	realtime bool
	wall     time.Time // real time at virtual time 0 (-realtime)

	becameMaster map[string]time.Duration // node+VR -> last time it became master
	pass, fail   int
}

func newDemo(out io.Writer, n int, iv time.Duration, loss float64, seed uint64, realtime bool) (*demo, error) {
	d := &demo{
		out: out, iv: iv, loss: loss, seed: seed, realtime: realtime,
		vrs:          []sim.VR{vr4, vr6},
		becameMaster: make(map[string]time.Duration),
	}
	d.s = sim.New(seed, sim.Config{Link: memnet.Link{Loss: loss}, OnRecord: d.print})
	for i := range n {
		name := fmt.Sprintf("R%d", i+1)
		prio := uint8(200 - i*100/(n-1))
		d.names = append(d.names, name)
		d.prios = append(d.prios, prio)
		a4 := netip.AddrFrom4([4]byte{192, 0, 2, byte(11 + i)})
		a6 := netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(0x11 + i)})
		if err := d.s.AddNode(name, a4, a6); err != nil {
			return nil, err
		}
		for _, vr := range d.vrs {
			cfg := vrrp.Config{VRID: vr.VRID, Priority: prio, Version: 3, AdvertInterval: iv, Addrs: vips[vr]}
			if err := d.s.AddVR(name, cfg); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// mdi is Master_Down_Interval for a priority, RFC 9568 section 6.1, at
// full precision: 3 x interval + (256 - priority) x interval / 256.
func (d *demo) mdi(prio uint8) time.Duration { return 3*d.iv + d.skew(prio) }

func (d *demo) skew(prio uint8) time.Duration {
	return time.Duration(256-int64(prio)) * d.iv / 256
}

func (d *demo) play() int {
	I := d.iv
	s := d.s
	r1, r2 := d.names[0], d.names[1]
	p1, p2 := d.prios[0], d.prios[1]
	mode := "virtual time"
	if d.realtime {
		mode = "real time"
		d.wall = time.Now()
	}
	fmt.Fprintf(d.out, "govrrp simulate: %d routers, VRRPv3, interval %v, loss %g, seed %d, %s\n\n", len(d.names), I, d.loss, d.seed, mode)
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  router\tpriority\tIPv4\tIPv6 link-local")
	for i, n := range d.names {
		c4, c6 := s.Config(n, vr4), s.Config(n, vr6)
		fmt.Fprintf(tw, "  %s\t%d\t%v\t%v\n", n, d.prios[i], c4.Primary, c6.Primary)
	}
	tw.Flush()
	fmt.Fprintf(d.out, "  virtual routers: %v (%v), %v (%v)\n", vr4, addrList(vips[vr4]), vr6, addrList(vips[vr6]))
	if d.loss > 0 {
		fmt.Fprintf(d.out, "  with loss %g, a time that depends on one advertisement arriving is checked as a bound\n", d.loss)
	}

	// 1. Election.
	d.step("1. Election",
		fmt.Sprintf("every router starts as Backup; %s (priority %d) has the shortest Master_Down_Interval,", r1, p1),
		fmt.Sprintf("3 x %v + Skew_Time %v = %s, and becomes master then", I, d.skew(p1), ts(d.mdi(p1))))
	for _, n := range d.names {
		s.Start(n)
	}
	d.runUntil(8 * I)
	for _, vr := range d.vrs {
		d.checkTakeover(vr, 0, r1, d.mdi(p1), true, fmt.Sprintf("start + Master_Down_Interval(%d)", p1))
		if d.loss == 0 {
			d.checkMasters(vr, r1)
		}
	}

	// 2. The master crashes.
	crash := 10 * I
	d.step("2. The master crashes",
		fmt.Sprintf("%s stops without a word; %s (priority %d) takes over Master_Down_Interval %v after", r1, r2, p2, d.mdi(p2)),
		"the last advertisement it heard"+when(len(d.names) > 2, fmt.Sprintf("; the others, with a longer Skew_Time, hear %s first", r2)))
	d.runUntil(crash)
	s.Crash(r1)
	d.takeoverAfterSilence(crash, r1, r2, p2, 18*I)

	// 3. The old master returns and preempts.
	back := 20 * I
	d.step("3. The old master returns",
		fmt.Sprintf("%s restarts as Backup, discards the lower-priority advertisements of %s and preempts when", r1, r2),
		fmt.Sprintf("its Master_Down_Timer fires: %s later", ts(d.mdi(p1))))
	d.runUntil(back)
	s.Restart(r1)
	d.preempt(back, r1, p1, r2, 28*I)

	// 4. Graceful shutdown: priority 0.
	stop := 30*I + I/3
	d.step("4. Priority-0 handover",
		fmt.Sprintf("%s shuts down gracefully and advertises priority 0; the backups set Master_Down_Timer", r1),
		fmt.Sprintf("to Skew_Time, so %s takes over %v later (RFC 9568 section 6.4.2)", r2, d.skew(p2)))
	d.runUntil(stop)
	last := map[sim.VR]time.Duration{}
	for _, vr := range d.vrs {
		last[vr] = d.lastSend(r1, vr, stop, false)
	}
	s.Shutdown(r1)
	for _, vr := range d.vrs {
		sent0 := d.lastSend(r1, vr, stop, true) == stop
		d.check(sent0, "", "%v %s sent a priority-0 advertisement at %s", vr, r1, ts(stop))
	}
	if d.loss == 0 {
		d.runUntil(34 * I)
		for _, vr := range d.vrs {
			d.checkTakeover(vr, stop, r2, stop+d.skew(p2), false, fmt.Sprintf("shutdown + Skew_Time(%d)", p2))
			d.checkMasters(vr, r2)
		}
	} else {
		for _, vr := range d.vrs {
			// If the priority-0 advertisement is lost, r2 still takes
			// over Master_Down_Interval after the last one it heard.
			d.checkBound(vr, last[vr]+d.mdi(p2), r2, fmt.Sprintf("last advertisement of %s %s + Master_Down_Interval(%d)", r1, ts(last[vr]), p2))
		}
		d.runUntil(34 * I)
	}

	// 5. The old master returns again.
	back = 35 * I
	d.step("5. The old master returns again",
		fmt.Sprintf("%s restarts and preempts %s again, %s after its start", r1, r2, ts(d.mdi(p1))))
	d.runUntil(back)
	s.Restart(r1)
	d.preempt(back, r1, p1, r2, 43*I)

	// 6. Partition.
	part := 45 * I
	rest := d.names[1:]
	d.step("6. Partition",
		fmt.Sprintf("{%s} is cut off from {%s}: %s stays master on its side, and %s takes over on the other,", r1, strings.Join(rest, " "), r1, r2),
		"Master_Down_Interval after the last advertisement it heard: split brain, two masters")
	d.runUntil(part)
	s.Partition([]string{r1}, rest)
	for _, vr := range d.vrs {
		lastR1 := d.lastSend(r1, vr, part, false)
		want := lastR1 + d.mdi(p2)
		how := fmt.Sprintf("last advertisement of %s %s + Master_Down_Interval(%d)", r1, ts(lastR1), p2)
		if d.loss == 0 {
			d.runUntil(want)
			d.checkTakeover(vr, part, r2, want, false, how)
		} else {
			d.checkBound(vr, want, r2, how)
		}
		if d.loss == 0 {
			d.checkMasters(vr, r1, r2)
		} else {
			// A third router may be master for a moment, having lost
			// r2's advertisements.
			ms := s.Masters(vr)
			d.check(slices.Contains(ms, r1) && slices.Contains(ms, r2), "bound", "%v at %s the masters include %s and %s (split brain): %s",
				vr, ts(s.Now()), r1, r2, orNone(ms))
		}
	}
	d.runUntil(53 * I)

	// 7. Heal.
	d.step("7. The partition heals",
		fmt.Sprintf("timed just after an advertisement of %s, so %s speaks first: %s hears a lower priority,", r1, r2, r1),
		fmt.Sprintf("re-advertises at once and announces (RFC 9568 section 6.4.3), and %s steps down at that instant", r2))
	d.runUntil(55 * I)
	// Heal just after r1's next advertisement.
	heal := d.deadline(r1, vr4) + time.Nanosecond
	next := map[sim.VR]time.Duration{}
	r1next := map[sim.VR]time.Duration{}
	d.runUntil(heal)
	for _, vr := range d.vrs {
		next[vr] = d.deadline(r2, vr)
		r1next[vr] = d.deadline(r1, vr)
	}
	s.Heal()
	if d.loss == 0 {
		d.runUntil(60 * I)
		for _, vr := range d.vrs {
			t2 := next[vr]
			got, ok := d.firstTransition(vr, heal, r2, vrrp.Backup)
			d.check(ok && got == t2 && r1next[vr] > t2, "exact",
				"%v %s stepped down at %s, its first advertisement after the heal (RFC 5798 would wait for %s's next, at %s)%s",
				vr, r2, ts(t2), r1, ts(r1next[vr]), when(!(ok && got == t2), "; got "+tsOr(got, ok)))
			d.check(d.announcedWithoutTakeover(r1, vr, t2), "exact",
				"%v %s re-advertised and announced at %s on hearing priority %d", vr, r1, ts(t2), p2)
			d.checkMasters(vr, r1)
		}
	} else {
		d.runUntil(60 * I)
		for _, vr := range d.vrs {
			fmt.Fprintf(d.out, "  info  %v masters at %s: %s (with loss the heal is not timed)\n", vr, ts(s.Now()), strings.Join(s.Masters(vr), " "))
		}
		// 8. Quiet.
		quiet := 4 * d.mdi(d.prios[len(d.prios)-1])
		d.step("8. Quiet network",
			fmt.Sprintf("loss goes to 0; after 4 x the longest Master_Down_Interval (%v) exactly one master", quiet),
			fmt.Sprintf("per virtual router remains: %s, the highest priority", r1))
		s.SetLink("", "", memnet.Link{})
		d.runUntil(60*I + quiet)
		for _, vr := range d.vrs {
			d.checkMasters(vr, r1)
		}
	}
	if err := s.Err(); err != nil {
		d.check(false, "", "simulator: %v", err)
	}
	d.summary()
	if d.fail > 0 {
		fmt.Fprintf(d.out, "\n%d of %d checks FAILED\n", d.fail, d.pass+d.fail)
		return 1
	}
	fmt.Fprintf(d.out, "\nall %d checks passed: every step happened as RFC 9568 says\n", d.pass)
	return 0
}

// takeoverAfterSilence checks that after r1 fell silent at t, r2 took
// over Master_Down_Interval after r1's last advertisement.
func (d *demo) takeoverAfterSilence(t time.Duration, r1, r2 string, p2 uint8, end time.Duration) {
	for _, vr := range d.vrs {
		last := d.lastSend(r1, vr, t, false)
		want := last + d.mdi(p2)
		how := fmt.Sprintf("last advertisement of %s %s + Master_Down_Interval(%d)", r1, ts(last), p2)
		if d.loss == 0 {
			d.runUntil(want)
			d.checkTakeover(vr, t, r2, want, false, how)
		} else {
			d.checkBound(vr, want, r2, how)
		}
	}
	d.runUntil(end)
	if d.loss == 0 {
		for _, vr := range d.vrs {
			d.checkMasters(vr, r2)
		}
	}
}

// preempt checks that r1, started at t, became master exactly
// Master_Down_Interval later: its timer is never reset, since every
// advertisement it hears has a lower priority. That holds with loss too.
func (d *demo) preempt(t time.Duration, r1 string, p1 uint8, r2 string, end time.Duration) {
	d.runUntil(t + d.mdi(p1))
	for _, vr := range d.vrs {
		d.checkTakeover(vr, t, r1, t+d.mdi(p1), true, fmt.Sprintf("restart + Master_Down_Interval(%d)", p1))
		if d.loss == 0 {
			got, ok := d.firstTransition(vr, t, r2, vrrp.Backup)
			d.check(ok && got == t+d.mdi(p1), "exact", "%v %s stepped down at %s on hearing priority %d%s", vr, r2, ts(t+d.mdi(p1)), p1,
				when(!(ok && got == t+d.mdi(p1)), "; got "+tsOr(got, ok)))
			st := d.s.Stats(r1, vr)
			d.check(st.NewMasterReason == vrrp.ReasonPreempted, "", "%v %s's new-master reason (RFC 6527) is preempted%s", vr, r1, when(st.NewMasterReason != vrrp.ReasonPreempted, "; got "+st.NewMasterReason.String()))
		}
	}
	d.runUntil(end)
	if d.loss == 0 {
		for _, vr := range d.vrs {
			d.checkMasters(vr, r1)
		}
	}
}

// runUntil runs the simulation to virtual time t, pacing it with real
// sleeps under -realtime.
func (d *demo) runUntil(t time.Duration) {
	if !d.realtime {
		d.s.Run(t)
		return
	}
	const tick = 10 * time.Millisecond
	for d.s.Now() < t {
		next := min(t, d.s.Now()+tick)
		if wait := time.Until(d.wall.Add(next)); wait > 0 {
			time.Sleep(wait)
		}
		d.s.Run(next)
	}
}

func (d *demo) step(title string, expect ...string) {
	fmt.Fprintf(d.out, "\n== %s ==\n", title)
	for _, e := range expect {
		fmt.Fprintf(d.out, "   %s\n", e)
	}
}

func (d *demo) check(ok bool, label, format string, args ...any) {
	verdict := "PASS"
	if ok {
		d.pass++
	} else {
		verdict = "FAIL"
		d.fail++
	}
	if label != "" {
		label = " [" + label + "]"
	}
	fmt.Fprintf(d.out, "  %s  %s%s\n", verdict, fmt.Sprintf(format, args...), label)
}

// checkTakeover checks that node became master of vr at exactly want,
// its first transition to Master after time after. Without loss it also
// checks that no other router became master before it; with loss another
// router may, having missed advertisements, and unless exactWithLoss the
// check is only made without loss.
func (d *demo) checkTakeover(vr sim.VR, after time.Duration, node string, want time.Duration, exactWithLoss bool, how string) {
	var first, mine sim.Record
	found, foundMine := false, false
	for _, r := range d.s.Trace() {
		if r.Kind != sim.KindTransition || r.VR != vr || r.To != vrrp.Master || r.At <= after {
			continue
		}
		if !found {
			first, found = r, true
		}
		if r.Node == node {
			mine, foundMine = r, true
			break
		}
	}
	label := "exact"
	if d.loss > 0 && !exactWithLoss {
		label = "exact (no loss)"
	}
	ok := foundMine && mine.At == want && (d.loss > 0 || first == mine)
	note := ""
	switch {
	case !foundMine:
		note = "; it did not"
	case mine.At != want:
		note = "; it did at " + ts(mine.At)
	case !ok:
		note = fmt.Sprintf("; %s did first, at %s", first.Node, ts(first.At))
	}
	d.check(ok, label, "%v %s became master at %s = %s%s", vr, node, ts(want), how, note)
}

// checkBound runs to the bound and checks that node is master then.
func (d *demo) checkBound(vr sim.VR, bound time.Duration, node, how string) {
	d.runUntil(bound)
	ms := d.s.Masters(vr)
	took, ok := d.lastTransition(vr, bound, node, vrrp.Master)
	d.check(slices.Contains(ms, node), "bound", "%v %s is master by %s = %s (became master at %s)",
		vr, node, ts(bound), how, tsOr(took, ok))
}

// checkMasters checks that the masters of vr are exactly want.
func (d *demo) checkMasters(vr sim.VR, want ...string) {
	got := d.s.Masters(vr)
	what := "the master is"
	if len(want) > 1 {
		what = "the masters are (split brain)"
	}
	ok := slices.Equal(got, want)
	note := ""
	if !ok {
		note = "; got " + orNone(got)
	}
	d.check(ok, "", "%v at %s %s %s%s", vr, ts(d.s.Now()), what, strings.Join(want, " "), note)
}

// when returns s if cond is true, else "".
func when(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " ")
}

// firstTransition returns the time of node's first transition to state
// for vr after time after.
func (d *demo) firstTransition(vr sim.VR, after time.Duration, node string, to vrrp.State) (time.Duration, bool) {
	for _, r := range d.s.Trace() {
		if r.Kind == sim.KindTransition && r.VR == vr && r.Node == node && r.To == to && r.At > after {
			return r.At, true
		}
	}
	return 0, false
}

// lastTransition returns the time of node's last transition to state for
// vr at or before t.
func (d *demo) lastTransition(vr sim.VR, t time.Duration, node string, to vrrp.State) (time.Duration, bool) {
	at, ok := time.Duration(0), false
	for _, r := range d.s.Trace() {
		if r.Kind == sim.KindTransition && r.VR == vr && r.Node == node && r.To == to && r.At <= t {
			at, ok = r.At, true
		}
	}
	return at, ok
}

// lastSend returns the time of node's last advertisement for vr at or
// before t (with priority 0 only, if zero), or -1.
func (d *demo) lastSend(node string, vr sim.VR, t time.Duration, zero bool) time.Duration {
	last := time.Duration(-1)
	for _, r := range d.s.Trace() {
		if r.Kind == sim.KindSend && r.Node == node && r.VR == vr && r.At <= t && (r.Priority == 0) == zero {
			last = r.At
		}
	}
	return last
}

// announcedWithoutTakeover reports whether node announced vr at t
// without becoming master then: the RFC 9568 answer to a lower priority.
func (d *demo) announcedWithoutTakeover(node string, vr sim.VR, t time.Duration) bool {
	announced, tookOver := false, false
	for _, r := range d.s.Trace() {
		if r.At != t || r.Node != node || r.VR != vr {
			continue
		}
		switch {
		case r.Kind == sim.KindAnnounce:
			announced = true
		case r.Kind == sim.KindTransition && r.To == vrrp.Master:
			tookOver = true
		}
	}
	return announced && !tookOver
}

// deadline returns the virtual time of node's next timer for vr.
func (d *demo) deadline(node string, vr sim.VR) time.Duration {
	m := d.s.Machine(node, vr)
	if m == nil || m.Deadline().IsZero() {
		return -1
	}
	return d.s.Now() + m.Deadline().Sub(d.s.Time())
}

// print renders one trace record of the timeline. Regular
// advertisements are left out; priority 0, announcements and the RFC
// 9568 re-advertisement are shown.
func (d *demo) print(r sim.Record) {
	key := r.Node + " " + r.VR.String()
	var event, detail string
	vr := "-"
	if r.VR != (sim.VR{}) {
		vr = r.VR.String()
	}
	router := r.Node
	if router == "" {
		router = "-"
	}
	switch r.Kind {
	case sim.KindTransition:
		event = fmt.Sprintf("%v -> %v", r.From, r.To)
		detail = r.Reason.String()
		if r.To == vrrp.Master {
			d.becameMaster[key] = r.At
			detail += fmt.Sprintf(", priority %d", d.s.Priority(r.Node, r.VR))
		}
	case sim.KindSend:
		if r.Priority != 0 {
			return
		}
		event, detail = "advertises priority 0", "leaving: backups wait only Skew_Time"
	case sim.KindAnnounce:
		how := "gratuitous ARP"
		if r.VR.V6 {
			how = "unsolicited NA"
		}
		if t, ok := d.becameMaster[key]; ok && t == r.At {
			event, detail = "announces "+addrList(vips[r.VR]), how
		} else {
			event, detail = "re-advertises, announces", "heard a lower priority (RFC 9568 6.4.3), "+how
		}
	case sim.KindStart:
		event = "starts"
	case sim.KindRestart:
		event = "restarts"
	case sim.KindCrash:
		event, detail = "crashes", "no priority-0 advertisement"
	case sim.KindShutdown:
		event, detail = "shuts down", "graceful"
	case sim.KindPartition:
		event = "partition " + r.Note
	case sim.KindHeal:
		event = "partition healed"
	case sim.KindSetLink:
		event = "links: " + r.Note
	default:
		event = r.Kind.String()
	}
	line := fmt.Sprintf("  %15s  %-3s  %-6s  %-30s  %s", ts(r.At), router, vr, event, detail)
	fmt.Fprintln(d.out, strings.TrimRight(line, " "))
}

// summary prints the closing table: per router per virtual router, the
// state and the RFC 6527 counters, summed over restarts.
func (d *demo) summary() {
	fmt.Fprintf(d.out, "\n== Summary at %s (counters summed over restarts) ==\n", ts(d.s.Now()))
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "router\tVR\tstate\tpriority\tmaster transitions\tadverts sent\tadverts rcvd\tprio-0 sent\tprio-0 rcvd\t")
	for _, n := range d.names {
		for _, vr := range d.vrs {
			st := d.s.TotalStats(n, vr)
			fmt.Fprintf(tw, "%s\t%v\t%v\t%d\t%d\t%d\t%d\t%d\t%d\t\n", n, vr, d.s.State(n, vr), d.s.Priority(n, vr),
				st.MasterTransitions, st.SentAdvertisements, st.RcvdAdvertisements, st.SentPriZeroPackets, st.RcvdPriZeroPackets)
		}
	}
	tw.Flush()
}

// ts formats a virtual time with full (nanosecond) precision.
func ts(t time.Duration) string {
	if t < 0 {
		return "never"
	}
	return fmt.Sprintf("%d.%09ds", t/time.Second, t%time.Second)
}

func tsOr(t time.Duration, ok bool) string {
	if !ok {
		return "never"
	}
	return ts(t)
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}
