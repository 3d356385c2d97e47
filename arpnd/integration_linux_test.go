//go:build linux

package arpnd

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
)

// The integration tests build a 3-host LAN in network namespaces
// (internal/netlab, prefix "arpt"): h1 and h2 run Announcers, h3 observes
// with tcpdump / tshark, arping and ndisc6.

var (
	lanVIP4 = netip.MustParseAddr("10.99.0.100")
	lanVIP6 = netip.MustParseAddr("fd99::100")
)

func lanVR(h *netlab.Host, vip netip.Addr) vrrp.VRInfo {
	return vrrp.VRInfo{Name: "vr7", Interface: h.Iface, IfIndex: h.IfIndex, VRID: 7, Version: 3, Priority: 100, Addrs: []netip.Addr{vip}}
}

// newHostAnnouncer runs New inside h's namespace and closes it at cleanup.
func newHostAnnouncer(t *testing.T, h *netlab.Host, cfg Config) *Announcer {
	t.Helper()
	var a *Announcer
	if err := h.Do(func() (err error) { a, err = New(cfg); return err }); err != nil {
		t.Fatalf("%s: New: %v", h.Name, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func mustHook(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// capture runs tcpdump on h's eth0 until the returned function is called,
// which returns the captured frames as tshark field rows.
func capture(t *testing.T, h *netlab.Host, filter string, fields ...string) func() []string {
	t.Helper()
	return captureArgs(t, h, nil, filter, fields...)
}

// captureArgs is capture with more tcpdump arguments (say "-Q", "out").
func captureArgs(t *testing.T, h *netlab.Host, args []string, filter string, fields ...string) func() []string {
	t.Helper()
	netlab.RequireTool(t, "tcpdump")
	netlab.RequireTool(t, "tshark")
	file := filepath.Join(netlab.TempDir(t), "cap.pcap")
	args = append(append([]string{"-i", h.Iface, "-n", "-U", "--immediate-mode", "-w", file}, args...), filter)
	c := h.Command(context.Background(), "tcpdump", args...)
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.StartCmd(c); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump did not start listening within 10s")
	}
	return func() []string {
		time.Sleep(300 * time.Millisecond) // let the last frames arrive
		c.Process.Signal(syscall.SIGINT)
		c.Wait()
		args := []string{"-r", file, "-T", "fields", "-E", "separator=|"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		var rows []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" {
				rows = append(rows, l)
			}
		}
		return rows
	}
}

// garpCaptureFields are the tshark fields of a whole gratuitous ARP
// frame; garpRow is the row of the one for vip from mac.
var garpCaptureFields = []string{"frame.len", "eth.dst", "eth.src", "eth.type", "eth.padding",
	"arp.hw.type", "arp.proto.type", "arp.hw.size", "arp.proto.size", "arp.opcode",
	"arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4"}

func garpRow(mac string, vip netip.Addr) string {
	return fmt.Sprintf("60|ff:ff:ff:ff:ff:ff|%s|0x0806|%s|1|0x0800|6|4|1|%s|%s|ff:ff:ff:ff:ff:ff|%s",
		mac, strings.Repeat("00", 18), mac, vip, vip)
}

func repeat(s string, n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = s
	}
	return r
}

// TestIntegrationAnnounce: after Take+Announce, a third host sees the
// gratuitous ARPs and unsolicited NAs with the right fields, from the
// interface MAC, the virtual MAC, or the macvlan.
func TestIntegrationAnnounce(t *testing.T) {
	for _, mode := range []Mode{ModeInterfaceMAC, ModeVirtualMAC, ModeMacvlan} {
		t.Run(mode.String(), func(t *testing.T) {
			lab := netlab.New(t, "arpt", 3)
			h1, h3 := lab.Host(1), lab.Host(3)
			a := newHostAnnouncer(t, h1, Config{Mode: mode, MasterRepeat: 2, MasterDelay: -1})
			mac4, mac6 := h1.MAC.String(), h1.MAC.String()
			src6 := h1.LinkLocal()
			if mode != ModeInterfaceMAC {
				mac4, mac6 = VirtualMAC(7, false).String(), VirtualMAC(7, true).String()
			}
			if mode == ModeMacvlan {
				src6 = macvlanLinkLocal(h1.MAC, 7)
			}

			stop := capture(t, h3, "arp or icmp6",
				"eth.src", "eth.dst", "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
				"ipv6.src", "ipv6.dst", "ipv6.hlim", "icmpv6.type", "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s", "icmpv6.nd.na.flag.o",
				"icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr", "icmpv6.checksum.status")
			v4, v6 := lanVR(h1, lanVIP4), lanVR(h1, lanVIP6)
			mustHook(t, "Take v4", a.Take(v4))
			mustHook(t, "Announce v4", a.Announce(v4))
			mustHook(t, "Take v6", a.Take(v6))
			mustHook(t, "Announce v6", a.Announce(v6))
			rows := stop()

			wantARP := fmt.Sprintf("%s|ff:ff:ff:ff:ff:ff|1|%s|10.99.0.100|ff:ff:ff:ff:ff:ff|10.99.0.100||||||||||", mac4, mac4)
			wantNA := fmt.Sprintf("%s|33:33:00:00:00:01||||||%s|ff02::1|255|136|1|0|1|fd99::100|%s|1", mac6, src6, mac6)
			var got []string
			for _, r := range rows {
				// Keep what h1 sent for the virtual addresses (the kernel's
				// own ND and MLD traffic of a new macvlan is not ours).
				if strings.Contains(r, "10.99.0.100") || strings.Contains(r, "|136|") {
					got = append(got, r)
				}
			}
			want := append(repeat(wantARP, 2), repeat(wantNA, 2)...)
			sort.Strings(want)
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("captured announcements (-want +got):\n%s\nall frames:\n%s", diff, strings.Join(rows, "\n"))
			}
		})
	}
}

