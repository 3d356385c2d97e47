//go:build linux

package scale

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
)

func TestMain(m *testing.M) { vrrpdtest.Main(m) }

var (
	scaleFlag   = flag.Bool("scale", false, "run the full scale runs (TestScale) and profiles (TestScaleProfile): tens of minutes, root; also GOVRRP_SCALE=1")
	runsFlag    = flag.String("scale.runs", "100@1s,1000@1s,4094@1s,1000@100ms", "TestScale: LINKS@INTERVAL, comma-separated")
	modesFlag   = flag.String("scale.modes", "together,master-first", "TestScale: start-up modes: together (both sides at once), master-first (the backup once every VIP is on the master)")
	implsFlag   = flag.String("scale.impls", "vrrpd,keepalived", "TestScale: daemons, one after the other on the same lab; vrrpd@PATH runs the vrrpd binary PATH (a baseline built at another commit)")
	windowFlag  = flag.Duration("scale.window", 60*time.Second, "measurement window after settling")
	quietFlag   = flag.Duration("scale.quiet", 15*time.Second, "settled: no transition for this long, every VIP on the master, none on the backup")
	timeoutFlag = flag.Duration("scale.timeout", 300*time.Second, "give up waiting to settle after this long (the window is then measured anyway, and the run reported as never settled)")
	ciLinksFlag = flag.Int("scale.ci", 500, "TestScaleCI: links")
	ciModeFlag  = flag.String("scale.ci.mode", "master-first", "TestScaleCI: start-up mode, master-first or together")
	ciIvFlag    = flag.Duration("scale.ci.interval", 250*time.Millisecond, "TestScaleCI: advertisement interval (250ms: 500 links are 2,000 advertisements a second, which vrrpd's receive_poll auto polls)")
	profFlag    = flag.String("scale.profile", "100,1000", "TestScaleProfile: links, comma-separated")
	outFlag     = flag.String("scale.out", "", "directory for the profiles and the table (default: a temporary directory)")
	traceFlag   = flag.Duration("scale.trace", 0, "log, this often, each side's VIPs, transitions, VRRP socket queue and drops, run-queue wait and processes (0: off)")
	pmodeFlag   = flag.String("scale.profile.mode", "together", "TestScaleProfile: start-up mode, together or master-first")
	sighupFlag  = flag.Bool("scale.sighup", false, "TestScale, vrrpd: after the window, SIGHUP steps: one instance's priority changed on the master, then -scale.sighup.n instances added (the lab has LINKS + that many links) and removed, each checked for other instances moving")
	acceptFlag  = flag.Bool("scale.accept", true, "TestScale: vrrpd's instances accept packets to their VIPs (accept = true, the issue's set-up); false: vrrpd's default, the filter that drops them (nftables) is set at each takeover")
	ringFlag    = flag.Bool("scale.ring", false, "TestScale: vrrpd's instances receive through TPACKET_V3 rings (ring = true: one ring per family for every link)")
	pollFlag    = flag.String("scale.poll", "", "TestScale: vrrpd's receive_poll: a duration, off, or auto (empty: vrrpd's default, auto)")
	rtFlag      = flag.Int("scale.rt", 0, "TestScale: run both daemons under SCHED_RR at this priority, 1-99 (vrrpd -rt-priority, keepalived vrrp_rt_priority); 0: off")
	sighupNFlag = flag.Int("scale.sighup.n", 1000, "-scale.sighup: instances added and then removed (0: only the priority change)")
)

// ciRSSPerLink is TestScaleCI's memory bound for each vrrpd process: VmRSS
// over the number of links, in kB. Chosen from the measurements of
// 2026-12-05 (BENCHMARKS.md, "Scale"): at 500 links, master first, vrrpd
// held 1,035 MB on the master (2,120 kB per link) and 292 MB on the backup
// (599 kB per link) before the interface lookups stopped dumping every
// link (issue 12); after, 84.7 MB (169 kB per link) and 56.2 MB (112 kB
// per link), when the bound was 512 kB. With one raw socket per family
// for every link, one announcement socket and no reader or receive
// batches per link (session 5), 22.1 MB (44 kB per link) and 20.2 MB (40
// kB per link). The bound, about three times the master's, leaves room
// for the garbage collector's timing (RSS runs up to twice the live heap)
// and a loaded machine; at 500 links about a third of it is the runtime's
// fixed cost. Issue 12's goal is 32 MB for 4,094 links, 8 kB per link.
const ciRSSPerLink = 128

// gate skips t unless the full runs were asked for, then checks for the
// privileged suite.
func gate(t *testing.T) {
	t.Helper()
	if !*scaleFlag && os.Getenv("GOVRRP_SCALE") != "1" {
		t.Skip("scale runs: tens of minutes; run them with `sudo GOVRRP_PRIVILEGED=1 go test ./internal/scale -run TestScale -scale -v -timeout 180m` (see BENCHMARKS.md, \"Scale\")")
	}
	netlab.RequirePriv(t)
}

