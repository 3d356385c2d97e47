//go:build linux

package measure

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
)

// The harness flags. They only matter with -measure.
var (
	measureFlag = flag.Bool("measure", false, "run the vrrpd vs keepalived measurements (minutes, root)")
	trialsFlag  = flag.Int("measure.trials", 30, "trials per implementation, interval and kind")
	intervals   = flag.String("measure.intervals", "10ms,100ms,1s", "advertisement intervals of the takeover and handover trials")
	vrsFlag     = flag.Int("measure.vrs", 255, "virtual routers of the CPU measurement")
	windowFlag  = flag.Duration("measure.window", 30*time.Second, "CPU measurement window after convergence")
	perfFlag    = flag.Duration("measure.perf", 0, "after the CPU window, profile both daemons of each side with `perf record` for this long and write perf-IMPL-SIDE.txt (0: no)")
	inprocFlag  = flag.Bool("measure.inproc", true, "also time a vrrp.Router in process with a no-op hook in the takeover and handover trials")
	outFlag     = flag.String("measure.out", "testdata", "directory for the tables, raw samples and plots")
	// baselineFlag adds a vrrpd binary built from older code, as
	// "vrrpd-baseline", to the takeover and handover trials, which then
	// interleave the implementations trial by trial (runInterleaved).
	baselineFlag = flag.String("measure.baseline", "", "`path` of a vrrpd binary built from the code before (e.g. `go build -o /tmp/vrrpd-old ./examples/vrrpd` in a worktree of the old commit): timed as \"vrrpd-baseline\" in the takeover and handover trials, interleaved trial by trial with the others")
)

// gate skips t unless the measurements were asked for, then checks the
// privileges and tools they need (skipping, or failing under GOVRRP_PRIVILEGED=1, when something is missing).
func gate(t *testing.T) {
	t.Helper()
	if !*measureFlag && os.Getenv("GOVRRP_MEASURE") != "1" {
		t.Skip("measurement harness, skipped by design (also under CI=true): these are minutes-long " +
			"measurements, not tests; run them with `sudo GOVRRP_PRIVILEGED=1 go test ./internal/measure -run TestMeasure -measure -v -timeout 60m`")
	}
	netlab.RequirePriv(t)
	for _, tool := range []string{"keepalived", "tcpdump", "tshark"} {
		netlab.RequireTool(t, tool)
	}
}

// buildVrrpd builds examples/vrrpd into dir and returns the binary.
func buildVrrpd(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(dir, "vrrpd")
	c := exec.Command("go", "build", "-o", bin, "./examples/vrrpd")
	c.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/vrrpd: %v\n%s", err, out)
	}
	return bin
}

// A daemon is one running VRRP daemon (vrrpd or keepalived) on a lab host.
type daemon interface {
	// WaitState waits until the (first) virtual router reports state.
	WaitState(ctx context.Context, state string) error
	// Kill crashes the daemon (SIGKILL by PID): nothing more is sent.
	Kill()
	// Stop sends SIGTERM (priority 0 advertisement) and waits for the exit.
	Stop()
	// PIDs returns the daemon's processes.
	PIDs() []int
}

// An impl starts daemons of one implementation.
type impl struct {
	name string
	// start runs one virtual router (VRID 51, VIP 10.99.0.100/32, VRRPv3
	// over IPv4) at prio and interval on h.
	start func(t *testing.T, h *netlab.Host, prio int, interval time.Duration) daemon
	// startMany runs n virtual routers (VRIDs 1..n, VIP 10.99.1.VRID/32
	// each) at prio and interval on h.
	startMany func(t *testing.T, h *netlab.Host, n, prio int, interval time.Duration) daemon
	// states counts the virtual routers of d per reported state.
	states func(d daemon) (map[string]int, error)
}

const vip = "10.99.0.100/32"

// ---- vrrpd ----

// vrrpdProc is one vrrpd process, in its own process group.
type vrrpdProc struct {
	t      *testing.T
	host   *netlab.Host
	dir    string
	cmd    *exec.Cmd
	status string // unix socket of -status, or ""
	done   chan struct{}
	err    error
}