var (
	arpingRE = regexp.MustCompile(`bytes from ([0-9a-f:]{17}) \(([0-9.]+)\)`)
	ndiscRE  = regexp.MustCompile(`(?i)Target link-layer address: ([0-9a-f:]{17})`)
)

// arping sends count ARP requests for ip from h and returns the MACs of
// the replies, one entry per reply.
func arping(t *testing.T, h *netlab.Host, ip netip.Addr, count int) []string {
	t.Helper()
	netlab.RequireTool(t, "arping")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := h.Command(ctx, "arping", "-i", h.Iface, "-c", fmt.Sprint(count), "-W", "0.3", ip.String()).CombinedOutput()
	var macs []string
	for _, m := range arpingRE.FindAllStringSubmatch(string(out), -1) {
		if m[2] == ip.String() {
			macs = append(macs, strings.ToLower(m[1]))
		}
	}
	return macs
}

// ndisc sends one Neighbor Solicitation for ip from h and returns the
// target link-layer addresses of every answer within a second.
func ndisc(t *testing.T, h *netlab.Host, ip netip.Addr) []string {
	t.Helper()
	netlab.RequireTool(t, "ndisc6")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, _ := h.Command(ctx, "ndisc6", "-m", "-n", "-r", "1", "-w", "1000", ip.String(), h.Iface).CombinedOutput()
	var macs []string
	for _, m := range ndiscRE.FindAllStringSubmatch(string(out), -1) {
		macs = append(macs, strings.ToLower(m[1]))
	}
	return macs
}

// checkAnswers asks for the virtual addresses from h3 and wants exactly
// one answer per question, with the given MACs.
func checkAnswers(t *testing.T, h3 *netlab.Host, mac4, mac6 string) {
	t.Helper()
	if diff := cmp.Diff(repeat(mac4, 3), arping(t, h3, lanVIP4, 3)); diff != "" {
		t.Errorf("arping %v replies (-want +got):\n%s", lanVIP4, diff)
	}
	if diff := cmp.Diff([]string{mac6}, ndisc(t, h3, lanVIP6)); diff != "" {
		t.Errorf("ndisc6 %v answers (-want +got):\n%s", lanVIP6, diff)
	}
}

func checkNoAnswers(t *testing.T, h3 *netlab.Host) {
	t.Helper()
	if got := arping(t, h3, lanVIP4, 2); len(got) != 0 {
		t.Errorf("arping %v: replies %v, want none", lanVIP4, got)
	}
	if got := ndisc(t, h3, lanVIP6); len(got) != 0 {
		t.Errorf("ndisc6 %v: answers %v, want none", lanVIP6, got)
	}
}