// A daemon is one side of a run: a vrrpd or a keepalived.
type daemon interface {
	pid() int
	// snap reads the protocol's state from the daemon's faithful source:
	// vrrpd's status endpoint, keepalived's log.
	snap() (Snap, error)
	// notified counts the state changes the notify record holds so far,
	// and those to MASTER (keepalived: its log, as snap). vrrpd's record
	// lags the protocol while its notify commands queue: a cross-check.
	notified() (all, master int)
	// stop ends the daemon cleanly (its VIPs removed).
	stop()
}

type vrrpdSide struct {
	p *vrrpdtest.Proc
	// conf is its configuration file (rewritten for a SIGHUP).
	conf string
}

func (d vrrpdSide) pid() int { return d.p.PID() }
func (d vrrpdSide) notified() (all, master int) {
	tr, _ := d.p.Transitions()
	for _, x := range tr {
		if x.Type != "INSTANCE" {
			continue
		}
		all++
		if x.State == "MASTER" {
			master++
		}
	}
	return all, master
}

// statusTimeout bounds one read of the status document: 4,094 instances
// are megabytes of JSON from a daemon that may wait seconds for a CPU
// (vrrpdtest's ReadStatus allows 2 s).
const statusTimeout = 60 * time.Second

func (d vrrpdSide) snap() (Snap, error) {
	b, err := d.status()
	if err != nil {
		return Snap{}, err
	}
	return ParseStatus(b)
}

// status reads the status document, allowing statusTimeout.
func (d vrrpdSide) status() ([]byte, error) {
	c := http.Client{
		Timeout: statusTimeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.p.StatusPath())
		}},
	}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://vrrpd/status")
	if err != nil {
		return nil, fmt.Errorf("%s: status: %w", d.p, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: status: %w", d.p, err)
	}
	return b, nil
}
func (d vrrpdSide) stop() { d.p.Stop() }

type keepalivedSide struct{ k *keepalived.Instance }

func (d keepalivedSide) pid() int            { return d.k.PID() }
func (d keepalivedSide) snap() (Snap, error) { return KeepalivedSnap(d.k.Log()), nil }
func (d keepalivedSide) notified() (all, master int) {
	lines := d.k.Log()
	text := make([]string, len(lines))
	for i, l := range lines {
		text[i] = l.Text
	}
	return CountEntering(text)
}
func (d keepalivedSide) stop() { d.k.Stop() }

// A run is one measurement: one daemon, N links, one interval, one mode.
type run struct {
	Impl, Mode string
	// PolledM and PolledB: vrrpd said at start that it reads its sockets
	// polled (receive_poll), master and backup.
	PolledM, PolledB bool
	N                int
	Interval         time.Duration
	// AllVIPs is the time from launch until every VIP was on the master
	// (the kernel's address notifications), Settled until the quiet
	// period began (every instance MASTER on the master and BACKUP on
	// the backup by their status, every VIP on the master and none on
	// the backup, no transition); -1: never (within the timeout).
	AllVIPs, Settled time.Duration
	// BackupSettled (together) is the time from every VIP on the master
	// until the backup's last transition to BACKUP (its status) and its
	// last VIP gone (the kernel's notification), whichever is later; 0
	// when both were before; -1: not measured. MDI is the backup's
	// Master_Down_Interval.
	BackupSettled, MDI time.Duration
	// NotifyDone is the time from launch until vrrpd's notify record held
	// every transition its status counted (-1: never within the timeout;
	// 0: keepalived, whose record is its log).
	NotifyDone time.Duration
	// Window is the measured window; Master and Backup the usage deltas
	// (CPU) and the memory at its end.
	Window         time.Duration
	Master, Backup Usage
	CPUM, CPUB     time.Duration
	// TransM and TransB are the transitions in the window, by each
	// side's status; BackupMasters the backup's transitions to MASTER
	// over the whole run. RecM, RecB and RecBackupMasters are the same
	// from the notify record.
	TransM, TransB, BackupMasters int
	RecM, RecB, RecBackupMasters  int
	// VIPsB is the number of VIPs on the backup at the end of the window,
	// VIPsM on the master.
	VIPsM, VIPsB int
	Load         string
	// Hups are the SIGHUP steps (-scale.sighup), after the window.
	Hups []hupStep
	// Stall is the -scale.stall step, after the window; nil: not run.
	Stall *stallStep
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// vips counts the VIPs of links 1 to n on h.
func vips(t *testing.T, h *netlab.Host, n int) int {
	out, err := exec.Command("ip", "-n", h.NS, "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: ip addr show: %v: %s", h.Name, err, bytes.TrimSpace(out))
	}
	return CountVIPs(out, n)
}

// clearVIPs deletes whatever VIP of links 1 to n is left on h (after a
// daemon that did not remove its own), so that the next run starts clean.
func clearVIPs(t *testing.T, h *netlab.Host, n int) {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "addr del %s dev %s\n", VIP(i), netlab.LinkName(i))
	}
	c := exec.Command("ip", "-force", "-n", h.NS, "-batch", "-")
	c.Stdin = strings.NewReader(b.String())
	_ = c.Run() // -force: "Cannot assign requested address" for each absent VIP
	if left := vips(t, h, n); left != 0 {
		t.Fatalf("%s: %d VIPs left after clearing", h.Name, left)
	}
}

