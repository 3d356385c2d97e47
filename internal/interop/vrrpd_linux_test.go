//go:build linux

package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
)

// stopTimeout bounds how long Stop waits for vrrpd to exit after SIGTERM;
// it is a hang guard, not a timing assertion.
const stopTimeout = 10 * time.Second

// mustRun reports whether privileged tests must run rather than skip
// (CI=true or GOVRRP_REQUIRE_PRIV=1), as netlab decides.
func mustRun() bool {
	return os.Getenv("CI") == "true" || os.Getenv("GOVRRP_REQUIRE_PRIV") == "1"
}

// skipOrFail skips t, or fails it when privileged tests must run.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if mustRun() {
		t.Fatalf("interop: "+format+" (CI=true or GOVRRP_REQUIRE_PRIV=1: these tests must run)", args...)
	}
	t.Skipf("interop: "+format+" (skipping; set GOVRRP_REQUIRE_PRIV=1 to make this a failure)", args...)
}

// The vrrpd binary is built once per test binary run, into buildDir.
var (
	buildDir  string
	buildOnce sync.Once
	vrrpdBin  string
	buildErr  error
)

// minParallel is the -parallel TestMain sets unless the command line sets
// it: the VRRPv2 subtests (6 lifecycles of ~25 s, mostly waiting on 1 s
// timers) run side by side, whatever GOMAXPROCS is.
const minParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if f := flag.Lookup("test.parallel"); f != nil && f.Value.String() != "" {
			if n, err := strconv.Atoi(f.Value.String()); err == nil && n < minParallel {
				_ = flag.Set("test.parallel", strconv.Itoa(minParallel))
			}
		}
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildVrrpd runs `go build -o TMPDIR/vrrpd ./examples/vrrpd` from the
// module root, once.
func buildVrrpd() (string, error) {
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %v", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			buildErr = errors.New("go env GOMOD: not inside the module")
			return
		}
		if buildDir, err = os.MkdirTemp("", "govrrp-interop-"); err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(buildDir, "vrrpd")
		c := exec.Command("go", "build", "-o", bin, "./examples/vrrpd")
		c.Dir = filepath.Dir(gomod)
		if out, err := c.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./examples/vrrpd (in %s): %v\n%s", c.Dir, err, bytes.TrimSpace(out))
			return
		}
		vrrpdBin = bin
	})
	return vrrpdBin, buildErr
}

// requireAll checks everything the interop tests need: root, iproute2,
// keepalived, tcpdump, tshark, nft, and a vrrpd that builds. It skips t
// (or fails it under CI=true / GOVRRP_REQUIRE_PRIV=1) when something is
// missing.
func requireAll(t testing.TB, needVrrpd bool) {
	t.Helper()
	netlab.RequirePriv(t)
	for _, tool := range []string{"keepalived", "tcpdump", "tshark", "nft"} {
		netlab.RequireTool(t, tool)
	}
	if !needVrrpd {
		return
	}
	if _, err := buildVrrpd(); err != nil {
		skipOrFail(t, "examples/vrrpd does not build: %v", err)
	}
}

// vrrpdOpts are the command-line options of one vrrpd instance (the
// daemon's CLI is a fixed contract; see examples/vrrpd).
type vrrpdOpts struct {
	VRID         int
	Priority     int
	Version      int           // 2 or 3
	Interval     time.Duration // -interval
	NoPreempt    bool
	PreemptDelay time.Duration
	AuthPass     string
	Peers        []netip.Addr // -peer, repeated
	Src          netip.Addr   // -src
	Checksum     string       // -checksum rfc9568|pseudo; empty leaves the daemon's default
	VMAC         bool
	VIPs         []netip.Prefix // ADDR/LEN, as keepalived's virtual_ipaddress
}

