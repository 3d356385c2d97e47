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

// Exit codes.
const (
	exitPass         = 0 // every step happened as RFC 9568 says, and was checked
	exitFail         = 1 // a check failed: something did not behave as RFC 9568 says
	exitUsage        = 2 // bad flags
	exitInconclusive = 3 // nothing failed, but loss kept a step from happening
)

// options are the flags, and for tests a way to break the routers.
type options struct {
	routers  int
	interval time.Duration
	loss     float64
	seed     uint64
	realtime bool
	// mutate, if set, changes every router's config (tests: a broken
	// behaviour the checks must catch).
	mutate func(*vrrp.Config)
}

// run is the program: it parses args, runs the scenario and returns the
// exit code.
func run(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o options
	fs.IntVar(&o.routers, "routers", 3, fmt.Sprintf("number of routers, 2-%d; priorities are spread from 200 down to 100", maxRouters))
	fs.DurationVar(&o.interval, "interval", time.Second, "advertisement interval: a multiple of 10ms from 10ms to 40.95s (VRRPv3)")
	fs.Float64Var(&o.loss, "loss", 0, "probability, from 0 to below 1, that an advertisement is lost on a link; times are then checked\n"+
		"from the advertisements each router accepted, and a step that loss pre-empts makes the run inconclusive (exit 3)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random source that decides losses")
	fs.BoolVar(&o.realtime, "realtime", false, "pace the virtual clock with real time, to watch it live")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitPass
		}
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stdout, "simulate: unexpected arguments %q\n", fs.Args())
		return exitUsage
	case o.routers < 2 || o.routers > maxRouters:
		fmt.Fprintf(stdout, "simulate: -routers %d: want 2 to %d\n", o.routers, maxRouters)
		return exitUsage
	case o.interval < 10*time.Millisecond || o.interval > 40950*time.Millisecond || o.interval%(10*time.Millisecond) != 0:
		fmt.Fprintf(stdout, "simulate: -interval %v: want a multiple of 10ms from 10ms to 40.95s\n", o.interval)
		return exitUsage
	case !(o.loss >= 0 && o.loss < 1):
		fmt.Fprintf(stdout, "simulate: -loss %v: want 0 to below 1\n", o.loss)
		return exitUsage
	}
	d, err := newDemo(stdout, o)
	if err != nil {
		fmt.Fprintf(stdout, "simulate: %v\n", err)
		return exitUsage
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

	// lossy: the links lose advertisements now (until step 8 clears them).
	lossy bool
	// The partition of step 6: from partAt to healAt (-1: not yet), the
	// first router alone on one side.
	partAt, healAt time.Duration

	becameMaster     map[string]time.Duration // node+VR -> last time it became master
	pass, fail, lost int
}