// start launches one side of impl with n links at interval and priority
// prio on h.
func start(t *testing.T, impl, bin string, h *netlab.Host, n int, interval time.Duration, prio int) daemon {
	t.Helper()
	name := map[int]string{MasterPriority: "master", BackupPriority: "backup"}[prio]
	switch impl {
	case "vrrpd":
		conf := filepath.Join(netlab.TempDir(t), "vrrpd-"+name+".toml")
		if err := os.WriteFile(conf, vrrpdConf(n, interval, prio, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"-config", conf}
		if *rtFlag > 0 {
			args = append(args, "-rt-priority", fmt.Sprint(*rtFlag))
		}
		p := vrrpdtest.StartBinary(t, bin, h, name, args...)
		// Its whole log, kept in -scale.out (a failure shows only its end):
		// written before vrrpdtest's own clean-up stops it and removes its
		// directory.
		if *outFlag != "" {
			dir := outDir(t)
			t.Cleanup(func() {
				log := filepath.Join(dir, fmt.Sprintf("vrrpd-%d-%s-%s.log", n, interval, name))
				if err := os.WriteFile(log, []byte(p.Log()), 0o644); err != nil {
					t.Log(err)
				}
			})
		}
		return vrrpdSide{p: p, conf: conf}
	case "keepalived":
		kc := KeepalivedConfig(n, interval, prio)
		if *rtFlag > 0 {
			kc.GlobalExtra = append(kc.GlobalExtra, fmt.Sprint("vrrp_rt_priority ", *rtFlag))
		}
		return keepalivedSide{keepalived.Start(t, h, kc)}
	}
	t.Fatalf("unknown daemon %q: want vrrpd or keepalived", impl)
	return nil
}

// measure runs impl on lab's two hosts in mode, with the virtual routers
// of links 1 to n (n <= lab.N: -scale.sighup adds the others later), and
// measures it; the daemons are stopped and their VIPs gone when it
// returns. onSettled, if not nil, runs after settling, before the window.
func measure(t *testing.T, lab *netlab.Links, n int, impl, bin, mode string, interval time.Duration, onSettled func(m, b daemon)) run {
	t.Helper()
	h1, h2 := lab.Host(1), lab.Host(2)
	r := run{Impl: impl, Mode: mode, N: n, Interval: interval, AllVIPs: -1, Settled: -1, BackupSettled: -1, NotifyDone: -1,
		MDI: MasterDownInterval(interval, BackupPriority)}
	launch := func(h *netlab.Host, prio int) daemon {
		if startHook != nil {
			return startHook(t, h, prio)
		}
		return start(t, impl, bin, h, n, interval, prio)
	}
	wm, wb := watchAddrs(t, h1), watchAddrs(t, h2)
	defer wb.stop()
	defer wm.stop()
	t0 := time.Now()
	m := launch(h1, MasterPriority)
	defer clearVIPs(t, h1, lab.N)
	defer m.stop()
	var b daemon
	if mode == "together" {
		b = launch(h2, BackupPriority)
	}
	tr := startTrace(t, lab, t0, m)
	defer tr.stop()
	if b != nil {
		tr.setBackup(b)
	}
	deadline := t0.Add(*timeoutFlag)
	var (
		q       = newQuiet()
		sb      Snap
		recFrom time.Time // since when vrrpd's notify record has held every transition
	)
	for time.Now().Before(deadline) {
		now := time.Now()
		vm := vips(t, h1, n)
		if vm == n && r.AllVIPs < 0 {
			r.AllVIPs = now.Sub(t0)
		}
		if b == nil {
			if vm == n {
				b = launch(h2, BackupPriority)
				tr.setBackup(b)
			} else {
				time.Sleep(time.Second)
				continue
			}
		}
		vb := vips(t, h2, n)
		// The status of thousands of instances is megabytes of JSON the
		// daemon builds: read it only when the VIPs say it may be settled.
		var sm Snap
		errM, errB := errNotRead, errNotRead
		if vm == n && vb == 0 {
			sm, errM = m.snap()
			sb, errB = b.snap()
		}
		quietFrom := q.look(now, n, vm, vb, sm, sb, errM, errB)
		if rm, _ := m.notified(); errM == nil && uint64(rm) >= sm.Trans {
			if rb, _ := b.notified(); errB == nil && uint64(rb) >= sb.Trans {
				if recFrom.IsZero() {
					recFrom = now
				}
			} else {
				recFrom = time.Time{}
			}
		} else {
			recFrom = time.Time{}
		}
		if !quietFrom.IsZero() && now.Sub(quietFrom) >= *quietFlag {
			r.Settled = quietFrom.Sub(t0)
			break
		}
		time.Sleep(time.Second)
	}
	if b == nil {
		t.Errorf("%s, %d links, %s: never every VIP on the master within %v: the backup was never started", impl, n, mode, *timeoutFlag)
		return r
	}
	defer clearVIPs(t, h2, lab.N)
	defer b.stop()
	defer surfaceLog(t, "backup", b)
	defer surfaceLog(t, "master", m)
	r.PolledM, r.PolledB = logHas(m, pollLine), logHas(b, pollLine)
	fullM, _, _ := Replay(wm.events(), n)
	if !fullM.IsZero() {
		r.AllVIPs = fullM.Sub(t0)
	}
	if r.Settled >= 0 && mode == "together" && !fullM.IsZero() {
		evs := wb.events()
		_, clearB, _ := Replay(evs, n)
		end := sb.Last
		if clearB.After(end) {
			end = clearB
		}
		r.BackupSettled = max(end.Sub(fullM), 0)
		since := func(x time.Time) string {
			if x.IsZero() {
				return "never"
			}
			return fmt.Sprintf("%.3f s", x.Sub(t0).Seconds())
		}
		t.Logf("%s, %d links, together, from launch: every VIP on the master at %s (ip monitor), the backup's last transition (to BACKUP, its %s) at %s, its last VIP gone at %s (ip monitor, %d VIP events on it)",
			impl, n, since(fullM), map[bool]string{true: "status", false: "log"}[impl == "vrrpd"], since(sb.Last), since(clearB), len(evs))
	}
	r.NotifyDone = waitNotified(t, impl, t0, deadline, m, b)
	if r.NotifyDone > 0 && !recFrom.IsZero() {
		r.NotifyDone = recFrom.Sub(t0) // caught up before settling: since then
	}
	if onSettled != nil {
		onSettled(m, b)
	}
	m0, b0 := usage(t, m), usage(t, b)
	sm0, sb0 := snapOrFail(t, "master", m), snapOrFail(t, "backup", b)
	rm0, _ := m.notified()
	rb0, _ := b.notified()
	time.Sleep(*windowFlag)
	m1, b1 := usage(t, m), usage(t, b)
	sm1, sb1 := snapOrFail(t, "master", m), snapOrFail(t, "backup", b)
	rm1, _ := m.notified()
	rb1, rbm := b.notified()
	r.Window = m1.At.Sub(m0.At)
	r.Master, r.Backup = m1, b1
	r.CPUM, r.CPUB = m1.CPU-m0.CPU, b1.CPU-b0.CPU
	t.Logf("%s, %d links, %s, window %v: master CPU %s = user %s + system %s; backup CPU %s = user %s + system %s",
		impl, n, mode, r.Window.Round(time.Second),
		pct(r.CPUM, r.Window), pct(m1.User-m0.User, r.Window), pct(r.CPUM-(m1.User-m0.User), r.Window),
		pct(r.CPUB, r.Window), pct(b1.User-b0.User, r.Window), pct(r.CPUB-(b1.User-b0.User), r.Window))
	r.TransM, r.TransB, r.BackupMasters = int(sm1.Trans-sm0.Trans), int(sb1.Trans-sb0.Trans), int(sb1.ToMaster)
	r.RecM, r.RecB, r.RecBackupMasters = rm1-rm0, rb1-rb0, rbm
	r.VIPsM, r.VIPsB = vips(t, h1, n), vips(t, h2, n)
	r.Load = loadAvg()
	if *stallFlag > 0 {
		s := stall(t, lab, n, *stallFlag, m, b)
		r.Stall = &s
	}
	if *sighupFlag {
		if vm, ok := m.(vrrpdSide); ok {
			r.Hups = sighupSteps(t, lab, n, interval, vm, b.(vrrpdSide))
		} else {
			t.Logf("-scale.sighup: %s: not measured (vrrpd only)", impl)
		}
	}
	t.Logf("%s", r.line())
	if r.Stall != nil {
		t.Logf("%s", r.Stall.line(r))
	}
	for _, h := range r.Hups {
		t.Logf("%s", h.line(r))
	}
	return r
}

// quiet tracks, look by look, since when the lab has looked settled with
// the same transition counts (measure's settling, and the stall step's).
type quiet struct {
	lastKey [2]uint64
	from    time.Time
}

func newQuiet() quiet { return quiet{lastKey: [2]uint64{^uint64(0), ^uint64(0)}} }

// look records one look at now: vm and vb are the VIPs of links 1 to n on
// the master and the backup, sm and sb their status (errM, errB: not
// read). The lab looks settled when every VIP is on the master and none
// on the backup and every instance is MASTER / BACKUP by the status. It
// returns since when it has looked settled with the same transition
// counts; zero: it does not now.
func (q *quiet) look(now time.Time, n, vm, vb int, sm, sb Snap, errM, errB error) time.Time {
	ok := errM == nil && errB == nil && vm == n && vb == 0 && sm.States["MASTER"] == n && sb.States["BACKUP"] == n
	key := [2]uint64{sm.Trans, sb.Trans}
	if !ok || key != q.lastKey {
		q.from = time.Time{}
		if ok {
			q.from = now
		}
	}
	q.lastKey = key
	return q.from
}

// errNotRead stands for a status not read in measure's loop.
var errNotRead = errors.New("status not read: the VIPs are not settled")

// snapOrFail is d.snap, an error failing t (a zero Snap then).
func snapOrFail(t *testing.T, side string, d daemon) Snap {
	s, err := d.snap()
	if err != nil {
		t.Errorf("%s: %v", side, err)
	}
	return s
}

// waitNotified waits, until deadline, for vrrpd's notify record to hold
// every transition its status counts on both sides, so that the record
// cross-checks the window, and returns when that was from t0 (-1: not by
// the deadline; 0 for keepalived).
func waitNotified(t *testing.T, impl string, t0, deadline time.Time, m, b daemon) time.Duration {
	if impl != "vrrpd" {
		return 0
	}
	for {
		done := true
		for _, d := range []daemon{m, b} {
			s, err := d.snap()
			rec, _ := d.notified()
			if err != nil || uint64(rec) < s.Trans {
				done = false
			}
		}
		now := time.Now()
		if done {
			return now.Sub(t0)
		}
		if now.After(deadline) {
			t.Logf("%s: the notify record has not caught up with the status by the timeout (%v)", impl, *timeoutFlag)
			return -1
		}
		time.Sleep(time.Second)
	}
}

// backlogLine is what vrrp.Router logs when its reader dropped what a
// socket queued before the virtual routers started (vrrp/router_rx.go).
const backlogLine = "dropped the packets queued before the virtual routers started"

// pollLine is what vrrpd logs at start when it polls its sockets
// (receive_poll, examples/vrrpd/daemon.go).
const pollLine = "reading the VRRP sockets every receive_poll"

// logHas reports whether d is a vrrpd whose log so far has line.
func logHas(d daemon, line string) bool {
	v, ok := d.(vrrpdSide)
	return ok && strings.Contains(v.p.Log(), line)
}

// surfaceLog prints the lines of a vrrpd's log that a scale run should
// show: the start-up backlog dropped (issue 12).
func surfaceLog(t *testing.T, side string, d daemon) {
	v, ok := d.(vrrpdSide)
	if !ok {
		return
	}
	for _, l := range strings.Split(v.p.Log(), "\n") {
		if strings.Contains(l, backlogLine) {
			t.Logf("%s vrrpd: %s", side, l)
		}
	}
}

func usage(t *testing.T, d daemon) Usage {
	u, err := ReadUsage(d.pid())
	if err != nil {
		t.Fatalf("usage of %d: %v", d.pid(), err)
	}
	return u
}

func dur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func pct(cpu, wall time.Duration) string {
	if wall <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*cpu.Seconds()/wall.Seconds())
}

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

