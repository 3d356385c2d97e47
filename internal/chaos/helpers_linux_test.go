//go:build linux

package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
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
	"github.com/govrrp/govrrp/vrrp"
)

// mustRun reports whether privileged tests must run rather than skip
// (CI=true or GOVRRP_REQUIRE_PRIV=1), as netlab decides.
func mustRun() bool {
	return os.Getenv("CI") == "true" || os.Getenv("GOVRRP_REQUIRE_PRIV") == "1"
}

// skipOrFail skips t, or fails it when privileged tests must run.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if mustRun() {
		t.Fatalf("chaos: "+format+" (CI=true or GOVRRP_REQUIRE_PRIV=1: these tests must run)", args...)
	}
	t.Skipf("chaos: "+format+" (skipping; set GOVRRP_REQUIRE_PRIV=1 to make this a failure)", args...)
}

// The vrrpd binary is built once per test binary run, into buildDir.
var (
	buildDir  string
	buildOnce sync.Once
	vrrpdBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
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
		if buildDir, err = os.MkdirTemp("", "govrrp-chaos-"); err != nil {
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

// requireTools skips t (or fails it under CI) unless the process is
// privileged and every tool is on PATH.
func requireTools(t testing.TB, tools ...string) {
	t.Helper()
	netlab.RequirePriv(t)
	for _, tool := range tools {
		netlab.RequireTool(t, tool)
	}
}

// vrrpdOpts are the command-line options of one vrrpd instance.
type vrrpdOpts struct {
	VRID      int
	Priority  int
	Interval  time.Duration
	NoPreempt bool
	Peers     []netip.Addr
	VIPs      []netip.Prefix
	LogLevel  string // empty: info
}

// A vrrpd is one examples/vrrpd process in a lab host's namespace, with a
// notify record (notify.log: "EPOCH INSTANCE NAME STATE PRIO") and a JSON
// status endpoint on a unix socket.
type vrrpd struct {
	host   *netlab.Host
	opts   vrrpdOpts
	dir    string
	status string // unix socket path

	t       testing.TB
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	waitErr error
}

// startVrrpd starts vrrpd with opts on h. A Cleanup on t kills it (its
// whole process group) if it still runs, and prints its log when t failed.
func startVrrpd(t testing.TB, h *netlab.Host, opts vrrpdOpts) *vrrpd {
	t.Helper()
	bin, err := buildVrrpd()
	if err != nil {
		skipOrFail(t, "examples/vrrpd does not build: %v", err)
	}
	d := &vrrpd{host: h, opts: opts, dir: t.TempDir(), t: t, done: make(chan struct{})}
	d.status = filepath.Join(d.dir, "status.sock")
	notify := filepath.Join(d.dir, "notify.sh")
	script := "#!/bin/sh\necho \"$(date +%s.%N) $*\" >> " + filepath.Join(d.dir, "notify.log") + "\n"
	if err := os.WriteFile(notify, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	if d.logFile, err = os.OpenFile(filepath.Join(d.dir, "vrrpd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-iface", h.Iface, "-vrid", strconv.Itoa(opts.VRID), "-priority", strconv.Itoa(opts.Priority)}
	if opts.Interval != 0 {
		args = append(args, "-interval", opts.Interval.String())
	}
	if opts.NoPreempt {
		args = append(args, "-nopreempt")
	}
	for _, p := range opts.Peers {
		args = append(args, "-peer", p.String())
	}
	lvl := opts.LogLevel
	if lvl == "" {
		lvl = "info"
	}
	args = append(args, "-notify", notify, "-status", "unix:"+d.status, "-log-level", lvl)
	for _, v := range opts.VIPs {
		args = append(args, v.String())
	}
	d.cmd = h.Command(context.Background(), bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.logFile, d.logFile
	if err := d.cmd.Start(); err != nil {
		d.logFile.Close()
		t.Fatalf("chaos: %s: start vrrpd: %v", h.Name, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(d.cleanup)
	return d
}

func (d *vrrpd) cleanup() {
	d.Kill()
	d.logFile.Close()
	if d.t.Failed() {
		log, _ := os.ReadFile(d.logFile.Name())
		d.t.Logf("vrrpd on %s (%s): %s\nlog (last 6000 bytes):\n%s\nnotify.log:\n%s", d.host.Name, d.host.NS,
			strings.Join(d.cmd.Args, " "), tail(log, 6000), d.notifyText())
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (d *vrrpd) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Kill crashes vrrpd: SIGKILL to its process group (vrrpd and notify
// scripts in flight), by PID, and waits for it. Nothing more is sent and
// its virtual addresses stay on the interface, as after a crash.
func (d *vrrpd) Kill() {
	if !d.running() {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	_ = d.cmd.Process.Kill()
	<-d.done
}

// Stop sends SIGTERM (vrrpd then sends priority 0 and removes its
// addresses) and waits; a non-zero exit fails t. After 10 s it kills.
func (d *vrrpd) Stop() {
	if !d.running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if d.waitErr != nil {
			d.t.Errorf("chaos: vrrpd on %s exited after SIGTERM: %v", d.host.Name, d.waitErr)
		}
	case <-time.After(10 * time.Second):
		d.t.Errorf("chaos: vrrpd on %s: no exit 10s after SIGTERM; killing it", d.host.Name)
		d.Kill()
	}
}

func (d *vrrpd) notifyText() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "notify.log"))
	return string(b)
}

// Transitions returns the notify record: (time, state) pairs.
func (d *vrrpd) Transitions() []transition {
	var out []transition
	sc := bufio.NewScanner(strings.NewReader(d.notifyText()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		sec, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out = append(out, transition{time.Unix(0, int64(sec*1e9)), f[3]})
	}
	return out
}

type transition struct {
	At    time.Time
	State string
}

// statusDoc is the part of vrrpd's status JSON the tests read.
type statusDoc struct {
	Instances []struct {
		Name     string     `json:"name"`
		State    string     `json:"state"`
		Priority int        `json:"priority"`
		Stats    vrrp.Stats `json:"stats"`
	} `json:"instances"`
	Router vrrp.RouterStats `json:"router"`
}

// Status reads the status endpoint.
func (d *vrrpd) Status() (statusDoc, error) {
	var s statusDoc
	c := http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.status)
		}},
	}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://vrrpd/status")
	if err != nil {
		return s, fmt.Errorf("%s: status: %w", d.host.Name, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("%s: status: %w", d.host.Name, err)
	}
	if len(s.Instances) == 0 {
		return s, fmt.Errorf("%s: status: no instances", d.host.Name)
	}
	return s, nil
}

// State returns the first instance's state from the status endpoint
// ("MASTER", "BACKUP", ...), or "" when it cannot be read.
func (d *vrrpd) State() string {
	if !d.running() {
		return "DEAD"
	}
	s, err := d.Status()
	if err != nil {
		return ""
	}
	return s.Instances[0].State
}

// hostAddrs returns every address on any interface of h, from `ip addr`.
func hostAddrs(h *netlab.Host) ([]netip.Addr, error) {
	out, err := exec.Command("ip", "-n", h.NS, "-o", "addr", "show").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: ip addr show: %v: %s", h.Name, err, bytes.TrimSpace(out))
	}
	var as []netip.Addr
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					as = append(as, p.Addr())
				}
			}
		}
	}
	return as, nil
}