func newDemo(out io.Writer, o options) (*demo, error) {
	n := o.routers
	d := &demo{
		out: out, iv: o.interval, loss: o.loss, seed: o.seed, realtime: o.realtime,
		vrs:          []sim.VR{vr4, vr6},
		lossy:        o.loss > 0,
		partAt:       -1,
		healAt:       -1,
		becameMaster: make(map[string]time.Duration),
	}
	d.s = sim.New(o.seed, sim.Config{Link: memnet.Link{Loss: o.loss}, OnRecord: d.print, RecordReceives: true})
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
			cfg := vrrp.Config{VRID: vr.VRID, Priority: prio, Version: 3, AdvertInterval: o.interval, Addrs: vips[vr]}
			if o.mutate != nil {
				o.mutate(&cfg)
			}
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

// prio returns a router's priority (fixed for the whole run).
func (d *demo) prio(node string) uint8 { return d.prios[slices.Index(d.names, node)] }

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
	if d.lossy {
		fmt.Fprintf(d.out, "  with loss %g, each time is checked exactly from the advertisements the router accepted;\n", d.loss)
		fmt.Fprintln(d.out, "  a takeover by a router that missed its master's advertisements is reported as a note, and a")
		fmt.Fprintln(d.out, "  step that loss kept from happening as LOSS, which makes the run inconclusive (exit 3)")
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
		d.checkTakeover(vr, 0, r1, d.mdi(p1), fmt.Sprintf("start + Master_Down_Interval(%d)", p1))
		d.checkMasters(vr, r1)
	}
	d.spurious(-1, s.Now())

	// 2. The master crashes.
	crash := 10 * I
	d.step("2. The master crashes",
		fmt.Sprintf("%s stops without a word; %s (priority %d) takes over Master_Down_Interval %v after", r1, r2, p2, d.mdi(p2)),
		"the last advertisement it heard"+when(len(d.names) > 2, fmt.Sprintf("; the others, with a longer Skew_Time, hear %s first", r2)))
	from := s.Now()
	d.runUntil(crash)
	s.Crash(r1)
	d.takeoverAfterSilence(crash, r1, r2, p2, 18*I)
	d.spurious(from, s.Now())

	// 3. The old master returns and preempts.
	back := 20 * I
	d.step("3. The old master returns",
		fmt.Sprintf("%s restarts as Backup, discards the lower-priority advertisements of %s and preempts when", r1, r2),
		fmt.Sprintf("its Master_Down_Timer fires: %s later", ts(d.mdi(p1))))
	from = s.Now()
	d.runUntil(back)
	s.Restart(r1)
	d.preempt(back, r1, p1, r2, 28*I)
	d.spurious(from, s.Now())

	// 4. Graceful shutdown: priority 0.
	stop := 30*I + I/3
	d.step("4. Priority-0 handover",
		fmt.Sprintf("%s shuts down gracefully and advertises priority 0; the backups set Master_Down_Timer", r1),
		fmt.Sprintf("to Skew_Time, so %s takes over %v later (RFC 9568 section 6.4.2)", r2, d.skew(p2)))
	from = s.Now()
	d.runUntil(stop)
	s.Shutdown(r1)
	for _, vr := range d.vrs {
		sent0 := d.lastSend(r1, vr, stop, true) == stop
		d.check(sent0, "", "%v %s sent a priority-0 advertisement at %s", vr, r1, ts(stop))
	}
	d.runUntil(34 * I)
	for _, vr := range d.vrs {
		switch {
		case d.stateBefore(r2, vr, stop) == vrrp.Master:
			d.alreadyMaster(vr, r2, r1, stop)
		case d.acceptedAt(r2, vr, r1, stop, 0):
			d.checkTakeover(vr, stop, r2, stop+d.skew(p2), fmt.Sprintf("shutdown + Skew_Time(%d)", p2))
		default:
			// The priority-0 advertisement was lost: r2 takes over
			// Master_Down_Interval after the last one it accepted.
			d.lossOr(vr, []string{r2}, "%v the priority-0 advertisement of %s did not reach %s: the Skew_Time handover did not happen", vr, r1, r2)
			last, _ := d.lastAccepted(r2, vr, r1, stop)
			d.checkTakeover(vr, stop, r2, last+d.mdi(p2), fmt.Sprintf("last advertisement of %s that reached %s %s + Master_Down_Interval(%d)", r1, r2, ts(last), p2))
		}
		d.checkMasters(vr, r2)
	}
	d.spurious(from, s.Now())

	// 5. The old master returns again.
	back = 35 * I
	d.step("5. The old master returns again",
		fmt.Sprintf("%s restarts and preempts %s again, %s after its start", r1, r2, ts(d.mdi(p1))))
	from = s.Now()
	d.runUntil(back)
	s.Restart(r1)
	d.preempt(back, r1, p1, r2, 43*I)
	d.spurious(from, s.Now())

	// 6. Partition.
	part := 45 * I
	rest := d.names[1:]
	d.step("6. Partition",
		fmt.Sprintf("{%s} is cut off from {%s}: %s stays master on its side, and %s takes over on the other,", r1, strings.Join(rest, " "), r1, r2),
		"Master_Down_Interval after the last advertisement it heard: split brain, two masters")
	from = s.Now()
	d.runUntil(part)
	s.Partition([]string{r1}, rest)
	d.partAt = part
	for _, vr := range d.vrs {
		if d.stateBefore(r2, vr, part) == vrrp.Master {
			d.alreadyMaster(vr, r2, r1, part)
			d.checkMasters(vr, r1, r2)
			continue
		}
		want, how := d.afterLast(vr, r1, r2, p2, part)
		d.runUntil(want)
		d.checkTakeover(vr, part, r2, want, how)
		d.checkMasters(vr, r1, r2)
	}
	d.runUntil(53 * I)
	d.spurious(from, s.Now())

	// 7. Heal.
	d.step("7. The partition heals",
		fmt.Sprintf("timed just after an advertisement of %s, so %s speaks first: %s hears a lower priority,", r1, r2, r1),
		fmt.Sprintf("re-advertises at once and announces (RFC 9568 section 6.4.3), and %s steps down at that instant", r2))
	from = s.Now()
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
	d.healAt = heal
	d.runUntil(60 * I)
	for _, vr := range d.vrs {
		if d.lossy {
			d.checkHeal(vr, heal, r1, p1, r2, p2)
		} else {
			t2 := next[vr]
			got, ok := d.firstTransition(vr, heal, r2, vrrp.Backup)
			d.check(ok && got == t2 && r1next[vr] > t2, "exact",
				"%v %s stepped down at %s, its first advertisement after the heal (RFC 5798 would wait for %s's next, at %s)%s",
				vr, r2, ts(t2), r1, ts(r1next[vr]), when(!(ok && got == t2), "; got "+tsOr(got, ok)))
			d.check(d.answered(r1, vr, r2, heal, t2), "exact",
				"%v %s re-advertised and announced at %s on hearing priority %d", vr, r1, ts(t2), p2)
		}
		d.checkMasters(vr, r1)
	}
	d.spurious(from, s.Now())

	if d.loss > 0 {
		// 8. Quiet.
		quiet := 4 * d.mdi(d.prios[len(d.prios)-1])
		d.step("8. Quiet network",
			fmt.Sprintf("loss goes to 0; after 4 x the longest Master_Down_Interval (%v) exactly one master", quiet),
			fmt.Sprintf("per virtual router remains: %s, the highest priority", r1))
		s.SetLink("", "", memnet.Link{})
		d.lossy = false
		d.runUntil(60*I + quiet)
		for _, vr := range d.vrs {
			d.checkMasters(vr, r1)
		}
	}

	// Every router, every instant.
	d.step("Replay",
		"every transition, advertisement and announcement of every router, replayed against RFC 9568",
		"sections 6.4.1-6.4.3 from the advertisements that router accepted")
	vs, n := d.replay(s.Now())
	d.check(len(vs) == 0, "exact", "%d transitions, %d advertisements and %d announcements, as the %d advertisements accepted make them%s",
		n.transitions, n.sends, n.announces, n.receives, when(len(vs) > 0, fmt.Sprintf("; %d deviations", len(vs))))
	for i, v := range vs {
		if i == 10 {
			fmt.Fprintf(d.out, "        ... and %d more\n", len(vs)-i)
			break
		}
		fmt.Fprintf(d.out, "        %v\n", v)
	}
	if err := s.Err(); err != nil {
		d.check(false, "", "simulator: %v", err)
	}
	d.summary()
	switch {
	case d.fail > 0:
		fmt.Fprintf(d.out, "\n%d of %d checks FAILED%s\n", d.fail, d.pass+d.fail,
			when(d.lost > 0, fmt.Sprintf("; %d more could not be made because of loss (LOSS)", d.lost)))
		return exitFail
	case d.lost > 0:
		fmt.Fprintf(d.out, "\nINCONCLUSIVE: %d %s, loss %g kept what %s from happening (LOSS above);\n",
			d.lost, plural(d.lost, "check could not be made", "checks could not be made"), d.loss, plural(d.lost, "it checks", "they check"))
		fmt.Fprintf(d.out, "the %d checks made passed: what did happen is what RFC 9568 makes the routers do with what they received\n", d.pass)
		return exitInconclusive
	}
	fmt.Fprintf(d.out, "\nall %d checks passed: every step happened as RFC 9568 says, at the exact time its timers give%s,\n", d.pass,
		when(d.loss > 0, " from the advertisements each router accepted"))
	fmt.Fprintln(d.out, "and every transition, advertisement and announcement of every router replays against the RFC")
	return exitPass
}