func (r run) line() string {
	settled := dur(r.Settled)
	if r.Settled < 0 {
		settled = fmt.Sprintf("never (%v)", *timeoutFlag)
	}
	backup := "-"
	if r.BackupSettled >= 0 {
		verdict := "within"
		if r.BackupSettled > 2*r.MDI {
			verdict = "NOT within"
		}
		backup = fmt.Sprintf("%.2f s (%s 2 x %.2f s)", r.BackupSettled.Seconds(), verdict, r.MDI.Seconds())
	} else if r.Mode == "together" {
		backup = "never"
	}
	record := "-" // keepalived: its log is its record
	if r.Impl == "vrrpd" || strings.HasPrefix(r.Impl, "vrrpd@") {
		record = dur(r.NotifyDone)
	}
	return fmt.Sprintf("| %d | %v | %s | %s | %s | %s | %s | %s | %v | %s | %s (%s) | %s | %s (%s) | %d / %d (%d / %d) | %d (%d) | %d / %d | %s |",
		r.N, r.Interval, r.Impl, r.Mode, dur(r.AllVIPs), settled, backup, record, r.Window.Round(time.Second),
		pct(r.CPUM, r.Window), mb(r.Master.RSS), mb(r.Master.HWM),
		pct(r.CPUB, r.Window), mb(r.Backup.RSS), mb(r.Backup.HWM),
		r.TransM, r.TransB, r.RecM, r.RecB, r.BackupMasters, r.RecBackupMasters, r.VIPsM, r.VIPsB, r.Load)
}