// hasAddr reports whether a is on any interface of h.
func hasAddr(t testing.TB, h *netlab.Host, a netip.Addr) bool {
	ok, err := keepalived.HasAddr(h, a)
	if err != nil {
		t.Errorf("chaos: %v", err)
	}
	return ok
}

// delAddr removes a from h's LAN interface if it is there: the stale
// virtual address a crashed daemon leaves behind (a reboot clears it).
func delAddr(t testing.TB, h *netlab.Host, p netip.Prefix) bool {
	t.Helper()
	if !hasAddr(t, h, p.Addr()) {
		return false
	}
	if _, err := h.Run(context.Background(), "ip", "addr", "del", p.String(), "dev", h.Iface); err != nil {
		t.Errorf("chaos: %v", err)
	}
	return true
}

// macvlans lists the macvlan interfaces of h.
func macvlans(h *netlab.Host) (string, error) {
	out, err := exec.Command("ip", "-n", h.NS, "-o", "link", "show", "type", "macvlan").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: ip link show type macvlan: %v: %s", h.Name, err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// nsPIDs lists the processes running in h's namespace, but this one: a
// netlab.Host.Do that ran on the main thread leaves that thread (the
// process's leader, which the runtime wedges instead of ending) in the
// host's namespace, so `ip netns pids` lists the test process itself.
func nsPIDs(h *netlab.Host) []string {
	out, _ := exec.Command("ip", "netns", "pids", h.NS).Output()
	var pids []string
	for _, f := range strings.Fields(string(out)) {
		if f != strconv.Itoa(os.Getpid()) {
			pids = append(pids, f)
		}
	}
	return pids
}

// checkNothingLeft fails t if any of hosts holds one of vips, runs a
// process or has a macvlan.
func checkNothingLeft(t testing.TB, hosts []*netlab.Host, vips []netip.Addr) {
	t.Helper()
	for _, h := range hosts {
		for _, v := range vips {
			if hasAddr(t, h, v) {
				t.Errorf("%s: virtual address %v left behind after stop", h.Name, v)
			}
		}
		if pids := nsPIDs(h); len(pids) > 0 {
			var desc []string
			for _, p := range pids {
				cmd, _ := os.ReadFile("/proc/" + p + "/cmdline")
				st, _ := os.ReadFile("/proc/" + p + "/stat")
				desc = append(desc, fmt.Sprintf("%s %q (%s)", p, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}), bytes.TrimSpace(st)))
			}
			t.Errorf("%s: processes left behind after stop: %s", h.Name, strings.Join(desc, "; "))
		}
		if m, err := macvlans(h); err != nil {
			t.Error(err)
		} else if m != "" {
			t.Errorf("%s: macvlan left behind after stop: %s", h.Name, m)
		}
	}
}

// masterDownInterval is RFC 9568 section 6.1's Master_Down_Interval of a
// backup of priority prio for the master's advertisement interval.
func masterDownInterval(prio int, interval time.Duration) time.Duration {
	skew := time.Duration(256-prio) * interval / 256
	return 3*interval + skew
}

// takeoverBound is the RFC bound plus the tests' margin: max(100ms, 50%).
func takeoverBound(prio int, interval time.Duration) time.Duration {
	mdi := masterDownInterval(prio, interval)
	return mdi + max(100*time.Millisecond, mdi/2)
}

// waitFor polls cond every 20 ms until it holds or d passes; it returns
// how long it took and whether cond held.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