// afterLast returns when r2 must take over after r1 fell silent at t:
// Master_Down_Interval after the last advertisement of r1 it accepted,
// and how, for the check.
func (d *demo) afterLast(vr sim.VR, r1, r2 string, p2 uint8, t time.Duration) (time.Duration, string) {
	last := d.lastSend(r1, vr, t, false)
	heard, ok := d.lastAccepted(r2, vr, r1, t)
	if !ok {
		heard = -1
	}
	if heard == last {
		return last + d.mdi(p2), fmt.Sprintf("last advertisement of %s %s + Master_Down_Interval(%d)", r1, ts(last), p2)
	}
	return heard + d.mdi(p2), fmt.Sprintf("last advertisement of %s that reached %s %s (its last was at %s) + Master_Down_Interval(%d)",
		r1, r2, ts(heard), ts(last), p2)
}

// alreadyMaster reports that r2 was master already when r1 fell silent
// at t: it had taken over while r1 was advertising, having missed its
// advertisements. That is RFC behaviour under loss (if the replay
// agrees), but the step did not happen.
func (d *demo) alreadyMaster(vr sim.VR, r2, r1 string, t time.Duration) {
	took, _ := d.lastTransition(vr, t-1, r2, vrrp.Master)
	heard, ok := d.lastAccepted(r2, vr, r1, took)
	missed := "having accepted no advertisement of " + r1
	if ok {
		missed = fmt.Sprintf("Master_Down_Interval after the last advertisement of %s it accepted (%s)", r1, ts(heard))
	}
	d.lossOr(vr, []string{r2}, "%v %s was master already when %s went silent at %s: it took over at %s, %s, while %s was advertising (loss); the takeover of this step did not happen",
		vr, r2, r1, ts(t), ts(took), missed, r1)
}