const tableHead = "| links | interval | daemon | start | every VIP on the master after | settled after | together: backup settled after every VIP on the master | notify record complete after | window | master CPU | master RSS (peak) | backup CPU | backup RSS (peak) | transitions in the window, master / backup (notify record) | backup -> MASTER, whole run (notify record) | VIPs at the end, master / backup | load average |\n" +
	"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"

func table(rs []run) string {
	var b strings.Builder
	b.WriteString(tableHead + "\n")
	var hups, stalls []string
	for _, r := range rs {
		b.WriteString(r.line() + "\n")
		for _, h := range r.Hups {
			hups = append(hups, h.line(r))
		}
		if r.Stall != nil {
			stalls = append(stalls, "- "+r.Stall.line(r))
		}
	}
	if len(hups) > 0 {
		b.WriteString("\n" + hupHead + "\n" + strings.Join(hups, "\n") + "\n")
	}
	if len(stalls) > 0 {
		b.WriteString("\n" + strings.Join(stalls, "\n") + "\n")
	}
	return b.String()
}

func outDir(t *testing.T) string {
	if *outFlag == "" {
		return netlab.TempDir(t)
	}
	if err := os.MkdirAll(*outFlag, 0o755); err != nil {
		t.Fatal(err)
	}
	return *outFlag
}

func haveKeepalived() bool {
	_, err := exec.LookPath("keepalived")
	return err == nil
}

