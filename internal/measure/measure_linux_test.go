//go:build linux

package measure

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
)

// prio is the priority of both routers of the takeover and handover
// trials. With equal priorities a restarted router stays backup (RFC 9568
// Section 6.4.2: an advertisement of equal priority resets its timer), so
// the two hosts can swap roles from one trial to the next without waiting
// for a preemption.
const prio = 100

// A trialSet is the outcome of the trials of one implementation at one
// interval: the measured times and the trials that could not be measured.
type trialSet struct {
	Samples []time.Duration
	Invalid []string // why a trial was discarded
	Bound   time.Duration
	Load    [2]string // load average before and after
	// GARPLead is, per measured trial, the new master's first gratuitous
	// ARP for the VIP minus its first advertisement: negative when the
	// ARP went out first (RFC 9568 Section 6.4.1 sends the advertisement
	// first, then the ARPs).
	GARPLead []time.Duration
}

// TestMeasure runs every measurement: see the package documentation.
func TestMeasure(t *testing.T) {
	gate(t)
	ivs := parseIntervals(t)
	bin := buildVrrpd(t, netlab.TempDir(t))
	impls := []impl{vrrpdImpl(bin), kaImpl()}
	trialImpls := slices.Clone(impls)
	if *baselineFlag != "" {
		// Beside vrrpd, before keepalived (the order of the tables).
		trialImpls = slices.Insert(trialImpls, 1, baselineImpl(t, *baselineFlag))
	}
	if *inprocFlag {
		trialImpls = append(trialImpls, inprocImpl())
	}
	var res results
	for _, kind := range []string{"Takeover", "Handover"} {
		t.Run(kind, func(t *testing.T) {
			for _, iv := range ivs {
				t.Run(iv.String(), func(t *testing.T) {
					if *baselineFlag != "" {
						// A comparison with the code before: trial by
						// trial, so that the machine's load does not
						// favour whichever ran first.
						for i, ts := range runInterleaved(t, trialImpls, kind, iv, *trialsFlag) {
							res.add(kind, iv, trialImpls[i].name, ts)
						}
						return
					}
					for _, im := range trialImpls {
						t.Run(im.name, func(t *testing.T) {
							// At 1 s and above the two implementations
							// run side by side, in two labs (the
							// timers dwarf any scheduling noise);
							// shorter intervals run one at a time.
							if iv >= time.Second {
								t.Parallel()
							}
							ts := runTrials(t, im, kind, iv, *trialsFlag)
							res.add(kind, iv, im.name, ts)
						})
					}
				})
			}
			writeTrialOutputs(t, &res, kind, trialImpls, ivs)
		})
	}
	t.Run("CPU", func(t *testing.T) {
		var rows []cpuRow
		load0 := loadavg()
		for _, im := range []impl{impls[0], vrrpdImplNoPoll(bin), vrrpdImplRing(bin), impls[1]} {
			t.Run(im.name, func(t *testing.T) {
				rows = append(rows, measureCPU(t, im, *vrsFlag, 100*time.Millisecond, *windowFlag))
			})
		}
		writeCPUOutputs(t, rows, load0, loadavg())
	})
	t.Run("CPUFloor", func(t *testing.T) {
		measureFloor(t, bin, *vrsFlag, 100*time.Millisecond, *windowFlag)
	})
}

