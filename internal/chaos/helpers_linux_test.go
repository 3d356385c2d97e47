//go:build linux

package chaos

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
)

func TestMain(m *testing.M) { vrrpdtest.Main(m) }

// The longest each test can take on a loaded machine, hang guards
// included (keepalived.RequireTime): a test that go test's -timeout would
// interrupt is not started, so that none is cut short without its
// cleanups. On an idle 2-core machine TestChaos's runs take 45-90 s,
// TestFlood's 15-70 s, TestImpairedLink's about 10 s and TestRouter's a
// few seconds.
const (
	chaosNeed  = 3 * time.Minute
	floodNeed  = 90 * time.Second
	impairNeed = time.Minute
	routerNeed = 30 * time.Second
)

// requireTools skips t (or fails it under CI) unless the process is
// privileged and every tool is on PATH.
func requireTools(t testing.TB, tools ...string) {
	t.Helper()
	netlab.RequirePriv(t)
	for _, tool := range tools {
		netlab.RequireTool(t, tool)
	}
}

// startVrrpd starts vrrpd with opts on h, with a notify record and a
// JSON status endpoint (see vrrpdtest.Start).
func startVrrpd(t testing.TB, h *netlab.Host, opts vrrpdtest.Options) *vrrpdtest.Proc {
	t.Helper()
	return vrrpdtest.Start(t, h, fmt.Sprintf("priority %d", opts.Priority), opts.Args(h.Iface)...)
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
			if vrrpdtest.HasAddr(t, h, v) {
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

// lateOrLoaded reports a duration that went excess past its bound in
// [from, to]: a failure, unless the scheduling probe saw the machine
// loaded enough then to explain it (keepalived.SchedProbe.Loaded), when
// it is logged (LOADED) instead. Only wall-clock bounds go through here,
// never a correctness check.
func lateOrLoaded(t testing.TB, probe *keepalived.SchedProbe, from, to time.Time, excess time.Duration, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if probe.Loaded(from, to, excess) {
		t.Logf("LOADED %s; the machine was loaded (%s): reported, not failed", msg, probe.Describe(from, to))
		return
	}
	t.Errorf("%s (%s)", msg, probe.Describe(from, to))
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