// TestScaleCI is the CI-sized scale test: -scale.ci links (500) at
// -scale.ci.interval (250 ms: 2,000 advertisements a second, so that
// vrrpd's default receive_poll, auto, polls its sockets, which it
// asserts), the master started first (-scale.ci.mode), vrrpd and then
// keepalived (when installed). It asserts, for vrrpd, that the run settles, that the
// backup never became master (master first), that no transition happens
// on either side in the -scale.window (60 s) after settling, with every
// VIP on the master and none on the backup, and that neither side's RSS
// exceeds ciRSSPerLink per link; keepalived's figures are logged beside
// it.
func TestScaleCI(t *testing.T) {
	netlab.RequirePriv(t)
	mode := *ciModeFlag
	if mode != "together" && mode != "master-first" {
		t.Fatalf("-scale.ci.mode: %q: want together or master-first", mode)
	}
	bin := vrrpdtest.Build(t)
	lab := netlab.NewLinks(t, "sci", *ciLinksFlag)
	var rs []run
	r := measure(t, lab, lab.N, "vrrpd", bin, mode, *ciIvFlag, nil)
	rs = append(rs, r)
	if float64(lab.N)*float64(time.Second)/float64(*ciIvFlag) >= 1000 && (!r.PolledM || !r.PolledB) {
		t.Errorf("vrrpd, %d links at %v: polled master %v, backup %v; want both (receive_poll auto from 1,000 advertisements a second)", r.N, *ciIvFlag, r.PolledM, r.PolledB)
	}
	if r.Settled < 0 {
		t.Errorf("vrrpd, %d links: not settled within %v", r.N, *timeoutFlag)
	}
	if r.TransM != 0 || r.TransB != 0 || r.RecM != 0 || r.RecB != 0 {
		t.Errorf("vrrpd, %d links: %d (master) and %d (backup) transitions in the %v after settling by the status, %d and %d by the notify record, want none", r.N, r.TransM, r.TransB, r.Window.Round(time.Second), r.RecM, r.RecB)
	}
	if mode == "master-first" && (r.BackupMasters != 0 || r.RecBackupMasters != 0) {
		t.Errorf("vrrpd, %d links, master first: the backup became master %d times by its status, %d by the notify record, want never", r.N, r.BackupMasters, r.RecBackupMasters)
	}
	if r.VIPsM != r.N || r.VIPsB != 0 {
		t.Errorf("vrrpd, %d links: at the end %d VIPs on the master and %d on the backup, want %d and 0", r.N, r.VIPsM, r.VIPsB, r.N)
	}
	for _, s := range []struct {
		name string
		u    Usage
	}{{"master", r.Master}, {"backup", r.Backup}} {
		if per := s.u.RSS / int64(r.N); per > ciRSSPerLink {
			t.Errorf("vrrpd, %d links: %s RSS %d kB, %d kB per link, want at most %d kB per link", r.N, s.name, s.u.RSS, per, ciRSSPerLink)
		}
	}
	if haveKeepalived() {
		rs = append(rs, measure(t, lab, lab.N, "keepalived", "", mode, *ciIvFlag, nil))
	} else {
		t.Logf("keepalived is not installed: vrrpd only")
	}
	t.Logf("\n%s", table(rs))
}

type runSpec struct {
	n        int
	interval time.Duration
}

func parseRuns(t *testing.T, s string) []runSpec {
	var out []runSpec
	for _, f := range strings.Split(s, ",") {
		ns, is, ok := strings.Cut(strings.TrimSpace(f), "@")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n < 1 || n > netlab.MaxLinks {
			t.Fatalf("-scale.runs: %q: want LINKS@INTERVAL, LINKS 1 to %d", f, netlab.MaxLinks)
		}
		iv, err := time.ParseDuration(is)
		if err != nil || iv < 10*time.Millisecond || iv%(10*time.Millisecond) != 0 {
			t.Fatalf("-scale.runs: %q: want a VRRPv3 interval, a multiple of 10ms", f)
		}
		out = append(out, runSpec{n, iv})
	}
	return out
}

// TestScale runs the full measurements: for every -scale.runs entry one
// lab, on which every -scale.impls daemon runs in every -scale.modes
// start-up mode, one after the other. It prints the table BENCHMARKS.md
// shows and writes it to -scale.out/scale.md. It asserts nothing beyond
// the runs' working: the figures are the result.
func TestScale(t *testing.T) {
	gate(t)
	bin := vrrpdtest.Build(t)
	var rs []run
	dir := outDir(t)
	specs := parseRuns(t, *runsFlag)
	if *sighupFlag {
		for _, spec := range specs {
			if *sighupNFlag < 0 || spec.n+*sighupNFlag > netlab.MaxLinks {
				t.Fatalf("-scale.sighup.n: %d with %d links: the lab needs LINKS + n links, at most %d", *sighupNFlag, spec.n, netlab.MaxLinks)
			}
		}
	}
	for _, spec := range specs {
		t.Run(fmt.Sprintf("%d@%v", spec.n, spec.interval), func(t *testing.T) {
			links := spec.n
			if *sighupFlag {
				links += *sighupNFlag
			}
			lab := netlab.NewLinks(t, "sc", links)
			for _, impl := range strings.Split(*implsFlag, ",") {
				// vrrpd@PATH: a vrrpd binary built elsewhere (a baseline
				// commit), compared in the same sitting on the same lab.
				name, path, ok := strings.Cut(impl, "@")
				if !ok {
					path = bin
				} else if name != "vrrpd" || path == "" {
					t.Fatalf("-scale.impls: %q: want vrrpd, keepalived or vrrpd@PATH (a vrrpd binary)", impl)
				}
				if impl == "keepalived" && !haveKeepalived() {
					t.Logf("keepalived is not installed: skipped")
					continue
				}
				for _, mode := range strings.Split(*modesFlag, ",") {
					if mode != "together" && mode != "master-first" {
						t.Fatalf("-scale.modes: %q: want together or master-first", mode)
					}
					r := measure(t, lab, spec.n, name, path, mode, spec.interval, nil)
					r.Impl = impl
					rs = append(rs, r)
					_ = os.WriteFile(filepath.Join(dir, "scale.md"), []byte(table(rs)), 0o644)
				}
			}
		})
	}
	t.Logf("\n%s", table(rs))
}