// takeoverAfterSilence checks that after r1 fell silent at t, r2 took
// over Master_Down_Interval after the last advertisement of r1 it
// accepted.
func (d *demo) takeoverAfterSilence(t time.Duration, r1, r2 string, p2 uint8, end time.Duration) {
	for _, vr := range d.vrs {
		if d.stateBefore(r2, vr, t) == vrrp.Master {
			d.alreadyMaster(vr, r2, r1, t)
			continue
		}
		want, how := d.afterLast(vr, r1, r2, p2, t)
		d.runUntil(want)
		d.checkTakeover(vr, t, r2, want, how)
	}
	d.runUntil(end)
	for _, vr := range d.vrs {
		d.checkMasters(vr, r2)
	}
}

// preempt checks that r1, started at t, became master exactly
// Master_Down_Interval later: its timer is never reset, since every
// advertisement it hears has a lower priority. That holds with loss too.
// r2, the master, steps down on the first advertisement of r1 it
// accepts.
func (d *demo) preempt(t time.Duration, r1 string, p1 uint8, r2 string, end time.Duration) {
	took := t + d.mdi(p1)
	d.runUntil(took)
	if d.lossy {
		// The advertisement that makes r2 step down may come later.
		d.runUntil(end)
	}
	for _, vr := range d.vrs {
		d.checkTakeover(vr, t, r1, took, fmt.Sprintf("restart + Master_Down_Interval(%d)", p1))
		if d.stateBefore(r2, vr, took) != vrrp.Master {
			d.lossOr(vr, []string{r2}, "%v %s was not master when %s took over at %s (loss): no master to preempt", vr, r2, r1, ts(took))
		} else if heard, ok := d.firstAccepted(r2, vr, r1, took); !ok {
			d.lossOr(vr, []string{r2}, "%v %s accepted no advertisement of %s by %s (loss): it did not step down", vr, r2, r1, ts(d.s.Now()))
		} else {
			got, ok := d.firstTransition(vr, t, r2, vrrp.Backup)
			how := ""
			if heard != took {
				how = fmt.Sprintf(", the first advertisement of %s it accepted (%s took over at %s)", r1, r1, ts(took))
			}
			d.check(ok && got == heard, "exact", "%v %s stepped down at %s on hearing priority %d%s%s", vr, r2, ts(heard), p1, how,
				when(!(ok && got == heard), "; got "+tsOr(got, ok)))
		}
		// Preempted (RFC 6527) if it discarded a lower priority while its
		// timer ran; else it merely took over.
		st := d.s.Stats(r1, vr)
		if d.acceptedBelow(r1, vr, p1, t, took) {
			d.check(st.NewMasterReason == vrrp.ReasonPreempted, "", "%v %s's new-master reason (RFC 6527) is preempted%s", vr, r1, when(st.NewMasterReason != vrrp.ReasonPreempted, "; got "+st.NewMasterReason.String()))
		} else {
			d.lossOr(vr, []string{r1}, "%v %s accepted no advertisement of a lower priority before its timer fired (loss): it took over (%v), it did not preempt", vr, r1, st.NewMasterReason)
		}
	}
	d.runUntil(end)
	for _, vr := range d.vrs {
		d.checkMasters(vr, r1)
	}
}