// measureFloor measures the receive floor: a vrrpd master with n virtual
// routers on host 1 and, on host 2, rxfloor (internal/measure/rxfloor),
// which only reads the advertisements with transport/raw: through the
// receive ring (Config.Ring), on the protocol-112 socket in batches and
// one at a time, and on a polled socket (Config.Poll). Whatever a backup built on this transport and the Go
// runtime does, it pays at least this. Writes cpufloor.md.
func measureFloor(t *testing.T, vrrpd string, n int, interval, window time.Duration) {
	lab := netlab.New(t, "mf", 2)
	hz := clockTicks(t)
	master := vrrpdImpl(vrrpd).startMany(t, lab.Host(1), n, 200, interval)
	waitAll(t, vrrpdImpl(vrrpd), master, n, "MASTER")
	bin := filepath.Join(netlab.TempDir(t), "rxfloor")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/govrrp/govrrp/internal/measure/rxfloor").CombinedOutput()
	if err != nil {
		t.Fatalf("go build rxfloor: %v\n%s", err, out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Receive floor: %d virtual routers at %v, VRRPv3 over IPv4, %v window\n\n", n, interval, window)
	fmt.Fprintf(&b, "vrrpd master (priority 200) on host 1; on host 2 `rxfloor` reads the advertisements with transport/raw and does nothing else. CPU = utime+stime of rxfloor. %s, load average %s.\n\n", machine(), loadavg())
	b.WriteString("| reader | CPU s | % of a core | adverts | CPU s per 10,000 adverts | context switches per 100 adverts |\n|---|---|---|---|---|---|\n")
	for _, mode := range []struct {
		name        string
		ring, batch bool
		poll        time.Duration
	}{
		{"ring, ReadBatch", true, true, 0},
		{"socket, ReadBatch: recvmmsg", false, true, 0},
		{"socket, ReadFrom: recvmsg", false, false, 0},
		{"socket polled every 5ms (Config.Poll), ReadBatch", false, true, 5 * time.Millisecond},
	} {
		cmd := lab.Host(2).Command(context.Background(), bin, "-iface", lab.Host(2).Iface,
			"-batch="+strconv.FormatBool(mode.batch), "-ring="+strconv.FormatBool(mode.ring), "-poll="+mode.poll.String())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		pids := []int{cmd.Process.Pid}
		rx0, _, err := linkPackets(lab.Host(2))
		if err != nil {
			t.Fatal(err)
		}
		t0, err := cpuTicks(pids)
		if err != nil {
			t.Fatal(err)
		}
		sw0 := ctxSwitches(pids)
		start := time.Now()
		time.Sleep(window)
		t1, err := cpuTicks(pids)
		if err != nil {
			t.Fatal(err)
		}
		sw1 := ctxSwitches(pids)
		wall := time.Since(start).Seconds()
		rx1, _, err := linkPackets(lab.Host(2))
		if err != nil {
			t.Fatal(err)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		sec := float64(t1-t0) / hz
		pkts := rx1 - rx0
		fmt.Fprintf(&b, "| %s | %.2f | %.2f%% | %d | %.3f | %.1f |\n", mode.name, sec, 100*sec/wall, pkts, sec/(float64(pkts)/10000), 100*float64(sw1-sw0)/float64(pkts))
	}
	if err := os.WriteFile(outPath(t, "cpufloor.md"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote cpufloor.md in %s:\n%s", *outFlag, b.String())
}

func parseIntervals(t *testing.T) []time.Duration {
	var out []time.Duration
	for _, s := range strings.Split(*intervals, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 10*time.Millisecond || d%(10*time.Millisecond) != 0 {
			t.Fatalf("-measure.intervals: %q: want VRRPv3 intervals, multiples of 10ms", s)
		}
		out = append(out, d)
	}
	return out
}

// waitFor waits for d to report state, with a hang guard (not a timing
// assertion: the times come from the capture).
func waitFor(t *testing.T, d daemon, state string, interval time.Duration) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second+20*interval)
	defer cancel()
	if err := d.WaitState(ctx, state); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// An event is one trial as the harness saw it: the old master was killed
// (or stopped) at At, after the new master had reported BACKUP at Ready.
type event struct {
	At, Ready time.Time
	Old, New  netip.Addr
}

// runTrials runs trials crashes (kind "Takeover": SIGKILL of the master)
// or graceful stops (kind "Handover": SIGTERM, priority 0) on one 3-host
// lab: hosts 1 and 2 run the implementation at priority 100, host 3
// captures. After each trial the stopped router is restarted and becomes
// the backup of the next trial.
func runTrials(t *testing.T, im impl, kind string, interval time.Duration, trials int) *trialSet {
	r := newRig(t, im, kind, interval)
	for range trials {
		r.trial()
	}
	return r.finish(trials)
}

// runInterleaved runs the trials of every implementation in turn, trial
// by trial: one rig (lab) per implementation, all set up first, then per
// round one trial of each in a random order, so that the load of the
// machine (shared with other work) falls on all of them alike. The idle
// rigs keep advertising meanwhile, the same for every implementation.
func runInterleaved(t *testing.T, ims []impl, kind string, interval time.Duration, trials int) []*trialSet {
	rigs := make([]*rig, len(ims))
	for i, im := range ims {
		rigs[i] = newRig(t, im, kind, interval)
	}
	for range trials {
		for _, i := range rand.Perm(len(rigs)) {
			rigs[i].trial()
		}
	}
	out := make([]*trialSet, len(rigs))
	for i, r := range rigs {
		out[i] = r.finish(trials)
	}
	return out
}

// A rig is the lab of one implementation's trials: two routers of the
// implementation and a capturing observer (see runTrials).
type rig struct {
	t        *testing.T
	im       impl
	kind     string
	interval time.Duration
	ts       *trialSet
	capt     *keepalived.Capture
	hosts    [2]*netlab.Host
	nodes    [2]daemon
	m        int       // the master's index
	ready    time.Time // when the backup reported BACKUP
	evs      []event
}

// newRig sets up a lab and starts its master, then its backup.
func newRig(t *testing.T, im impl, kind string, interval time.Duration) *rig {
	r := &rig{t: t, im: im, kind: kind, interval: interval, ts: &trialSet{}}
	lab := netlab.New(t, "ms", 3)
	// After the lab: the first lab of a process may wait for the lab
	// lock, while the load of other processes' labs comes and goes.
	r.ts.Load[0] = loadavg()
	r.capt = keepalived.StartCapture(t, lab.Host(3))
	r.hosts = [2]*netlab.Host{lab.Host(1), lab.Host(2)}
	r.nodes[0] = im.start(t, r.hosts[0], prio, interval)
	waitFor(t, r.nodes[0], "MASTER", interval)
	r.nodes[1] = im.start(t, r.hosts[1], prio, interval)
	r.ready = waitFor(t, r.nodes[1], "BACKUP", interval)
	return r
}

// trial stops the master, waits for the backup to take over and restarts
// the stopped router as the next trial's backup.
func (r *rig) trial() {
	t, m, interval := r.t, r.m, r.interval
	// At least one advertisement reaches the backup after it
	// reported BACKUP, then a random phase within the interval.
	time.Sleep(interval + 20*time.Millisecond + rand.N(interval))
	ev := event{At: time.Now(), Ready: r.ready, Old: r.hosts[m].Addr4, New: r.hosts[1-m].Addr4}
	if r.kind == "Takeover" {
		r.nodes[m].Kill()
	} else {
		r.nodes[m].Stop()
	}
	waitFor(t, r.nodes[1-m], "MASTER", interval)
	r.evs = append(r.evs, ev)
	if r.kind == "Takeover" {
		// The stale virtual address of the crashed master (a reboot
		// would clear it).
		_ = exec.Command("ip", "-n", r.hosts[m].NS, "addr", "del", vip, "dev", r.hosts[m].Iface).Run()
	}
	r.nodes[m] = r.im.start(t, r.hosts[m], prio, interval)
	r.ready = waitFor(t, r.nodes[m], "BACKUP", interval)
	r.m = 1 - m
}

// finish stops the capture and measures the trials from it.
func (r *rig) finish(trials int) *trialSet {
	t, ts, kind, im, interval := r.t, r.ts, r.kind, r.im, r.interval
	time.Sleep(2 * interval)
	pkts := r.capt.Stop()
	ts.Load[1] = loadavg()

	if kind == "Takeover" {
		ts.Bound = MasterDownInterval(interval, prio)
	} else {
		ts.Bound = SkewTime(interval, prio)
	}
	for i, ev := range r.evs {
		d, err := measureEvent(pkts, kind, ev)
		if err != nil {
			ts.Invalid = append(ts.Invalid, fmt.Sprintf("trial %d: %v", i, err))
			continue
		}
		ts.Samples = append(ts.Samples, d)
		if first, ok := pkts.FirstAdvertAfter(ev.New, ev.At); ok {
			for _, g := range pkts.After(ev.At).GARPs(netip.MustParsePrefix(vip).Addr()) {
				if g.SrcMAC.String() == hostMAC(ev.New) {
					ts.GARPLead = append(ts.GARPLead, g.Time.Sub(first.Time))
					break
				}
			}
		}
	}
	s := Summarize(ts.Samples, ts.Bound)
	t.Logf("%s %s %v: n=%d invalid=%d bound=%v p50=%v (%+.2f%%) p90=%v (%+.2f%%) p99=%v (%+.2f%%) max=%v (%+.2f%%) load %s -> %s",
		kind, im.name, interval, s.N, len(ts.Invalid), ts.Bound, s.P50, s.Over(s.P50), s.P90, s.Over(s.P90), s.P99, s.Over(s.P99),
		s.Max, s.Over(s.Max), ts.Load[0], ts.Load[1])
	if len(ts.GARPLead) > 0 {
		g := Summarize(ts.GARPLead, 0)
		t.Logf("first gratuitous ARP minus first advertisement of the new master: min %v, median %v, max %v", g.Min, g.P50, g.Max)
	}
	for _, why := range ts.Invalid {
		t.Logf("discarded %s", why)
	}
	if len(ts.Samples) < trials*9/10 {
		t.Errorf("%d of %d trials could not be measured", len(ts.Invalid), trials)
	}
	return ts
}

// hostMAC returns the MAC netlab gives the host of address a (10.99.0.N).
func hostMAC(a netip.Addr) string {
	return fmt.Sprintf("02:00:00:00:00:%02x", a.As4()[3])
}

// measureEvent returns the time of one trial from the observer's capture.
//
// Takeover: from the old master's last advertisement to the new master's
// first; the RFC bound is Master_Down_Interval. Handover: from the old
// master's priority-0 advertisement to the new master's first; the bound
// is Skew_Time. Either way the old master's last advertisement at
// priority 100 must come after the new master reported BACKUP, so that the
// backup's timer ran from an advertisement and not from its own start.
func measureEvent(pkts keepalived.Packets, kind string, ev event) (time.Duration, error) {
	var from keepalived.Packet
	if kind == "Takeover" {
		first, ok := pkts.FirstAdvertAfter(ev.New, ev.At)
		if !ok {
			return 0, fmt.Errorf("no advertisement from %v after the kill", ev.New)
		}
		last, ok := pkts.LastAdvertBefore(ev.Old, first.Time)
		if !ok {
			return 0, fmt.Errorf("no advertisement from %v before %v's first", ev.Old, ev.New)
		}
		if last.Priority != prio || first.Priority != prio {
			return 0, fmt.Errorf("priorities %d -> %d, want %d", last.Priority, first.Priority, prio)
		}
		if !last.Time.After(ev.Ready) {
			return 0, fmt.Errorf("old master's last advertisement %v before the backup was ready %v", last.Time, ev.Ready)
		}
		return first.Time.Sub(last.Time), nil
	}
	var p0 keepalived.Packet
	found := false
	for _, p := range pkts.Adverts(ev.Old).After(ev.At) {
		if p.Priority == 0 {
			p0, found = p, true
			break
		}
	}
	if !found {
		return 0, fmt.Errorf("no priority-0 advertisement from %v after SIGTERM", ev.Old)
	}
	from = p0
	last, ok := pkts.LastAdvertBefore(ev.Old, p0.Time)
	if !ok || !last.Time.After(ev.Ready) {
		return 0, fmt.Errorf("no advertisement from %v between the backup's start and the priority-0 one", ev.Old)
	}
	first, ok := pkts.FirstAdvertAfter(ev.New, from.Time)
	if !ok {
		return 0, fmt.Errorf("no advertisement from %v after the priority-0 one", ev.New)
	}
	if first.Priority != prio {
		return 0, fmt.Errorf("new master's first advertisement at priority %d, want %d", first.Priority, prio)
	}
	return first.Time.Sub(from.Time), nil
}

// ---- CPU and memory ----

// A cpuSide is one daemon's figures over the window.
type cpuSide struct {
	CPUSeconds float64
	CPUPercent float64 // of one core
	RSSKB      int64
	AnonKB     int64
	RSSEach    string // VmRSS per process, MB
	Adverts    int64  // packets sent (master) or received (backup) on eth0
	Per10k     float64
	Procs      int
	Switches   int64 // context switches of all threads in the window
}

type cpuRow struct {
	Impl           string
	VRs            int
	Interval       time.Duration
	Window         time.Duration
	Master, Backup cpuSide
	Converge       time.Duration // from the backup's start to all BACKUP
}

// measureCPU runs n virtual routers on a master (priority 200, host 1)
// and a backup (priority 100, host 2), waits for convergence and 7 s more
// (past the second gratuitous ARP burst, 5 s after a takeover, of both
// implementations), then measures CPU time and RSS of both daemons over
// window. Adverts are counted from eth0's packet counters (sent on the
// master, received on the backup). No capture runs: tcpdump would compete
// for the two cores.
func measureCPU(t *testing.T, im impl, n int, interval, window time.Duration) cpuRow {
	lab := netlab.New(t, "mc", 2)
	hz := clockTicks(t)
	master := im.startMany(t, lab.Host(1), n, 200, interval)
	waitAll(t, im, master, n, "MASTER")
	t0 := time.Now()
	backup := im.startMany(t, lab.Host(2), n, 100, interval)
	waitAll(t, im, backup, n, "BACKUP")
	conv := time.Since(t0)
	time.Sleep(7 * time.Second)

	type sample struct {
		at     time.Time
		ticks  [2]int64
		sw     [2]int64
		rx, tx int64
		pidsM  []int
		pidsB  []int
	}
	take := func() sample {
		s := sample{pidsM: master.PIDs(), pidsB: backup.PIDs()}
		var err error
		_, s.tx, err = linkPackets(lab.Host(1))
		if err != nil {
			t.Fatal(err)
		}
		s.rx, _, err = linkPackets(lab.Host(2))
		if err != nil {
			t.Fatal(err)
		}
		s.at = time.Now()
		s.sw = [2]int64{ctxSwitches(s.pidsM), ctxSwitches(s.pidsB)}
		if s.ticks[0], err = cpuTicks(s.pidsM); err != nil {
			t.Fatal(err)
		}
		if s.ticks[1], err = cpuTicks(s.pidsB); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := take()
	time.Sleep(window)
	b := take()
	if !slices.Equal(a.pidsM, b.pidsM) || !slices.Equal(a.pidsB, b.pidsB) {
		t.Errorf("%s: processes changed during the window: master %v -> %v, backup %v -> %v", im.name, a.pidsM, b.pidsM, a.pidsB, b.pidsB)
	}
	// Both must still be converged: a window with elections is void.
	for _, c := range []struct {
		d     daemon
		state string
	}{{master, "MASTER"}, {backup, "BACKUP"}} {
		st, err := im.states(c.d)
		if err != nil || st[c.state] != n {
			t.Errorf("%s: after the window: %v (%v), want %d %s", im.name, st, err, n, c.state)
		}
	}
	if *perfFlag > 0 {
		perfProfile(t, im.name, map[string][]int{"master": b.pidsM, "backup": b.pidsB}, *perfFlag)
	}
	wall := b.at.Sub(a.at).Seconds()
	side := func(ticks, pkts, sw int64, pids []int) cpuSide {
		rss, anon, each, err := rssKB(pids)
		if err != nil {
			t.Fatal(err)
		}
		sec := float64(ticks) / hz
		return cpuSide{CPUSeconds: sec, CPUPercent: 100 * sec / wall, RSSKB: rss, AnonKB: anon, RSSEach: each, Adverts: pkts,
			Per10k: sec / (float64(pkts) / 10000), Procs: len(pids), Switches: sw}
	}
	row := cpuRow{Impl: im.name, VRs: n, Interval: interval, Window: b.at.Sub(a.at), Converge: conv,
		Master: side(b.ticks[0]-a.ticks[0], b.tx-a.tx, b.sw[0]-a.sw[0], b.pidsM),
		Backup: side(b.ticks[1]-a.ticks[1], b.rx-a.rx, b.sw[1]-a.sw[1], b.pidsB)}
	t.Logf("%s: master %.2f CPU s (%.2f%%), %d kB RSS, %d adverts sent, %.3f s/10k; backup %.2f CPU s (%.2f%%), %d kB RSS, %d adverts received, %.3f s/10k; converged %v",
		im.name, row.Master.CPUSeconds, row.Master.CPUPercent, row.Master.RSSKB, row.Master.Adverts, row.Master.Per10k,
		row.Backup.CPUSeconds, row.Backup.CPUPercent, row.Backup.RSSKB, row.Backup.Adverts, row.Backup.Per10k, conv)
	return row
}

// perfProfile samples the given processes of each side with perf (the
// cpu-clock software event, 999 Hz, call graphs from frame pointers), both
// sides at once, and writes `perf report` of each, flat (self time) by
// shared object and symbol, to perf-IMPL-SIDE.txt in -measure.out. It runs
// after the CPU window, so that its own cost is not in the figures.
func perfProfile(t *testing.T, impl string, sides map[string][]int, d time.Duration) {
	if _, err := exec.LookPath("perf"); err != nil {
		t.Logf("perf not on PATH: no perf profile")
		return
	}
	type job struct {
		side, data string
		cmd        *exec.Cmd
		out        *strings.Builder
	}
	var jobs []job
	dir := netlab.TempDir(t)
	for side, pids := range sides {
		var ps []string
		for _, p := range pids {
			ps = append(ps, fmt.Sprint(p))
		}
		j := job{side: side, data: filepath.Join(dir, side+".data"), out: &strings.Builder{}}
		j.cmd = exec.Command("perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-p", strings.Join(ps, ","),
			"-o", j.data, "--", "sleep", fmt.Sprint(d.Seconds()))
		j.cmd.Stdout, j.cmd.Stderr = j.out, j.out
		if err := j.cmd.Start(); err != nil {
			t.Fatalf("perf record: %v", err)
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		if err := j.cmd.Wait(); err != nil {
			t.Logf("perf record (%s): %v %s", j.side, err, j.out)
		}
		name := fmt.Sprintf("perf-%s-%s.txt", strings.ReplaceAll(impl, " ", ""), j.side)
		var out []byte
		for _, sort := range []string{"dso", "dso,symbol"} {
			o, err := exec.Command("perf", "report", "-i", j.data, "--stdio", "--no-children", "-g", "none",
				"--sort", sort, "--percent-limit", "1").CombinedOutput()
			if err != nil {
				t.Errorf("perf report: %v\n%s", err, o)
			}
			out = append(out, o...)
		}
		if err := os.WriteFile(outPath(t, name), out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s: wrote %s", impl, j.side, name)
	}
}

// waitAll waits until n virtual routers of d report state.
func waitAll(t *testing.T, im impl, d daemon, n int, state string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := im.states(d)
		if err == nil && st[state] == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d virtual routers not all %s after 60s: %v (%v)", im.name, n, state, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---- outputs ----

func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kern, _ := exec.Command("uname", "-r").Output()
	ka, _ := exec.Command("keepalived", "--version").CombinedOutput()
	kav, _, _ := strings.Cut(string(ka), "\n")
	return fmt.Sprintf("%d CPUs (%s), kernel %s, %s, %s, %s", runtime.NumCPU(), cpu, strings.TrimSpace(string(kern)),
		strings.TrimSpace(kav), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }

func outPath(t *testing.T, name string) string {
	if err := os.MkdirAll(*outFlag, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(*outFlag, name)
}

func writeTrialOutputs(t *testing.T, res *results, kind string, impls []impl, ivs []time.Duration) {
	res.mu.Lock()
	defer res.mu.Unlock()
	runs := res.runs[kind]
	if len(runs) == 0 {
		return
	}
	var b strings.Builder
	lower := strings.ToLower(kind)
	boundName := "Master_Down_Interval (3 x interval + Skew_Time)"
	what := "crash (SIGKILL) of the master: old master's last advertisement to the new master's first"
	if kind == "Handover" {
		boundName = "Skew_Time"
		what = "SIGTERM of the master: its priority-0 advertisement to the new master's first"
	}
	fmt.Fprintf(&b, "### %s: %s\n\n", kind, what)
	fmt.Fprintf(&b, "VRRPv3 over IPv4, both routers at priority 100; bound = %s at full precision. Times in ms, from the observer's capture. %s.\n\n", boundName, machine())
	if *baselineFlag != "" {
		fmt.Fprintf(&b, "vrrpd-baseline is %s; the implementations' trials were interleaved trial by trial (one lab each, the idle labs advertising meanwhile).\n\n", *baselineFlag)
	}
	b.WriteString("| interval | implementation | n | bound | p50 | p90 | p99 | max | p50 vs bound | p90 vs bound | p99 vs bound | max vs bound | GARP - advert (median) | load before -> after |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	raw := map[string]map[string][]int64{}
	for _, iv := range ivs {
		for _, im := range impls {
			ts := runs[iv][im.name]
			if ts == nil {
				continue
			}
			s := Summarize(ts.Samples, ts.Bound)
			lead := "-"
			if len(ts.GARPLead) > 0 {
				lead = ms(Summarize(ts.GARPLead, 0).P50)
			}
			fmt.Fprintf(&b, "| %v | %s | %d | %s | %s | %s | %s | %s | %+.2f%% | %+.2f%% | %+.2f%% | %+.2f%% | %s | %s -> %s |\n",
				iv, im.name, s.N, ms(ts.Bound), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), s.Over(s.P50), s.Over(s.P90), s.Over(s.P99), s.Over(s.Max), lead, ts.Load[0], ts.Load[1])
			if raw[iv.String()] == nil {
				raw[iv.String()] = map[string][]int64{}
			}
			raw[iv.String()][im.name] = []int64{}
			for _, d := range ts.Samples {
				raw[iv.String()][im.name] = append(raw[iv.String()][im.name], int64(d))
			}
		}
	}
	panels, err := trialPanels(kind, raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, iv := range ivs {
		for _, im := range impls {
			if ts := runs[iv][im.name]; ts != nil && len(ts.Invalid) > 0 {
				fmt.Fprintf(&b, "\n%s at %v: %d trials discarded: %s", im.name, iv, len(ts.Invalid), strings.Join(ts.Invalid, "; "))
			}
		}
	}
	b.WriteString("\n")
	if err := os.WriteFile(outPath(t, lower+".md"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	j, _ := json.MarshalIndent(raw, "", " ")
	if err := os.WriteFile(outPath(t, lower+".json"), append(j, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(outPath(t, lower+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteECDFSVG(f, plotTitle(kind), panels); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s.md, %s.json, %s.svg in %s:\n%s", lower, lower, lower, *outFlag, b.String())
}

func writeCPUOutputs(t *testing.T, rows []cpuRow, load0, load1 string) {
	if len(rows) == 0 {
		return
	}
	var b strings.Builder
	r0 := rows[0]
	fmt.Fprintf(&b, "### CPU and memory: %d virtual routers at %v, VRRPv3 over IPv4, %v window\n\n", r0.VRs, r0.Interval, r0.Window.Round(time.Second))
	fmt.Fprintf(&b, "Master at priority 200 (host 1), backup at 100 (host 2), one VIP each; window starts 7 s after convergence. CPU = utime+stime of all the daemon's processes (/proc/PID/stat), RSS = sum of VmRSS at the end (per process in brackets: keepalived parent + VRRP child), anon = sum of RssAnon (RSS not backed by files: shared libraries and the executable's text are file-backed). Adverts = eth0 packets sent (master) / received (backup) in the window. Load average before -> after: %s -> %s. %s.\n\n", load0, load1, machine())
	b.WriteString("| implementation | side | processes | CPU s | % of a core | RSS MB (per process) | anon MB | adverts | CPU s per 10,000 adverts | context switches per 100 adverts |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		for _, s := range []struct {
			name string
			c    cpuSide
		}{{"master", r.Master}, {"backup", r.Backup}} {
			fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %.2f%% | %.1f (%s) | %.1f | %d | %.3f | %.1f |\n", r.Impl, s.name, s.c.Procs, s.c.CPUSeconds, s.c.CPUPercent,
				float64(s.c.RSSKB)/1024, s.c.RSSEach, float64(s.c.AnonKB)/1024, s.c.Adverts, s.c.Per10k, 100*float64(s.c.Switches)/float64(s.c.Adverts))
		}
	}
	// Every row against the last (keepalived).
	if k := rows[len(rows)-1]; len(rows) >= 2 {
		for _, r := range rows[:len(rows)-1] {
			for _, side := range []string{"master", "backup"} {
				a, ka := r.Master, k.Master
				if side == "backup" {
					a, ka = r.Backup, k.Backup
				}
				fmt.Fprintf(&b, "\n%s side: %s / %s CPU = %.2f (goal: at most 0.5)", side, r.Impl, k.Impl, a.CPUSeconds/ka.CPUSeconds)
			}
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(outPath(t, "cpu.md"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote cpu.md in %s:\n%s", *outFlag, b.String())
}