func (o vrrpdOpts) args(iface, notify string) []string {
	a := []string{"-iface", iface, "-vrid", strconv.Itoa(o.VRID), "-priority", strconv.Itoa(o.Priority)}
	if o.Version != 0 {
		a = append(a, "-version", strconv.Itoa(o.Version))
	}
	if o.Interval != 0 {
		a = append(a, "-interval", o.Interval.String())
	}
	if o.NoPreempt {
		a = append(a, "-nopreempt")
	}
	if o.PreemptDelay != 0 {
		a = append(a, "-preempt-delay", o.PreemptDelay.String())
	}
	if o.AuthPass != "" {
		a = append(a, "-auth-pass", o.AuthPass)
	}
	for _, p := range o.Peers {
		a = append(a, "-peer", p.String())
	}
	if o.Src.IsValid() {
		a = append(a, "-src", o.Src.String())
	}
	if o.Checksum != "" {
		a = append(a, "-checksum", o.Checksum)
	}
	if o.VMAC {
		a = append(a, "-vmac")
	}
	a = append(a, "-notify", notify, "-log-level", "debug")
	for _, v := range o.VIPs {
		a = append(a, v.String())
	}
	return a
}

// A vrrpd is one examples/vrrpd process running in a lab host's network
// namespace. Its state comes from the notify script it runs at every
// transition (`CMD INSTANCE NAME STATE PRIO`), which appends
// "EPOCH INSTANCE NAME STATE PRIO" lines to notify.log.
type vrrpd struct {
	host *netlab.Host
	opts vrrpdOpts
	dir  string // notify.sh, notify.log, vrrpd.log (stdout and stderr)

	t       testing.TB
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed when cmd.Wait returns
	waitErr error         // set before done is closed
}

// startVrrpd starts vrrpd with opts on h (`ip netns exec`, in its own
// process group). It does not wait for any state: use WaitState. A
// Cleanup on t kills it by PID if it still runs, and prints its log and
// notify record when t failed.
func startVrrpd(t testing.TB, h *netlab.Host, opts vrrpdOpts) *vrrpd {
	t.Helper()
	bin, err := buildVrrpd()
	if err != nil {
		skipOrFail(t, "examples/vrrpd does not build: %v", err)
	}
	d := &vrrpd{host: h, opts: opts, dir: t.TempDir(), t: t, done: make(chan struct{})}
	notify := filepath.Join(d.dir, "notify.sh")
	script := "#!/bin/sh\necho \"$(date +%s.%N) $*\" >> " + filepath.Join(d.dir, "notify.log") + "\n"
	if err := os.WriteFile(notify, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	if d.logFile, err = os.Create(filepath.Join(d.dir, "vrrpd.log")); err != nil {
		t.Fatal(err)
	}
	d.cmd = h.Command(context.Background(), bin, opts.args(h.Iface, notify)...)
	d.cmd.Stdout, d.cmd.Stderr = d.logFile, d.logFile
	if err := d.cmd.Start(); err != nil {
		d.logFile.Close()
		t.Fatalf("interop: %s: start vrrpd: %v", h.Name, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(d.cleanup)
	return d
}

func (d *vrrpd) cleanup() {
	if d.running() {
		// Everything of ours in the group: vrrpd and notify scripts in
		// flight (Setpgid made the group ID vrrpd's PID).
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
	d.logFile.Close()
	if d.t.Failed() {
		d.t.Logf("vrrpd on %s (%s): %s\nlog:\n%s\nnotify.log:\n%s", d.host.Name, d.host.NS,
			strings.Join(d.cmd.Args, " "), d.Log(), d.notifyText())
	}
}

func (d *vrrpd) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func (d *vrrpd) Kind() string             { return "vrrpd" }
func (d *vrrpd) Host() *netlab.Host       { return d.host }
func (d *vrrpd) Priority() int            { return d.opts.Priority }
func (d *vrrpd) PID() int                 { return d.cmd.Process.Pid }
func (d *vrrpd) HasVIP(a netip.Addr) bool { return hasAddr(d.t, d.host, a) }

// Log returns what vrrpd wrote to stdout and stderr so far.
func (d *vrrpd) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "vrrpd.log"))
	return string(b)
}

func (d *vrrpd) notifyText() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "notify.log"))
	return string(b)
}

// Stop sends SIGTERM (vrrpd then sends a priority 0 advertisement,
// removes its virtual addresses and exits 0) and waits for the exit; a
// non-zero exit status fails the test. After stopTimeout it kills vrrpd.
func (d *vrrpd) Stop() {
	d.t.Helper()
	if !d.running() {
		d.t.Errorf("vrrpd on %s: Stop: not running (%v)", d.host.Name, d.waitErr)
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		d.t.Errorf("vrrpd on %s: no exit %v after SIGTERM; killing it", d.host.Name, stopTimeout)
		d.Kill()
		return
	}
	if d.waitErr != nil {
		d.t.Errorf("vrrpd on %s: exit after SIGTERM: %v, want status 0", d.host.Name, d.waitErr)
	}
}