// checkHeal checks, under loss, how the split brain of vr ended after
// the heal: r2 steps down at the first advertisement of r1 it accepted
// (RFC 9568 section 6.4.3, "greater than the local Priority"), and r1
// answers every advertisement of r2 it accepted with an advertisement at
// once and an announcement (section 6.4.3, RFC 9568 only). If loss kept
// either from happening, that is LOSS.
func (d *demo) checkHeal(vr sim.VR, heal time.Duration, r1 string, p1 uint8, r2 string, p2 uint8) {
	if d.stateBefore(r2, vr, heal) != vrrp.Master {
		d.lossOr(vr, []string{r2}, "%v %s was not master at the heal (loss): no split brain to end", vr, r2)
		return
	}
	heard, ok := d.firstAccepted(r2, vr, r1, heal)
	if !ok {
		d.lossOr(vr, []string{r2}, "%v %s accepted no advertisement of %s by %s (loss): the split brain did not end", vr, r2, r1, ts(d.s.Now()))
	} else {
		got, ok := d.firstTransition(vr, heal, r2, vrrp.Backup)
		what := "a periodic one: its re-advertisements, if any, were lost"
		if d.answered(r1, vr, r2, heal, heard) {
			what = fmt.Sprintf("its re-advertisement on hearing priority %d", p2)
		}
		d.check(ok && got == heard, "exact", "%v %s stepped down at %s, on the first advertisement of %s it accepted after the heal (%s)%s",
			vr, r2, ts(heard), r1, what, when(!(ok && got == heard), "; got "+tsOr(got, ok)))
	}
	// Every advertisement of r2 that r1 accepted after the heal.
	var times []string
	missing := 0
	for i, r := range d.s.Trace() {
		if r.Kind != sim.KindReceive || r.Node != r1 || r.VR != vr || r.Sender != r2 || r.At < heal {
			continue
		}
		times = append(times, ts(r.At))
		if !d.answeredAt(i) {
			missing++
		}
	}
	if len(times) == 0 {
		d.lossOr(vr, []string{r1, r2}, "%v %s accepted no advertisement of %s after the heal (loss): the RFC 9568 re-advertisement did not happen", vr, r1, r2)
		return
	}
	d.check(missing == 0, "exact", "%v %s re-advertised and announced at once each time it heard priority %d after the heal (%s)%s",
		vr, r1, p2, strings.Join(times, ", "), when(missing > 0, fmt.Sprintf("; it did not, %d of %d times", missing, len(times))))
}

// answeredAt reports whether the receive record at index i of the trace
// is followed by the receiver's advertisement and announcement at the
// same instant, and nothing else of it (a takeover): the RFC 9568 answer
// of a master to a lower priority.
func (d *demo) answeredAt(i int) bool {
	tr := d.s.Trace()
	r := tr[i]
	same := func(j int, k sim.Kind) bool {
		return j < len(tr) && tr[j].Kind == k && tr[j].Node == r.Node && tr[j].VR == r.VR && tr[j].At == r.At
	}
	return same(i+1, sim.KindSend) && tr[i+1].Priority != 0 && same(i+2, sim.KindAnnounce)
}

