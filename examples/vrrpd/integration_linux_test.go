//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/vipaddr"
	"github.com/govrrp/govrrp/internal/vrrpdtest"
)

// The integration tests build the vrrpd binary and run it in a netlab LAN
// (namespace prefix "vrd"), as root. They skip when unprivileged, and fail
// instead under GOVRRP_PRIVILEGED=1.
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./examples/vrrpd/ -run Integration -v

func TestMain(m *testing.M) { vrrpdtest.Main(m) }

// startVrrpd starts the daemon, built with the race detector, on h
// (logging at debug level; the log is printed with -v too).
func startVrrpd(t *testing.T, h *netlab.Host, tag string, args ...string) *vrrpdtest.Proc {
	t.Helper()
	p := vrrpdtest.StartBinary(t, vrrpdtest.BuildRace(t), h, tag, append([]string{"-log-level", "debug"}, args...)...)
	if testing.Verbose() {
		t.Cleanup(func() {
			if !t.Failed() { // else vrrpdtest prints it
				t.Logf("%s log:\n%s", p, p.Log())
			}
		})
	}
	return p
}

// getStatus reads p's status document into the daemon's own Status type.
func getStatus(p *vrrpdtest.Proc) (Status, error) {
	var st Status
	err := p.ReadStatus(&st)
	return st, err
}

// hasAddr reports whether the host's eth0 (or dev) holds addr (as
// "ADDR/LEN").
func hasAddr(t *testing.T, h *netlab.Host, addr string) bool {
	t.Helper()
	out, err := h.Run(context.Background(), "ip", "-o", "addr", "show")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(out), " "+addr+" ")
}

// waitFor polls cond until it holds; the timeout only bounds a broken
// run, it is not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationFailover and TestIntegrationIPv6 run with the default
// receive path (woken per packet: one instance is far below
// receive_poll's "auto" threshold), with -ring (transport/raw's
// TPACKET_V3 ring) and polled (-receive-poll 10ms, a tenth of the
// interval: raw.Config.Poll), and sending on the link layer (-send-path
// link: raw.Config.Send).
func TestIntegrationFailover(t *testing.T) {
	t.Run("socket", func(t *testing.T) { testFailover(t) })
	t.Run("ring", func(t *testing.T) { testFailover(t, "-ring") })
	t.Run("poll", func(t *testing.T) { testFailover(t, "-receive-poll", "10ms") })
	t.Run("link", func(t *testing.T) { testFailover(t, "-send-path", "link") })
}

func TestIntegrationIPv6(t *testing.T) {
	t.Run("socket", func(t *testing.T) { testIPv6(t) })
	t.Run("ring", func(t *testing.T) { testIPv6(t, "-ring") })
	t.Run("poll", func(t *testing.T) { testIPv6(t, "-receive-poll", "10ms") })
}

// checkPollLog checks that p said whether it polls its sockets, as
// extra asked.
func checkPollLog(t *testing.T, p *vrrpdtest.Proc, extra []string) {
	t.Helper()
	polled := slices.Contains(extra, "-receive-poll")
	if said := strings.Contains(p.Log(), "reading the VRRP sockets every receive_poll"); said != polled {
		t.Errorf("%s: logged polling %v; want %v (flags %q)", p, said, polled, extra)
	}
}