// pprofSource is added to examples/vrrpd by `go build -overlay` for
// TestScaleProfile: with GOVRRP_SCALE_PPROF set, the daemon serves
// net/http/pprof on that unix socket. The daemon's own source is not
// touched.
const pprofSource = `package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	path := os.Getenv("GOVRRP_SCALE_PPROF")
	if path == "" {
		return
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		panic(err)
	}
	go http.Serve(l, nil)
}
`

// buildProfiling builds examples/vrrpd with pprofSource added.
func buildProfiling(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	src := filepath.Join(dir, "zz_pprof.go")
	if err := os.WriteFile(src, []byte(pprofSource), 0o644); err != nil {
		t.Fatal(err)
	}
	ov := filepath.Join(dir, "overlay.json")
	js := fmt.Sprintf(`{"Replace": {%q: %q}}`, filepath.Join(root, "examples", "vrrpd", "zz_pprof.go"), src)
	if err := os.WriteFile(ov, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vrrpd-pprof")
	c := exec.Command("go", "build", "-overlay", ov, "-o", bin, "./examples/vrrpd")
	c.Dir = root
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(c.Args, " "), err, out)
	}
	return bin
}

// fetch GETs path from the pprof server on the unix socket sock.
func fetch(t *testing.T, sock, path string, timeout time.Duration) []byte {
	t.Helper()
	c := http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://vrrpd" + path)
	if err != nil {
		t.Errorf("pprof %s: %v", path, err)
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("pprof %s: %s, %v", path, resp.Status, err)
	}
	return b
}

// sockets counts pid's open file descriptors by kind, sockets by
// protocol family as /proc/PID/net lists them (in pid's namespace).
func sockets(pid int) map[string]int {
	dir := fmt.Sprintf("/proc/%d", pid)
	kinds := map[string]string{} // inode -> kind
	for _, f := range []string{"packet", "raw", "raw6", "udp", "udp6", "tcp", "tcp6", "netlink", "unix"} {
		b, err := os.ReadFile(filepath.Join(dir, "net", f))
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) == 0 {
			continue
		}
		col := -1
		for i, h := range strings.Fields(lines[0]) {
			if strings.EqualFold(h, "inode") {
				col = i
			}
		}
		// The headers of raw, udp and tcp name two columns more than
		// their rows have before the inode ("tx_queue rx_queue" and "tr
		// tm->when" are one field each in the rows).
		if !strings.HasPrefix(f, "packet") && !strings.HasPrefix(f, "netlink") && !strings.HasPrefix(f, "unix") {
			col -= 2
		}
		for _, l := range lines[1:] {
			fs := strings.Fields(l)
			if col >= 0 && col < len(fs) {
				kinds[fs[col]] = f
			}
		}
	}
	count := map[string]int{}
	ents, _ := os.ReadDir(filepath.Join(dir, "fd"))
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, "fd", e.Name()))
		if err != nil {
			continue
		}
		inode, ok := strings.CutPrefix(l, "socket:[")
		if !ok {
			k := "other"
			if strings.HasPrefix(l, "anon_inode:") {
				k = l
			}
			count[k]++
			continue
		}
		inode = strings.TrimSuffix(inode, "]")
		k, ok := kinds[inode]
		if !ok {
			k = "socket (unlisted)"
		}
		count[k]++
	}
	return count
}

// TestScaleProfile profiles today's vrrpd at -scale.profile links (100,
// 1,000) at 1 s, both sides together (-scale.profile.mode): a copy of examples/vrrpd built with
// net/http/pprof (buildProfiling). Once settled (or after the timeout) it
// writes each side's heap profile (in-use and allocated), goroutine dump
// and a 30 s CPU profile into -scale.out, and logs `go tool pprof -top`
// of them, the goroutine count, the file descriptors by kind and
// smaps_rollup.
func TestScaleProfile(t *testing.T) {
	gate(t)
	dir := outDir(t)
	bin := buildProfiling(t, netlab.TempDir(t))
	for _, f := range strings.Split(*profFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > netlab.MaxLinks {
			t.Fatalf("-scale.profile: %q: want links, 1 to %d", f, netlab.MaxLinks)
		}
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			lab := netlab.NewLinks(t, "sp", n)
			socks := map[string]string{}
			for _, side := range []string{"master", "backup"} {
				socks[side] = filepath.Join(netlab.TempDir(t), "pprof.sock")
			}
			// The socket path reaches each daemon through its environment
			// (vrrpdtest runs it with the test's): set it before each
			// start. start runs the master first.
			startP := func(t *testing.T, h *netlab.Host, prio int) daemon {
				side := map[int]string{MasterPriority: "master", BackupPriority: "backup"}[prio]
				t.Setenv("GOVRRP_SCALE_PPROF", socks[side])
				return start(t, "vrrpd", bin, h, n, time.Second, prio)
			}
			r := measureWith(t, lab, bin, startP, func(m, b daemon) {
				for side, d := range map[string]daemon{"master": m, "backup": b} {
					profileOne(t, dir, fmt.Sprintf("%d-%s", n, side), bin, socks[side], d.pid())
				}
			})
			t.Logf("\n%s", table([]run{r}))
		})
	}
}