// answered reports whether node's advertisement at t answered one of
// from's, accepted at t, at or after after.
func (d *demo) answered(node string, vr sim.VR, from string, after, t time.Duration) bool {
	for i, r := range d.s.Trace() {
		if r.Kind == sim.KindReceive && r.Node == node && r.VR == vr && r.Sender == from && r.At == t && r.At >= after && d.answeredAt(i) {
			return true
		}
	}
	return false
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

// lossOr reports a step that loss kept from happening (LOSS): provided
// the replay finds every step of the routers concerned right for what
// they received; else it is a failure.
func (d *demo) lossOr(vr sim.VR, nodes []string, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	vs, _ := d.replay(d.s.Now())
	if vs = violationsOf(vs, vr, nodes...); len(vs) > 0 || !d.lossy {
		if len(vs) > 0 {
			msg += "; and " + vs[0].String()
		}
		d.check(false, "", "%s", msg)
		return
	}
	d.lost++
	fmt.Fprintf(d.out, "  LOSS  %s\n", msg)
}

// checkTakeover checks that node became master of vr at exactly want,
// its first transition to Master after time after. Without loss it also
// checks that no other router became master before it; with loss another
// router may, having missed advertisements (spurious reports it).
func (d *demo) checkTakeover(vr sim.VR, after time.Duration, node string, want time.Duration, how string) {
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
	ok := foundMine && mine.At == want && (d.lossy || first == mine)
	note := ""
	switch {
	case !foundMine:
		note = "; it did not"
	case mine.At != want:
		note = "; it did at " + ts(mine.At)
	case !ok:
		note = fmt.Sprintf("; %s did first, at %s", first.Node, ts(first.At))
	}
	d.check(ok, "exact", "%v %s became master at %s = %s%s", vr, node, ts(want), how, note)
}

// checkMasters checks that the masters of vr are exactly want. Under
// loss, an extra master that took over after missing advertisements is
// LOSS (the step has not settled), if the replay finds it right.
func (d *demo) checkMasters(vr sim.VR, want ...string) {
	got := d.s.Masters(vr)
	what := "the master is"
	if len(want) > 1 {
		what = "the masters are (split brain)"
	}
	ok := slices.Equal(got, want)
	if !ok && d.lossy && !slices.ContainsFunc(want, func(n string) bool { return !slices.Contains(got, n) }) {
		var extra []string
		for _, n := range got {
			if !slices.Contains(want, n) {
				extra = append(extra, n)
			}
		}
		d.lossOr(vr, extra, "%v at %s %s %s, and %s too, having missed advertisements (loss): the step did not settle",
			vr, ts(d.s.Now()), what, strings.Join(want, " "), strings.Join(extra, " "))
		return
	}
	note := ""
	if !ok {
		note = "; got " + orNone(got)
	}
	d.check(ok, "", "%v at %s %s %s%s", vr, ts(d.s.Now()), what, strings.Join(want, " "), note)
}

// spurious prints a note for every takeover in (from, to] by a router
// that a higher-priority master could reach: it had missed that
// master's advertisements, which only loss does here. The replay checks
// that each is timed right; the note says it is not a step of the
// scenario.
func (d *demo) spurious(from, to time.Duration) {
	tr := d.s.Trace()
	for i, r := range tr {
		if r.Kind != sim.KindTransition || r.To != vrrp.Master || r.At <= from || r.At > to {
			continue
		}
		for _, h := range d.names {
			if h == r.Node || d.prio(h) <= d.prio(r.Node) || d.separated(h, r.Node, r.At) || d.stateBefore(h, r.VR, r.At) != vrrp.Master {
				continue
			}
			end := fmt.Sprintf("still master at %s", ts(to))
			if t, ok := d.firstLeave(i, to); ok {
				end = "master until " + ts(t)
			}
			fmt.Fprintf(d.out, "  note  %v %s became master at %s although %s (priority %d) was master: it had missed its advertisements (loss); %s\n",
				r.VR, r.Node, ts(r.At), h, d.prio(h), end)
			break
		}
	}
}

// separated reports whether the partition kept a from b at t.
func (d *demo) separated(a, b string, t time.Duration) bool {
	in := d.partAt >= 0 && t >= d.partAt && (d.healAt < 0 || t < d.healAt)
	return in && (a == d.names[0]) != (b == d.names[0])
}

// stateBefore returns node's state for vr just before virtual time t,
// from the trace.
func (d *demo) stateBefore(node string, vr sim.VR, t time.Duration) vrrp.State {
	st := vrrp.Initialize
	for _, r := range d.s.Trace() {
		if r.At >= t {
			break
		}
		switch {
		case r.Kind == sim.KindTransition && r.Node == node && r.VR == vr:
			st = r.To
		case r.Kind == sim.KindCrash && r.Node == node:
			st = vrrp.Initialize
		}
	}
	return st
}

// firstLeave returns when the router that became master in the trace
// record at index i left Master, if it did by to.
func (d *demo) firstLeave(i int, to time.Duration) (time.Duration, bool) {
	tr := d.s.Trace()
	node, vr := tr[i].Node, tr[i].VR
	for _, r := range tr[i+1:] {
		if r.At > to {
			break
		}
		if r.Node == node && (r.Kind == sim.KindCrash || r.Kind == sim.KindTransition && r.VR == vr && r.From == vrrp.Master) {
			return r.At, true
		}
	}
	return 0, false
}

// lastAccepted returns when node last accepted, at or before t, an
// advertisement of from for vr with a priority other than 0.
func (d *demo) lastAccepted(node string, vr sim.VR, from string, t time.Duration) (time.Duration, bool) {
	at, ok := time.Duration(0), false
	for _, r := range d.s.Trace() {
		if r.At > t {
			break
		}
		if r.Kind == sim.KindReceive && r.Node == node && r.VR == vr && r.Sender == from && r.Priority != 0 {
			at, ok = r.At, true
		}
	}
	return at, ok
}

// firstAccepted returns when node first accepted, at or after t, an
// advertisement of from for vr with a priority other than 0.
func (d *demo) firstAccepted(node string, vr sim.VR, from string, t time.Duration) (time.Duration, bool) {
	for _, r := range d.s.Trace() {
		if r.Kind == sim.KindReceive && r.Node == node && r.VR == vr && r.Sender == from && r.Priority != 0 && r.At >= t {
			return r.At, true
		}
	}
	return 0, false
}

// acceptedAt reports whether node accepted an advertisement of from for
// vr with priority prio at t.
func (d *demo) acceptedAt(node string, vr sim.VR, from string, t time.Duration, prio uint8) bool {
	for _, r := range d.s.Trace() {
		if r.Kind == sim.KindReceive && r.Node == node && r.VR == vr && r.Sender == from && r.Priority == prio && r.At == t {
			return true
		}
	}
	return false
}

// acceptedBelow reports whether node accepted for vr, in [from, to], an
// advertisement with a priority from 1 to below prio.
func (d *demo) acceptedBelow(node string, vr sim.VR, prio uint8, from, to time.Duration) bool {
	for _, r := range d.s.Trace() {
		if r.Kind == sim.KindReceive && r.Node == node && r.VR == vr && r.Priority != 0 && r.Priority < prio && r.At >= from && r.At <= to {
			return true
		}
	}
	return false
}

// plural returns one if n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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

// deadline returns the virtual time of node's next timer for vr (its
// Adver_Timer as master, its Master_Down_Timer as backup), or -1, as the
// replay's model of RFC 9568 has it from the trace so far. The
// RawRouter does not show a virtual router's timers; the replay checks
// that the router's timers fire when the model says, so the two agree
// whenever the replay finds no violation.
func (d *demo) deadline(node string, vr sim.VR) time.Duration {
	_, _, ms := d.replayModels(d.s.Now())
	switch m := ms[vrKey{node, vr}]; m.st {
	case vrrp.Master:
		return m.next
	case vrrp.Backup:
		return m.timer
	}
	return -1
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
	case sim.KindReceive:
		return // one per advertisement accepted: too many to show
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