func startVrrpdProc(t *testing.T, bin string, h *netlab.Host, args ...string) *vrrpdProc {
	t.Helper()
	d := &vrrpdProc{t: t, host: h, dir: netlab.TempDir(t), done: make(chan struct{})}
	notify := filepath.Join(d.dir, "notify.sh")
	script := "#!/bin/sh\necho \"$(date +%s.%N) $*\" >> " + filepath.Join(d.dir, "notify.log") + "\n"
	if err := os.WriteFile(notify, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-notify", notify}, args...)
	for i, a := range args {
		if a == "-status" {
			d.status = strings.TrimPrefix(args[i+1], "unix:")
		}
	}
	lf, err := os.Create(filepath.Join(d.dir, "vrrpd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = h.Command(context.Background(), bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = lf, lf
	if err := d.cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("%s: start vrrpd: %v", h.Name, err)
	}
	go func() {
		d.err = d.cmd.Wait()
		lf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		if d.running() {
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(d.dir, "vrrpd.log"))
			t.Logf("vrrpd on %s: %s\n%s", h.Name, strings.Join(d.cmd.Args, " "), b)
		}
	})
	return d
}

func (d *vrrpdProc) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func (d *vrrpdProc) PIDs() []int { return []int{d.cmd.Process.Pid} }

// lastState returns the state of the last notify.log line
// ("EPOCH INSTANCE NAME STATE PRIO"), "INIT" before any.
func (d *vrrpdProc) lastState() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "notify.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 5 {
		return "INIT"
	}
	return strings.ToUpper(f[len(f)-2])
}

func (d *vrrpdProc) WaitState(ctx context.Context, state string) error {
	for d.lastState() != state {
		select {
		case <-d.done:
			return fmt.Errorf("vrrpd on %s exited (%v) waiting for %s", d.host.Name, d.err, state)
		case <-ctx.Done():
			return fmt.Errorf("vrrpd on %s: waiting for %s (now %s): %w", d.host.Name, state, d.lastState(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

func (d *vrrpdProc) Kill() {
	if !d.running() {
		return
	}
	_ = syscall.Kill(d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL) // notify stragglers
}

func (d *vrrpdProc) Stop() {
	if !d.running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		if d.err != nil {
			d.t.Errorf("vrrpd on %s: exit after SIGTERM: %v", d.host.Name, d.err)
		}
	case <-time.After(10 * time.Second):
		d.t.Errorf("vrrpd on %s: no exit 10s after SIGTERM; killing it", d.host.Name)
		d.Kill()
	}
}

func vrrpdImpl(bin string) impl { return vrrpdImplWith(bin, "vrrpd", nil, "", "") }

// baselineImpl is vrrpd as built from older code: the binary at path,
// named "vrrpd-baseline". It must take the command line vrrpdImpl gives.
func baselineImpl(t *testing.T, path string) impl {
	t.Helper()
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("-measure.baseline %q: want an executable vrrpd binary (%v)", path, err)
	}
	im := vrrpdImpl(path)
	im.name = "vrrpd-baseline"
	return im
}

// vrrpdImplRing is vrrpd receiving through the TPACKET_V3 ring (-ring,
// ring = true).
func vrrpdImplRing(bin string) impl {
	return vrrpdImplWith(bin, "vrrpd -ring", []string{"-ring"}, "", "ring = true\n")
}

// vrrpdImplNoPoll is vrrpd woken for every packet (-receive-poll off,
// receive_poll = "off"): what "auto" chooses below 1,000 advertisements
// a second, and vrrpd before receive_poll.
func vrrpdImplNoPoll(bin string) impl {
	return vrrpdImplWith(bin, "vrrpd -receive-poll off", []string{"-receive-poll", "off"}, "receive_poll = \"off\"\n", "")
}

// vrrpdImplWith is vrrpd named name, started with flags (one instance) or
// with the top-level keys top and every instance's keys key (a file).
func vrrpdImplWith(bin, name string, flags []string, top, key string) impl {
	return impl{
		name: name,
		start: func(t *testing.T, h *netlab.Host, prio int, interval time.Duration) daemon {
			args := append([]string{"-iface", h.Iface, "-vrid", "51", "-priority", strconv.Itoa(prio),
				"-version", "3", "-interval", interval.String()}, flags...)
			return startVrrpdProc(t, bin, h, append(args, vip)...)
		},
		startMany: func(t *testing.T, h *netlab.Host, n, prio int, interval time.Duration) daemon {
			dir := netlab.TempDir(t)
			var b strings.Builder
			b.WriteString("log_level = \"info\"\n" + top)
			for id := 1; id <= n; id++ {
				fmt.Fprintf(&b, "\n[[instance]]\nname = \"VI_%d\"\ninterface = %q\nvrid = %d\npriority = %d\nversion = 3\ninterval = %q\nvips = [\"10.99.1.%d/32\"]\n%s",
					id, h.Iface, id, prio, interval.String(), id, key)
			}
			conf := filepath.Join(dir, "vrrpd.toml")
			if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			// Notify runs only at transitions (none in the window).
			return startVrrpdProc(t, bin, h, "-config", conf, "-status", "unix:"+filepath.Join(dir, "status.sock"))
		},
		states: func(d daemon) (map[string]int, error) {
			p := d.(*vrrpdProc)
			// A unix socket is reachable from any network namespace.
			c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "unix", p.status)
				}}}
			defer c.CloseIdleConnections()
			resp, err := c.Get("http://vrrpd/status")
			if err != nil {
				return nil, fmt.Errorf("vrrpd status: %v", err)
			}
			defer resp.Body.Close()
			out, err := io.ReadAll(resp.Body)
			if err != nil {
				return nil, fmt.Errorf("vrrpd status: %v", err)
			}
			return countJSONStates(out), nil
		},
	}
}