func hostOut(t *testing.T, h *netlab.Host, args ...string) string {
	t.Helper()
	out, err := h.Run(context.Background(), args[0], args[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestIntegrationResponder: with Config.Responder, only the master answers
// ARP and NS for the virtual addresses, with the virtual MAC; the backup
// never does, before or after it was master.
func TestIntegrationResponder(t *testing.T) {
	lab := netlab.New(t, "arpt", 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	cfg := Config{Mode: ModeVirtualMAC, Responder: true, MasterRepeat: 1, MasterDelay: -1}
	a1, a2 := newHostAnnouncer(t, h1, cfg), newHostAnnouncer(t, h2, cfg)
	vmac4, vmac6 := VirtualMAC(7, false).String(), VirtualMAC(7, true).String()
	vrs := func(h *netlab.Host) []vrrp.VRInfo { return []vrrp.VRInfo{lanVR(h, lanVIP4), lanVR(h, lanVIP6)} }
	take := func(a *Announcer, h *netlab.Host) {
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Take", a.Take(vr))
			mustHook(t, h.Name+" Announce", a.Announce(vr))
		}
	}
	release := func(a *Announcer, h *netlab.Host) {
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Release", a.Release(vr))
		}
	}

	// Both backup: nobody answers.
	checkNoAnswers(t, h3)

	// h1 master.
	take(a1, h1)
	checkAnswers(t, h3, vmac4, vmac6)
	if st := a2.Stats(); st.ARPReplies+st.NAReplies != 0 {
		t.Errorf("backup h2 answered: %+v", st)
	}
	if st := a1.Stats(); st.ARPReplies < 3 || st.NAReplies < 1 {
		t.Errorf("master h1 stats %+v: want >= 3 ARP replies and >= 1 NA reply", st)
	}

	// Failover: h1 releases, h2 takes over.
	release(a1, h1)
	take(a2, h2)
	before := a1.Stats()
	checkAnswers(t, h3, vmac4, vmac6)
	if st := a1.Stats(); st.ARPReplies != before.ARPReplies || st.NAReplies != before.NAReplies {
		t.Errorf("h1 answered as backup: before %+v after %+v", before, st)
	}
	if st := a2.Stats(); st.ARPReplies < 3 || st.NAReplies < 1 {
		t.Errorf("master h2 stats %+v", st)
	}

	// The kernel answers for addresses assigned to the interface: with
	// the virtual address on the backup's eth0, h3 hears two MACs. This is
	// why the responder needs the addresses unassigned (package doc).
	hostOut(t, h1, "ip", "addr", "add", lanVIP4.String()+"/32", "dev", h1.Iface)
	got := arping(t, h3, lanVIP4, 2)
	sort.Strings(got)
	if want := []string{vmac4, vmac4, h1.MAC.String(), h1.MAC.String()}; !cmp.Equal(want, got) {
		t.Errorf("VIP assigned on the backup: arping replies %v, want %v", got, want)
	}
	// arp_ignore=8 silences the kernel on that interface.
	hostOut(t, h1, "sysctl", "-qw", "net.ipv4.conf."+h1.Iface+".arp_ignore=8")
	if diff := cmp.Diff(repeat(vmac4, 2), arping(t, h3, lanVIP4, 2)); diff != "" {
		t.Errorf("VIP assigned, arp_ignore=8: replies (-want +got):\n%s", diff)
	}
	hostOut(t, h1, "ip", "addr", "del", lanVIP4.String()+"/32", "dev", h1.Iface)

	// Close: the responder stops, nothing is left behind.
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoAnswers(t, h3)
	for _, h := range []*netlab.Host{h1, h2} {
		out := hostOut(t, h, "ip", "-o", "addr", "show")
		if strings.Contains(out, lanVIP4.String()) || strings.Contains(out, lanVIP6.String()) {
			t.Errorf("%s has a virtual address after Close:\n%s", h.Name, out)
		}
	}
}

// TestIntegrationMacvlan: in ModeMacvlan the kernel answers for the
// virtual addresses on the master's macvlan with the virtual MAC, the
// backup (whose macvlan has no addresses) and the parents never do, and
// Close removes the macvlans and restores arp_ignore.
func TestIntegrationMacvlan(t *testing.T) {
	lab := netlab.New(t, "arpt", 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	cfg := Config{Mode: ModeMacvlan, Interface: "eth0", MasterRepeat: 1, MasterDelay: -1}
	a1, a2 := newHostAnnouncer(t, h1, cfg), newHostAnnouncer(t, h2, cfg)
	vmac4, vmac6 := VirtualMAC(7, false).String(), VirtualMAC(7, true).String()
	vrs := func(h *netlab.Host) []vrrp.VRInfo { return []vrrp.VRInfo{lanVR(h, lanVIP4), lanVR(h, lanVIP6)} }
	take := func(a *Announcer, h *netlab.Host) {
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Take", a.Take(vr))
			mustHook(t, h.Name+" Announce", a.Announce(vr))
		}
	}
	release := func(a *Announcer, h *netlab.Host) {
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Release", a.Release(vr))
		}
	}
	n4, _ := macvlanName(h1.IfIndex, 7, false)
	n6, _ := macvlanName(h1.IfIndex, 7, true)

	// h2 was master once and is backup now: its macvlans exist, empty.
	take(a2, h2)
	release(a2, h2)
	take(a1, h1)
	for _, h := range []*netlab.Host{h1, h2} {
		links := hostOut(t, h, "ip", "-o", "link", "show")
		if !strings.Contains(links, n4+"@") || !strings.Contains(links, n6+"@") {
			t.Fatalf("%s: macvlans %s, %s missing:\n%s", h.Name, n4, n6, links)
		}
		if got := strings.TrimSpace(hostOut(t, h, "cat", "/proc/sys/net/ipv4/conf/"+h.Iface+"/arp_ignore")); got != "1" {
			t.Errorf("%s: parent arp_ignore = %s, want 1", h.Name, got)
		}
		// No EUI-64 link-local of the shared virtual MAC.
		if out := hostOut(t, h, "ip", "-o", "addr", "show", "dev", n6); strings.Contains(out, "5eff:fe00") {
			t.Errorf("%s: %s has an EUI-64 link-local of the virtual MAC:\n%s", h.Name, n6, out)
		}
	}
	if out := hostOut(t, h2, "ip", "-o", "addr", "show"); strings.Contains(out, lanVIP4.String()) || strings.Contains(out, lanVIP6.String()) {
		t.Errorf("backup h2 holds a virtual address:\n%s", out)
	}
	checkAnswers(t, h3, vmac4, vmac6)

	// Failover to h2.
	release(a1, h1)
	take(a2, h2)
	if out := hostOut(t, h1, "ip", "-o", "addr", "show"); strings.Contains(out, lanVIP4.String()) || strings.Contains(out, lanVIP6.String()) {
		t.Errorf("released h1 holds a virtual address:\n%s", out)
	}
	checkAnswers(t, h3, vmac4, vmac6)

	// Removed (vrrp.RegistryHook: the virtual routers left the Router)
	// deletes the master h2's macvlans at once and restores its parent.
	for _, vr := range vrs(h2) {
		a2.Removed(vr)
	}
	if links := hostOut(t, h2, "ip", "-o", "link", "show"); strings.Contains(links, "vr4.") || strings.Contains(links, "vr6.") {
		t.Errorf("h2: macvlan left after Removed:\n%s", links)
	}
	if got := strings.TrimSpace(hostOut(t, h2, "cat", "/proc/sys/net/ipv4/conf/"+h2.Iface+"/arp_ignore")); got != "0" {
		t.Errorf("h2: parent arp_ignore = %s after Removed, want 0 (restored)", got)
	}
	if out := hostOut(t, h2, "ip", "-o", "addr", "show"); strings.Contains(out, lanVIP4.String()) || strings.Contains(out, lanVIP6.String()) {
		t.Errorf("h2: virtual address left after Removed:\n%s", out)
	}
	checkNoAnswers(t, h3)

	// Close removes everything.
	for _, x := range []struct {
		a *Announcer
		h *netlab.Host
	}{{a1, h1}, {a2, h2}} {
		if err := x.a.Close(); err != nil {
			t.Errorf("%s: Close: %v", x.h.Name, err)
		}
		if links := hostOut(t, x.h, "ip", "-o", "link", "show"); strings.Contains(links, "vr4.") || strings.Contains(links, "vr6.") {
			t.Errorf("%s: macvlan left after Close:\n%s", x.h.Name, links)
		}
		if got := strings.TrimSpace(hostOut(t, x.h, "cat", "/proc/sys/net/ipv4/conf/"+x.h.Iface+"/arp_ignore")); got != "0" {
			t.Errorf("%s: parent arp_ignore = %s after Close, want 0 (restored)", x.h.Name, got)
		}
		if out := hostOut(t, x.h, "ip", "-o", "addr", "show"); strings.Contains(out, lanVIP4.String()) || strings.Contains(out, lanVIP6.String()) {
			t.Errorf("%s: virtual address left after Close:\n%s", x.h.Name, out)
		}
	}
	checkNoAnswers(t, h3)
}

// TestIntegrationNoIPv4 sends a gratuitous ARP from an interface without
// an IPv4 address (where arp.Dial fails).
func TestIntegrationNoIPv4(t *testing.T) {
	lab := netlab.New(t, "arpt", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	hostOut(t, h1, "ip", "addr", "flush", "dev", h1.Iface, "scope", "global")
	a := newHostAnnouncer(t, h1, Config{MasterRepeat: 1, MasterDelay: -1})
	stop := capture(t, h2, "arp", garpCaptureFields...)
	vr := lanVR(h1, lanVIP4)
	mustHook(t, "Take", a.Take(vr))
	mustHook(t, "Announce", a.Announce(vr))
	want := []string{garpRow(h1.MAC.String(), lanVIP4)}
	if diff := cmp.Diff(want, stop()); diff != "" {
		t.Errorf("captured (-want +got):\n%s", diff)
	}
}

// TestNewErrors: New names the interface when it is missing.
func TestNewErrors(t *testing.T) {
	netlab.RequirePriv(t)
	_, err := New(Config{Interface: "arpt-nonexistent0"})
	if err == nil || !strings.Contains(err.Error(), "arpt-nonexistent0") {
		t.Errorf("New on a missing interface: %v, want an error naming it", err)
	}
	if _, err := New(Config{Mode: 42}); err == nil {
		t.Error("New with a bad mode: no error")
	}
}