// Kill crashes vrrpd with SIGKILL, by PID, and waits until it is reaped:
// it sends nothing more, and its virtual addresses stay where they are.
func (d *vrrpd) Kill() {
	if !d.running() {
		return
	}
	_ = syscall.Kill(d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

// A transition is one notify.log line.
type transition struct {
	Time     time.Time
	Instance string
	State    string
	Priority int
}

// Transitions returns what the notify script recorded so far, in the
// order it recorded it. Lines that do not parse are returned as an error.
func (d *vrrpd) Transitions() ([]transition, error) {
	return parseNotify(d.notifyText())
}

// parseNotify parses "EPOCH INSTANCE NAME STATE PRIO" lines.
func parseNotify(s string) ([]transition, error) {
	var out []transition
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 5 {
			return out, fmt.Errorf("notify.log: %q: want EPOCH INSTANCE NAME STATE PRIO", sc.Text())
		}
		tm, err := parseEpoch(f[0])
		if err != nil {
			return out, fmt.Errorf("notify.log: %q: %v", sc.Text(), err)
		}
		prio, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			return out, fmt.Errorf("notify.log: %q: priority: %v", sc.Text(), err)
		}
		out = append(out, transition{
			Time:     tm,
			Instance: strings.Join(f[2:len(f)-2], " "),
			State:    strings.ToUpper(f[len(f)-2]),
			Priority: prio,
		})
	}
	return out, sc.Err()
}

func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, err)
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("time %q: %v", s, err)
		}
	}
	return time.Unix(secs, ns), nil
}

// States returns every state the notify script recorded, in order.
func (d *vrrpd) States() []string {
	tr, _ := d.Transitions()
	out := make([]string, len(tr))
	for i, x := range tr {
		out[i] = x.State
	}
	return out
}

// State returns the last state the notify script recorded ("INIT" before
// any): "MASTER", "BACKUP", ...
func (d *vrrpd) State() string {
	tr, _ := d.Transitions()
	if len(tr) == 0 {
		return "INIT"
	}
	return tr[len(tr)-1].State
}

// WaitState waits until the last recorded state is state and returns the
// time the notify script recorded it. It fails when ctx ends or vrrpd
// exits first.
func (d *vrrpd) WaitState(ctx context.Context, state string) (time.Time, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		tr, err := d.Transitions()
		if err != nil {
			return time.Time{}, fmt.Errorf("vrrpd on %s: %v", d.host.Name, err)
		}
		if len(tr) > 0 && tr[len(tr)-1].State == state {
			return tr[len(tr)-1].Time, nil
		}
		select {
		case <-d.done:
			return time.Time{}, fmt.Errorf("vrrpd on %s: exited (%v) while waiting for %s (now %s)", d.host.Name, d.waitErr, state, d.State())
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("vrrpd on %s: waiting for %s (now %s): %w", d.host.Name, state, d.State(), ctx.Err())
		case <-tick.C:
		}
	}
}

// hasAddr reports whether a is assigned on h (`ip -n NS -o addr show`);
// errors fail t.
func hasAddr(t testing.TB, h *netlab.Host, a netip.Addr) bool {
	ok, err := keepalived.HasAddr(h, a)
	if err != nil {
		t.Errorf("interop: %v", err)
	}
	return ok
}

// removeAddr deletes a from h's LAN interface if it is there (the stale
// virtual address a crashed master leaves behind: a reboot would clear
// it). It reports whether it was there.
func removeAddr(t testing.TB, h *netlab.Host, a netip.Addr) bool {
	t.Helper()
	out, err := exec.Command("ip", "-n", h.NS, "-o", "addr", "show", "dev", h.Iface).CombinedOutput()
	if err != nil {
		t.Fatalf("interop: %s: ip addr show: %v: %s", h.Name, err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			p, err := netip.ParsePrefix(f[i+1])
			if err != nil || p.Addr() != a {
				continue
			}
			if out, err := exec.Command("ip", "-n", h.NS, "addr", "del", p.String(), "dev", h.Iface).CombinedOutput(); err != nil {
				t.Fatalf("interop: %s: ip addr del %v: %v: %s", h.Name, p, err, out)
			}
			return true
		}
	}
	return false
}