var jsonStateRE = regexp.MustCompile(`"state"\s*:\s*"(\w+)"`)

// countJSONStates counts the "state" values of vrrpd's status document.
func countJSONStates(b []byte) map[string]int {
	m := map[string]int{}
	for _, s := range jsonStateRE.FindAllSubmatch(b, -1) {
		m[strings.ToUpper(string(s[1]))]++
	}
	return m
}

// ---- keepalived ----

type kaProc struct{ *keepalived.Instance }

func (k kaProc) WaitState(ctx context.Context, state string) error {
	_, err := k.Instance.WaitState(ctx, state)
	return err
}

func (k kaProc) PIDs() []int { return append([]int{k.PID()}, descendants(k.PID())...) }

var enteringRE = regexp.MustCompile(`\((\S+)\) Entering (\w+) STATE`)

func kaImpl() impl {
	zero := 0
	return impl{
		name: "keepalived",
		start: func(t *testing.T, h *netlab.Host, prio int, interval time.Duration) daemon {
			cfg := keepalived.Config{Version: 3, GARPMasterDelay: &zero, Instances: []keepalived.VRRPInstance{{
				VRID: 51, Priority: prio, AdvertInterval: interval,
				VIPs: []netip.Prefix{netip.MustParsePrefix(vip)},
			}}}
			return kaProc{keepalived.Start(t, h, cfg)}
		},
		startMany: func(t *testing.T, h *netlab.Host, n, prio int, interval time.Duration) daemon {
			cfg := keepalived.Config{Version: 3}
			for id := 1; id <= n; id++ {
				cfg.Instances = append(cfg.Instances, keepalived.VRRPInstance{
					VRID: id, Priority: prio, AdvertInterval: interval,
					VIPs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.99.1.%d/32", id))},
				})
			}
			return kaProc{keepalived.Start(t, h, cfg)}
		},
		states: func(d daemon) (map[string]int, error) {
			cur := map[string]string{}
			for _, l := range d.(kaProc).Log() {
				if m := enteringRE.FindStringSubmatch(l.Text); m != nil {
					cur[m[1]] = m[2]
				}
			}
			out := map[string]int{}
			for _, s := range cur {
				out[s]++
			}
			return out, nil
		},
	}
}