// measureWith is measure (vrrpd, -scale.profile.mode, 1 s) with the
// given start function.
func measureWith(t *testing.T, lab *netlab.Links, bin string, startP func(*testing.T, *netlab.Host, int) daemon, onSettled func(m, b daemon)) run {
	saved := startHook
	startHook = startP
	defer func() { startHook = saved }()
	return measure(t, lab, lab.N, "vrrpd", bin, *pmodeFlag, time.Second, onSettled)
}

// startHook, when set, replaces start for measure (TestScaleProfile).
var startHook func(*testing.T, *netlab.Host, int) daemon

func profileOne(t *testing.T, dir, label, bin, sock string, pid int) {
	u, _ := ReadUsage(pid)
	rollup, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	g := fetch(t, sock, "/debug/pprof/goroutine?debug=1", 30*time.Second)
	first, _, _ := strings.Cut(string(g), "\n")
	_ = os.WriteFile(filepath.Join(dir, "goroutines-"+label+".txt"), g, 0o644)
	heapText := fetch(t, sock, "/debug/pprof/heap?debug=1", 60*time.Second)
	var memstats string
	if i := bytes.Index(heapText, []byte("# runtime.MemStats")); i >= 0 {
		memstats = string(heapText[i:])
	}
	heap := filepath.Join(dir, "heap-"+label+".pprof")
	_ = os.WriteFile(heap, fetch(t, sock, "/debug/pprof/heap?gc=1", 60*time.Second), 0o644)
	cpu := filepath.Join(dir, "cpu-"+label+".pprof")
	_ = os.WriteFile(cpu, fetch(t, sock, "/debug/pprof/profile?seconds=30", 60*time.Second), 0o644)
	// The heap again, after the CPU profile's 30 s: against the first,
	// what the settled daemon allocates (the garbage the heap grows by
	// between collections, up to GOGC's goal).
	heap2 := filepath.Join(dir, "heap-"+label+"-30s.pprof")
	_ = os.WriteFile(heap2, fetch(t, sock, "/debug/pprof/heap?gc=1", 60*time.Second), 0o644)
	report := fmt.Sprintf("%s (pid %d): %s, RSS %d kB (peak %d kB), %d threads\nfds: %v\nsmaps_rollup:\n%s\n%s\n", label, pid, first, u.RSS, u.HWM, u.Threads, sockets(pid), rollup, memstats)
	report += "\nin-use heap:\n" + pprofTop(bin, heap, "-sample_index=inuse_space") +
		"\nallocated heap (since start):\n" + pprofTop(bin, heap, "-sample_index=alloc_space") +
		"\nallocated heap in the 30 s of the CPU profile:\n" + pprofTop(bin, heap2, "-sample_index=alloc_space", "-base", heap) +
		"\nin-use heap by cumulative:\n" + pprofTop(bin, heap, "-sample_index=inuse_space", "-cum") +
		"\nCPU, 30 s:\n" + pprofTop(bin, cpu) +
		"\nCPU, 30 s, cumulative:\n" + pprofTop(bin, cpu, "-cum")
	_ = os.WriteFile(filepath.Join(dir, "profile-"+label+".txt"), []byte(report), 0o644)
	t.Logf("%s", report)
}

// pprofTop returns `go tool pprof -top` of profile against bin.
func pprofTop(bin, profile string, opts ...string) string {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=25"}, opts...)
	args = append(args, bin, profile)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// vrrpdConf is VrrpdConfigWith, with ring = true on every instance under
// -scale.ring, accept = false under -scale.accept=false and receive_poll
// under -scale.poll.
func vrrpdConf(n int, interval time.Duration, prio int, prios map[int]int) []byte {
	b := VrrpdConfigWith(n, interval, prio, prios)
	if !*acceptFlag {
		b = bytes.ReplaceAll(b, []byte("accept = true\n"), []byte("accept = false\n"))
	}
	if *ringFlag {
		b = bytes.ReplaceAll(b, []byte("\nvips = "), []byte("\nring = true\nvips = "))
	}
	if *pollFlag != "" {
		b = bytes.Replace(b, []byte("log_level = \"info\"\n"), fmt.Appendf(nil, "log_level = \"info\"\nreceive_poll = %q\n", *pollFlag), 1)
	}
	return b
}