// checkSendPath checks on master h how its advertisements leave, as
// extra asked: the host firewall's output hook counts them on the socket
// path, and never sees them on the link layer (-send-path link).
func checkSendPath(t *testing.T, h *netlab.Host, extra []string) {
	t.Helper()
	netlab.RequireTool(t, "nft")
	const table = "govrrp_test_out"
	script := "add table inet " + table + "\n" +
		"add chain inet " + table + " out { type filter hook output priority 0; policy accept; }\n" +
		"add rule inet " + table + " out meta l4proto 112 counter\n"
	c := h.Command(context.Background(), "nft", "-f", "-")
	c.Stdin = strings.NewReader(script)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	defer h.Run(context.Background(), "nft", "delete", "table", "inet", table)
	time.Sleep(500 * time.Millisecond) // five advertisements at 100 ms
	out, err := h.Run(context.Background(), "nft", "list", "table", "inet", table)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`counter packets (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no counter in:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	if link := slices.Contains(extra, "link"); link != (n == 0) {
		t.Errorf("%s: the output hook counted %d VRRP packets in 500 ms; want none on the link layer, some on the socket (flags %q)", h.Name, n, extra)
	}
}

func testFailover(t *testing.T, extra ...string) {
	lab := netlab.New(t, "vrd", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	vip, vip2, other := "10.99.0.100/24", "10.99.0.101/32", "10.99.0.102/32"
	// An address the operator configured on h2 is not vrrpd's to remove;
	// a VIP of a non-owner instance that a killed vrrpd left (marked with
	// vipaddr's label) is, as keepalived does at startup
	// (vrrp_complete_instance forces vrrp_restore_interface): a backup
	// must not hold it (RFC 9568 section 6.4.2). An unmarked address equal
	// to a VIP is refused instead (TestIntegrationOwnAddressVIP).
	for _, args := range [][]string{
		{"ip", "addr", "add", vip2, "dev", "eth0", "label", "eth0:vip"},
		{"ip", "addr", "add", other, "dev", "eth0"},
	} {
		if _, err := h2.Run(context.Background(), args[0], args[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	args := func(prio string) []string {
		return append(append([]string{"-iface", "eth0", "-vrid", "51", "-priority", prio, "-interval", "100ms"}, extra...), vip, "10.99.0.101")
	}
	p1 := startVrrpd(t, h1, "prio 200", args("200")...)
	p2 := startVrrpd(t, h2, "prio 100", args("100")...)

	waitFor(t, "h1 to be master", func() bool { return p1.State("VI_51") == "MASTER" })
	waitFor(t, "h2 to be backup", func() bool { return p2.State("VI_51") == "BACKUP" })
	checkPollLog(t, p1, extra)
	checkSendPath(t, h1, extra)
	waitFor(t, "the VIPs on h1", func() bool { return hasAddr(t, h1, vip) && hasAddr(t, h1, vip2) })
	if hasAddr(t, h2, vip) || hasAddr(t, h2, vip2) {
		t.Errorf("backup h2 holds %s or %s", vip, vip2)
	}
	st, err := getStatus(p1)
	if err != nil {
		t.Fatal(err)
	}
	if is := st.Instances[0]; is.VRID != 51 || is.Family != "IPv4" || is.Master != "10.99.0.1" || is.Priority != 200 ||
		is.Stats.MasterTransitions != 1 || st.Router.Sent == 0 {
		t.Errorf("h1 status: %+v, router %+v", is, st.Router)
	}

	// SIGTERM: priority 0, addresses removed, exit 0; h2 takes over.
	p1.Stop() // SIGTERM; a non-zero exit fails the test
	if hasAddr(t, h1, vip) || hasAddr(t, h1, vip2) {
		t.Errorf("h1 kept the VIPs after SIGTERM")
	}
	for _, want := range []string{"INSTANCE VI_51 BACKUP 200", "INSTANCE VI_51 MASTER 200", "INSTANCE VI_51 STOP 200"} {
		if !strings.Contains(p1.Notified(), want+"\n") {
			t.Errorf("h1 notify log %q lacks %q", p1.Notified(), want)
		}
	}
	waitFor(t, "h2 to take over", func() bool { return p2.State("VI_51") == "MASTER" && hasAddr(t, h2, vip) })
	if st, err := getStatus(p2); err != nil || st.Instances[0].Stats.RcvdPriZeroPackets == 0 {
		t.Errorf("h2 heard no priority-0 advertisement from the stopping master: %+v, %v", st, err)
	}
	if !strings.Contains(p1.Log(), "vrrpd stopped") {
		t.Errorf("h1 log lacks the clean stop")
	}

	// h1 comes back and preempts; h2 releases.
	p1 = startVrrpd(t, h1, "prio 200 again", args("200")...)
	waitFor(t, "h1 to preempt", func() bool { return p1.State("VI_51") == "MASTER" && hasAddr(t, h1, vip) })
	waitFor(t, "h2 to release the VIPs", func() bool { return !hasAddr(t, h2, vip) && !hasAddr(t, h2, vip2) })
	if !hasAddr(t, h2, other) {
		t.Errorf("h2 lost %s, which it held before vrrpd ran and is no VIP", other)
	}

	// A crash (SIGKILL): no priority 0, h2 takes over after Master_Down_Interval.
	p1.Kill()
	waitFor(t, "h2 to take over from a crashed master", func() bool { return p2.State("VI_51") == "MASTER" && hasAddr(t, h2, vip) })

	p2.Stop() // SIGTERM; a non-zero exit fails the test
	if hasAddr(t, h2, vip) {
		t.Errorf("h2 kept %s after SIGTERM", vip)
	}
	if hasAddr(t, h2, vip2) {
		t.Errorf("h2 kept %s after SIGTERM", vip2)
	}
	if !hasAddr(t, h2, other) {
		t.Errorf("h2 removed %s, which it did not add and is no VIP", other)
	}
	if _, err := os.Stat(p2.StatusPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status socket left behind: %v", err)
	}
}

func testIPv6(t *testing.T, extra ...string) {
	lab := netlab.New(t, "vrd", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	args := func(prio string) []string {
		return append(append([]string{"-iface", "eth0", "-vrid", "7", "-priority", prio, "-interval", "100ms"}, extra...), "fe80::7", "fd99::7/64")
	}
	p1 := startVrrpd(t, h1, "v6 prio 150", args("150")...)
	p2 := startVrrpd(t, h2, "v6 prio 100", args("100")...)
	waitFor(t, "h1 to be master", func() bool { return p1.State("VI_7") == "MASTER" && hasAddr(t, h1, "fd99::7/64") })
	waitFor(t, "h2 to be backup", func() bool { return p2.State("VI_7") == "BACKUP" })
	checkPollLog(t, p2, extra)
	if hasAddr(t, h2, "fd99::7/64") || hasAddr(t, h2, "fe80::7/128") {
		t.Error("backup holds the IPv6 VIPs")
	}
	if !hasAddr(t, h1, "fe80::7/128") {
		t.Error("master lacks the link-local VIP")
	}
	p1.Stop() // SIGTERM; a non-zero exit fails the test
	if hasAddr(t, h1, "fd99::7/64") {
		t.Error("h1 kept the VIP after SIGTERM")
	}
	waitFor(t, "h2 to take over", func() bool { return p2.State("VI_7") == "MASTER" && hasAddr(t, h2, "fd99::7/64") })
}

func TestIntegrationReload(t *testing.T) {
	lab := netlab.New(t, "vrd", 1)
	h := lab.Host(1)
	path := filepath.Join(netlab.TempDir(t), "vrrpd.toml")
	write := func(vipB string) {
		text := fmt.Sprintf(`
[[instance]]
name = "A"
interface = "eth0"
vrid = 1
interval = "100ms"
vips = ["10.99.0.201"]

[[instance]]
name = "B"
interface = "eth0"
vrid = 2
interval = "100ms"
vips = [%q]
`, vipB)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("10.99.0.202")
	p := startVrrpd(t, h, "config", "-config", path)
	waitFor(t, "both masters", func() bool { return p.State("A") == "MASTER" && p.State("B") == "MASTER" })
	waitFor(t, "the VIPs", func() bool { return hasAddr(t, h, "10.99.0.201/32") && hasAddr(t, h, "10.99.0.202/32") })
	// The notify record, written by commands that run after the
	// transition, lags the state under load: the record before the reload
	// is complete once both MASTER lines are in it (the privileged suite
	// saw A's land after the snapshot, counted as a notify during the
	// reload).
	waitFor(t, "both MASTER notify lines", func() bool {
		n := p.Notified()
		return strings.Contains(n, "INSTANCE A MASTER") && strings.Contains(n, "INSTANCE B MASTER")
	})
	before := p.Notified()

	write("10.99.0.203")
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's new VIP", func() bool {
		return p.State("B") == "MASTER" && hasAddr(t, h, "10.99.0.203/32") && !hasAddr(t, h, "10.99.0.202/32")
	})
	if !hasAddr(t, h, "10.99.0.201/32") {
		t.Error("A lost its VIP over a reload that did not change it")
	}
	st, err := getStatus(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range st.Instances {
		if is.Name == "A" && is.Stats.MasterTransitions != 1 {
			t.Errorf("A: %d master transitions; want 1 (untouched by the reload)", is.Stats.MasterTransitions)
		}
	}
	after := strings.TrimPrefix(p.Notified(), before)
	if strings.Contains(after, " A ") {
		t.Errorf("A was notified during a reload that did not change it: %q", after)
	}
	if !strings.Contains(after, "INSTANCE B STOP") || !strings.Contains(after, "INSTANCE B MASTER") {
		t.Errorf("B's restart not notified: %q", after)
	}
	p.Stop() // SIGTERM; a non-zero exit fails the test
	if hasAddr(t, h, "10.99.0.201/32") || hasAddr(t, h, "10.99.0.203/32") {
		t.Error("VIPs left after SIGTERM")
	}
}

func TestIntegrationErrors(t *testing.T) {
	lab := netlab.New(t, "vrd", 1)
	h := lab.Host(1)
	bin := vrrpdtest.BuildRace(t)
	run := func(name string, args ...string) (int, string) {
		c := h.Command(context.Background(), name, args...)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return c.ProcessState.ExitCode(), out.String()
	}
	code, out := run(bin, "-iface", "eth9", "-vrid", "1", "10.99.0.100")
	if code != 1 || !strings.Contains(out, `interface "eth9": no such interface`) {
		t.Errorf("missing interface: exit %d, %q", code, out)
	}
	code, out = run(bin, "-iface", "eth0", "-vrid", "0", "10.99.0.100")
	if code != 2 || !strings.Contains(out, "-vrid 0: want 1-255") {
		t.Errorf("bad flag: exit %d, %q", code, out)
	}
	code, out = run("setpriv", "--bounding-set", "-net_raw,-net_admin", "--inh-caps", "-all", bin, "-iface", "eth0", "-vrid", "1", "10.99.0.100")
	if code != 1 || !strings.Contains(out, `interface "eth0": missing capabilities`) ||
		!strings.Contains(out, "CAP_NET_RAW") || !strings.Contains(out, "CAP_NET_ADMIN") {
		t.Errorf("without capabilities: exit %d, %q", code, out)
	}

	// As nobody: the interface is looked up first, so a missing one is
	// reported as missing, and the capability error names the interface.
	netlab.RequireTool(t, "setpriv")
	dir := netlab.TempDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	nobodyBin := filepath.Join(dir, "vrrpd")
	if b, err := os.ReadFile(bin); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(nobodyBin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	nobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups", nobodyBin}
	code, out = run("setpriv", append(nobody, "-iface", "nosuch0", "-vrid", "1", "10.99.0.100")...)
	if code != 1 || !strings.Contains(out, `interface "nosuch0": no such interface`) || strings.Contains(out, "capabilit") {
		t.Errorf("as nobody, missing interface: exit %d, %q", code, out)
	}
	code, out = run("setpriv", append(nobody, "-iface", "eth0", "-vrid", "1", "10.99.0.100")...)
	if code != 1 || !strings.Contains(out, `interface "eth0": missing capabilities: CAP_NET_RAW`) || !strings.Contains(out, "CAP_NET_ADMIN") {
		t.Errorf("as nobody: exit %d, %q", code, out)
	}
}

func TestIntegrationVMAC(t *testing.T) {
	lab := netlab.New(t, "vrd", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	args := func(prio string) []string {
		return []string{"-iface", "eth0", "-vrid", "51", "-priority", prio, "-interval", "100ms", "-vmac", "10.99.0.100"}
	}
	p1 := startVrrpd(t, h1, "vmac prio 200", args("200")...)
	p2 := startVrrpd(t, h2, "vmac prio 100", args("100")...)
	waitFor(t, "h1 to be master with the VIP", func() bool { return p1.State("VI_51") == "MASTER" && hasAddr(t, h1, "10.99.0.100/32") })
	waitFor(t, "h2 to be backup", func() bool { return p2.State("VI_51") == "BACKUP" })
	links := func(h *netlab.Host) string {
		out, err := h.Run(context.Background(), "ip", "-o", "link", "show")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	out, err := h1.Run(context.Background(), "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "10.99.0.100") {
		t.Errorf("-vmac put the VIP on eth0 itself:\n%s", out)
	}
	if l := links(h1); !strings.Contains(l, "00:00:5e:00:01:33") {
		t.Errorf("no macvlan with the virtual MAC on h1:\n%s", l)
	}
	if hasAddr(t, h2, "10.99.0.100/32") {
		t.Error("backup holds the VIP")
	}
	p1.Stop() // SIGTERM; a non-zero exit fails the test
	if l := links(h1); strings.Contains(l, "00:00:5e:00:01:33") || hasAddr(t, h1, "10.99.0.100/32") {
		t.Errorf("macvlan or VIP left on h1 after SIGTERM:\n%s", l)
	}
	waitFor(t, "h2 to take over", func() bool { return p2.State("VI_51") == "MASTER" && hasAddr(t, h2, "10.99.0.100/32") })
}

// The instance's own interface going down is FAULT (VIPs removed); up
// again, it comes back.
func TestIntegrationLinkDown(t *testing.T) {
	lab := netlab.New(t, "vrd", 1)
	h := lab.Host(1)
	p := startVrrpd(t, h, "alone", "-iface", "eth0", "-vrid", "9", "-interval", "100ms", "10.99.0.109")
	waitFor(t, "master", func() bool { return p.State("VI_9") == "MASTER" && hasAddr(t, h, "10.99.0.109/32") })
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fault", func() bool { return p.State("VI_9") == "FAULT" && !hasAddr(t, h, "10.99.0.109/32") })
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "master again", func() bool { return p.State("VI_9") == "MASTER" && hasAddr(t, h, "10.99.0.109/32") })
	if !strings.Contains(p.Notified(), "INSTANCE VI_9 FAULT 100\n") {
		t.Errorf("no FAULT notify: %q", p.Notified())
	}
	p.Stop() // SIGTERM; a non-zero exit fails the test
}

// Accept_Mode off (the default): a non-owner master drops packets
// addressed to its VIPs, but ARP and Neighbor Discovery still resolve
// them (RFC 9568 section 6.4.3). accept = true and the owner accept
// them. Nothing is left behind on exit.
func TestIntegrationAcceptMode(t *testing.T) {
	netlab.RequireTool(t, "nft")
	netlab.RequireTool(t, "arping")
	netlab.RequireTool(t, "ndisc6")
	lab := netlab.New(t, "vrd", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	h1.ServeTCP(t, 7777, "")
	path := filepath.Join(netlab.TempDir(t), "vrrpd.toml")
	write := func(accept bool) {
		text := fmt.Sprintf(`
[[instance]]
name = "V4"
interface = "eth0"
vrid = 51
interval = "100ms"
accept = %[1]v
vips = ["10.99.0.100"]

[[instance]]
name = "V6"
interface = "eth0"
vrid = 51
interval = "100ms"
accept = %[1]v
vips = ["fd99::100"]
`, accept)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	masters := func(p *vrrpdtest.Proc) func() bool {
		return func() bool {
			return p.State("V4") == "MASTER" && p.State("V6") == "MASTER" &&
				hasAddr(t, h1, "10.99.0.100/32") && hasAddr(t, h1, "fd99::100/128")
		}
	}

	write(false)
	p := startVrrpd(t, h1, "no accept", "-config", path)
	waitFor(t, "h1 master of both", masters(p))
	if got := acceptRecords(t, h1); !strings.Contains(got, `"eth0" . 0x00000033 . 10.99.0.100`) || !strings.Contains(got, `"eth0" . 0x00000033 . fd99::100`) {
		t.Errorf("no accept-mode records of VRID 51 on the master:\n%s", got)
	}
	if h2.CanDialTCP(netip.MustParseAddr("10.99.0.100"), 7777) || h2.CanDialTCP(netip.MustParseAddr("fd99::100"), 7777) {
		t.Error("a non-owner master without Accept_Mode accepted a TCP connection to its VIP")
	}
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(h1.Addr4, 7777) }) {
		t.Error("the master's own address is blocked")
	}
	if out, err := h2.Run(context.Background(), "arping", "-c", "1", "-w", "2", "-I", "eth0", "10.99.0.100"); err != nil ||
		!strings.Contains(strings.ToLower(string(out)), h1.MAC.String()) {
		t.Errorf("ARP for the VIP: %v\n%s", err, out)
	}
	if out, err := h2.Run(context.Background(), "ndisc6", "-1", "-r", "3", "-w", "1000", "fd99::100", "eth0"); err != nil ||
		!strings.Contains(strings.ToLower(string(out)), h1.MAC.String()) {
		t.Errorf("Neighbor Discovery for the VIP: %v\n%s", err, out)
	}
	p.Stop() // SIGTERM; a non-zero exit fails the test
	if got := h1.NFTTables(t); strings.Contains(got, "govrrp") {
		t.Errorf("tables left after SIGTERM:\n%s", got)
	}

	write(true)
	p = startVrrpd(t, h1, "accept", "-config", path)
	waitFor(t, "h1 master of both with accept", masters(p))
	if !netlab.Eventually(func() bool {
		return h2.CanDialTCP(netip.MustParseAddr("10.99.0.100"), 7777) && h2.CanDialTCP(netip.MustParseAddr("fd99::100"), 7777)
	}) {
		t.Error("a master with Accept_Mode refused a TCP connection to its VIP")
	}
	if got := h1.NFTTables(t); strings.Contains(got, "govrrp") {
		t.Errorf("accept = true, yet a filter:\n%s", got)
	}
	p.Stop()

	// The address owner accepts without -accept.
	p = startVrrpd(t, h1, "owner", "-iface", "eth0", "-vrid", "52", "-priority", "255", "-interval", "100ms", "10.99.0.101")
	waitFor(t, "the owner master", func() bool { return p.State("VI_52") == "MASTER" && hasAddr(t, h1, "10.99.0.101/32") })
	if !netlab.Eventually(func() bool { return h2.CanDialTCP(netip.MustParseAddr("10.99.0.101"), 7777) }) {
		t.Error("the owner refused a TCP connection to its VIP")
	}
	if got := h1.NFTTables(t); strings.Contains(got, "govrrp") {
		t.Errorf("the owner has a filter:\n%s", got)
	}
	p.Stop()
}

// TestIntegrationStaleVIPAfterKill: vrrpd killed with SIGKILL as master
// cannot remove its VIP; when it starts again and a better master is
// running, it removes the leftover before it runs as backup (as
// keepalived does), so two hosts never hold the VIP at once.
func TestIntegrationStaleVIPAfterKill(t *testing.T) {
	lab := netlab.New(t, "vrdst", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	vip := "10.99.0.100/24"
	args := func(prio string) []string {
		return []string{"-iface", "eth0", "-vrid", "52", "-priority", prio, "-interval", "100ms", vip}
	}
	p1 := startVrrpd(t, h1, "prio 100", args("100")...)
	waitFor(t, "h1 to be master", func() bool { return p1.State("VI_52") == "MASTER" && hasAddr(t, h1, vip) })
	p1.Kill()
	if !hasAddr(t, h1, vip) {
		t.Fatal("the killed vrrpd removed its VIP: the test has nothing to check")
	}
	p2 := startVrrpd(t, h2, "prio 200", args("200")...)
	waitFor(t, "h2 to be master", func() bool { return p2.State("VI_52") == "MASTER" && hasAddr(t, h2, vip) })
	p1 = startVrrpd(t, h1, "prio 100 again", args("100")...)
	waitFor(t, "h1 to be backup", func() bool { return p1.State("VI_52") == "BACKUP" })
	if hasAddr(t, h1, vip) {
		t.Errorf("restarted backup h1 still holds the VIP %s its killed run left", vip)
	}
	if !strings.Contains(p1.Log(), "left on the interface") {
		t.Errorf("h1 log does not say it removed a leftover VIP:\n%s", p1.Log())
	}
	if !hasAddr(t, h2, vip) {
		t.Errorf("master h2 lost the VIP")
	}
}

// arpReplies sends count ARP requests for ip from h and returns the
// sender MAC of every reply, one entry per reply: two hosts answering
// give two entries per request.
func arpReplies(t *testing.T, h *netlab.Host, ip string, count int) []string {
	t.Helper()
	netlab.RequireTool(t, "arping")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := h.Command(ctx, "arping", "-i", "eth0", "-c", fmt.Sprint(count), "-W", "0.3", ip).CombinedOutput()
	var macs []string
	for _, m := range arpReplyRE.FindAllStringSubmatch(string(out), -1) {
		if m[2] == ip {
			macs = append(macs, strings.ToLower(m[1]))
		}
	}
	return macs
}

var arpReplyRE = regexp.MustCompile(`bytes from ([0-9a-fA-F:]{17}) \(([0-9.]+)\)`)

// TestIntegrationStaleMacvlanAfterKill: a -vmac master killed with
// SIGKILL leaves its macvlan up with the VIP. When it starts again beside
// a better master, it removes the macvlan (and restores eth0's
// arp_ignore) before it runs as backup, so that a third host's ARP
// requests for the VIP get the virtual MAC from the master alone.
func TestIntegrationStaleMacvlanAfterKill(t *testing.T) {
	lab := netlab.New(t, "vrdsm", 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	const vip, vmac = "10.99.0.100", "00:00:5e:00:01:36" // VRID 54
	args := func(prio string) []string {
		return []string{"-iface", "eth0", "-vrid", "54", "-priority", prio, "-interval", "100ms", "-vmac", vip}
	}
	macvlan := func(h *netlab.Host) string {
		out, err := h.Run(context.Background(), "ip", "-o", "link", "show")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, vmac) {
				return l
			}
		}
		return ""
	}
	arpIgnore := func(h *netlab.Host) string {
		out, err := h.Run(context.Background(), "sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	before := arpIgnore(h1)

	p1 := startVrrpd(t, h1, "vmac prio 100", args("100")...)
	waitFor(t, "h1 to be master", func() bool { return p1.State("VI_54") == "MASTER" && hasAddr(t, h1, vip+"/32") })
	p1.Kill()
	if l := macvlan(h1); !strings.Contains(l, ",UP") || !hasAddr(t, h1, vip+"/32") {
		t.Fatalf("the killed vrrpd left no macvlan up with the VIP: the test has nothing to check\n%s", l)
	}

	p2 := startVrrpd(t, h2, "vmac prio 200", args("200")...)
	waitFor(t, "h2 to be master", func() bool { return p2.State("VI_54") == "MASTER" && hasAddr(t, h2, vip+"/32") })
	p1 = startVrrpd(t, h1, "vmac prio 100 again", args("100")...)
	waitFor(t, "h1 to be backup", func() bool { return p1.State("VI_54") == "BACKUP" })
	if l := macvlan(h1); l != "" {
		t.Errorf("restarted backup h1 still has the macvlan its killed run left:\n%s", l)
	}
	if hasAddr(t, h1, vip+"/32") {
		t.Errorf("restarted backup h1 still holds the VIP %s", vip)
	}
	if got := arpIgnore(h1); got != before {
		t.Errorf("h1 eth0 arp_ignore = %s, want %s (as before the killed run)", got, before)
	}
	if !strings.Contains(p1.Log(), "removed a macvlan a previous run left") {
		t.Errorf("h1 log does not say it removed the leftover macvlan:\n%s", p1.Log())
	}
	// One answer per request, with the virtual MAC: the master's.
	if got, want := arpReplies(t, h3, vip, 3), []string{vmac, vmac, vmac}; !slices.Equal(got, want) {
		t.Errorf("arping %s from h3: replies %v, want %v (h2 alone)", vip, got, want)
	}
	if p1.State("VI_54") != "BACKUP" || p2.State("VI_54") != "MASTER" || !hasAddr(t, h2, vip+"/32") {
		t.Errorf("h1 %s, h2 %s: want BACKUP and MASTER with the VIP", p1.State("VI_54"), p2.State("VI_54"))
	}
}

// TestIntegrationStaleFilterAfterKill: a master without Accept_Mode
// killed with SIGKILL leaves its Accept_Mode table. Restarted with
// -accept, or as the owner, vrrpd never blocks, so it removes the table
// at start: the VIP is reachable once it is master.
func TestIntegrationStaleFilterAfterKill(t *testing.T) {
	netlab.RequireTool(t, "nft")
	for _, c := range []struct {
		name  string
		again []string
	}{
		{"accept", []string{"-priority", "100", "-accept"}},
		{"owner", []string{"-priority", "255"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lab := netlab.New(t, "vrdsf", 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			h1.ServeTCP(t, 7777, "")
			vip := netip.MustParseAddr("10.99.0.100")
			args := func(extra ...string) []string {
				return append(append([]string{"-iface", "eth0", "-vrid", "55", "-interval", "100ms"}, extra...), vip.String())
			}
			p := startVrrpd(t, h1, "no accept", args("-priority", "100")...)
			waitFor(t, "h1 to be master", func() bool { return p.State("VI_55") == "MASTER" && hasAddr(t, h1, vip.String()+"/32") })
			p.Kill()
			if got := acceptRecords(t, h1); !strings.Contains(got, `"eth0" . 0x00000037 . 10.99.0.100`) {
				t.Fatalf("the killed vrrpd left no accept-mode record: the test has nothing to check\n%s", got)
			}
			if h2.CanDialTCP(vip, 7777) {
				t.Fatal("the leftover table does not block: the test has nothing to check")
			}

			p = startVrrpd(t, h1, c.name, args(c.again...)...)
			waitFor(t, "h1 to be master again", func() bool { return p.State("VI_55") == "MASTER" && hasAddr(t, h1, vip.String()+"/32") })
			if got := h1.NFTTables(t); strings.Contains(got, vipaddrTablePrefix) {
				t.Errorf("a table is left with %s:\n%s", c.name, got)
			}
			if !netlab.Eventually(func() bool { return h2.CanDialTCP(vip, 7777) }) {
				t.Errorf("the master with %s refused a TCP connection to its VIP", c.name)
			}
			if !strings.Contains(p.Log(), "removed an accept-mode filter table a previous run left") {
				t.Errorf("the log does not say it removed the leftover table:\n%s", p.Log())
			}
			p.Stop() // SIGTERM; a non-zero exit fails the test
		})
	}
}

// vipaddrTablePrefix starts the Accept_Mode tables (vipaddr.TablePrefix).
const vipaddrTablePrefix = "govrrp_"

// acceptRecords lists the shared Accept_Mode table (vipaddr.FilterTable)
// on h: its record sets hold "interface . VRID . address" per virtual
// router. Empty when there is no such table.
func acceptRecords(t *testing.T, h *netlab.Host) string {
	t.Helper()
	out, err := h.Run(context.Background(), "nft", "list", "table", "inet", vipaddr.FilterTable)
	if err != nil {
		return ""
	}
	return string(out)
}

// TestIntegrationOwnAddressVIP (issue 15 item 4): a non-owner whose VIP
// is the host's own address is refused, naming the instance, the key and
// the address, and the address stays on the interface (it used to be
// removed as "left on the interface", and vrrpd then failed with "no IPv4
// address on the interface").
func TestIntegrationOwnAddressVIP(t *testing.T) {
	lab := netlab.New(t, "vrdown", 1)
	h := lab.Host(1)
	bin := vrrpdtest.BuildRace(t)
	c := h.Command(context.Background(), bin, "-iface", "eth0", "-vrid", "1", "-priority", "100", "10.99.0.1")
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("vrrpd with the host's own address as VIP: %v; want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), `instance "VI_1": vips = 10.99.0.1/32: want an address not configured on eth0`) {
		t.Errorf("error does not name the instance, key and address:\n%s", out)
	}
	if strings.Contains(string(out), "left on the interface") || !hasAddr(t, h, "10.99.0.1/24") {
		t.Errorf("the host's own address was removed:\n%s", out)
	}
}