// ---- /proc ----

// descendants returns every descendant of pid, from /proc/*/stat.
func descendants(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields(p)
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	for q := []int{pid}; len(q) > 0; q = q[1:] {
		out = append(out, children[q[0]]...)
		q = append(q, children[q[0]]...)
	}
	return out
}

// statFields returns the fields of /proc/PID/stat after the command name:
// state, ppid, ... (field 3 of proc(5) is index 0).
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// clockTicks is USER_HZ, the unit of utime and stime.
func clockTicks(t *testing.T) float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Fatalf("getconf CLK_TCK: %v", err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || v <= 0 {
		t.Fatalf("getconf CLK_TCK: %q", out)
	}
	return v
}

// cpuTicks sums utime+stime (proc(5) fields 14 and 15) over pids.
func cpuTicks(pids []int) (int64, error) {
	var sum int64
	for _, p := range pids {
		f := statFields(p)
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: process gone", p)
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %v", p, err)
		}
		sum += u + s
	}
	return sum, nil
}

// rssKB sums VmRSS and RssAnon (the part not backed by files: heap,
// stacks, private data; shared libraries are file-backed) over pids, and
// lists VmRSS per process.
func rssKB(pids []int) (rss, anon int64, each string, err error) {
	var per []string
	for _, p := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/status")
		if err != nil {
			return 0, 0, "", err
		}
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || (k != "VmRSS" && k != "RssAnon") {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, 0, "", fmt.Errorf("/proc/%d/status %s %q: %v", p, k, v, err)
			}
			if k == "VmRSS" {
				rss += n
				per = append(per, fmt.Sprintf("%.1f", float64(n)/1024))
			} else {
				anon += n
			}
		}
	}
	return rss, anon, strings.Join(per, " + "), nil
}

// ctxSwitches sums voluntary and involuntary context switches over every
// thread of pids (/proc/PID/task/*/status).
func ctxSwitches(pids []int) int64 {
	var sum int64
	for _, p := range pids {
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(p) + "/task")
		for _, tk := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/task/" + tk.Name() + "/status")
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(l, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					sum += n
				}
			}
		}
	}
	return sum
}

var statsRE = regexp.MustCompile(`"(rx|tx)":\{"bytes":\d+,"packets":(\d+)`)

// linkPackets returns eth0's received and sent packet counters.
func linkPackets(h *netlab.Host) (rx, tx int64, err error) {
	out, err := exec.Command("ip", "-n", h.NS, "-s", "-j", "link", "show", "dev", h.Iface).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: ip -s -j link show: %v", h.Name, err)
	}
	m := statsRE.FindAllSubmatch(out, -1)
	if len(m) < 2 {
		return 0, 0, fmt.Errorf("%s: no rx/tx counters in %s", h.Name, out)
	}
	for _, s := range m[:2] {
		n, _ := strconv.ParseInt(string(s[2]), 10, 64)
		if string(s[1]) == "rx" {
			rx = n
		} else {
			tx = n
		}
	}
	return rx, tx, nil
}

// loadavg returns the first three fields of /proc/loadavg.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// results collects what the parts produce, for the output files.
type results struct {
	mu   sync.Mutex
	runs map[string]map[time.Duration]map[string]*trialSet // kind -> interval -> impl
}

func (r *results) add(kind string, interval time.Duration, name string, s *trialSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs == nil {
		r.runs = map[string]map[time.Duration]map[string]*trialSet{}
	}
	if r.runs[kind] == nil {
		r.runs[kind] = map[time.Duration]map[string]*trialSet{}
	}
	if r.runs[kind][interval] == nil {
		r.runs[kind][interval] = map[string]*trialSet{}
	}
	r.runs[kind][interval][name] = s
}
