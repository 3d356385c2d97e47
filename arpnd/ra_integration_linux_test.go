//go:build linux

package arpnd

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
)

var (
	rdiscFromRE = regexp.MustCompile(`(?m)^\s*from (\S+)`)
	rdiscSLLRE  = regexp.MustCompile(`(?i)Source link-layer address:\s*([0-9a-f:]{17})`)
)

// rdisc sends one Router Solicitation from h and returns "source MAC
// from source address" for every Router Advertisement heard within wait.
func rdisc(t *testing.T, h *netlab.Host, wait time.Duration) []string {
	t.Helper()
	netlab.RequireTool(t, "rdisc6")
	ctx, cancel := context.WithTimeout(context.Background(), wait+10*time.Second)
	defer cancel()
	out, _ := h.Command(ctx, "rdisc6", "-m", "-n", "-r", "1", "-w", fmt.Sprint(wait.Milliseconds()), h.Iface).CombinedOutput()
	froms := rdiscFromRE.FindAllStringSubmatch(string(out), -1)
	slls := rdiscSLLRE.FindAllStringSubmatch(string(out), -1)
	if len(froms) != len(slls) {
		t.Fatalf("rdisc6: %d answers but %d source link-layer addresses:\n%s", len(froms), len(slls), out)
	}
	var got []string
	for i := range froms {
		got = append(got, strings.ToLower(slls[i][1])+" from "+froms[i][1])
	}
	return got
}

// TestIntegrationRouterAdvertisements: with Config.RouterAdvertisements in
// ModeMacvlan, only the master advertises (from the virtual MAC and the
// link-local virtual address) and answers rdisc6; after a failover the new
// master does and the old one sends nothing, not even a zero-lifetime RA;
// a third host keeps its default route through the virtual router.
func TestIntegrationRouterAdvertisements(t *testing.T) {
	lab := netlab.New(t, "arpr", 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	netlab.RequireTool(t, "rdisc6")
	ra := &RAConfig{Prefixes: []RAPrefix{{Prefix: netip.MustParsePrefix("fd99:7::/64"), NoAutonomous: true}}}
	// rdisc6's must be the only Router Solicitations, so that the RAs
	// can be counted: the kernels solicit routers from the hosts' eth0
	// and the bridge ports. The macvlans need nothing: arpnd creates them
	// with router_solicitations=0 and accept_ra=0, and down until Take.
	for _, h := range lab.Hosts() {
		hostOut(t, h, "sysctl", "-qw", "net.ipv6.conf."+h.Iface+".router_solicitations=0")
	}
	if out, err := exec.Command("ip", "netns", "exec", lab.BridgeNS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("bridge namespace: disable IPv6: %v: %s", err, out)
	}
	cfg := Config{Mode: ModeMacvlan, Interface: "eth0", MasterRepeat: 1, MasterDelay: -1, RouterAdvertisements: ra}
	a1, a2 := newHostAnnouncer(t, h1, cfg), newHostAnnouncer(t, h2, cfg)
	llVR := netip.MustParseAddr("fe80::7")
	vr := func(h *netlab.Host) vrrp.VRInfo {
		return vrrp.VRInfo{Name: "vr7", Interface: h.Iface, IfIndex: h.IfIndex, VRID: 7, Version: 3, Priority: 100, Addrs: []netip.Addr{llVR, lanVIP6}}
	}
	vmac := VirtualMAC(7, true).String()
	answer := vmac + " from " + llVR.String()

	const raFilter = "icmp6 and ip6[40] == 134"
	fields := []string{"eth.src", "eth.dst", "ipv6.src", "ipv6.dst", "ipv6.hlim", "icmpv6.type", "icmpv6.nd.ra.router_lifetime",
		"icmpv6.opt.linkaddr", "icmpv6.opt.prefix", "icmpv6.checksum.status"}
	stop3 := capture(t, h3, raFilter, fields...)
	stop1 := captureArgs(t, h1, []string{"-Q", "out"}, raFilter, "eth.src")
	stop2 := captureArgs(t, h2, []string{"-Q", "out"}, raFilter, "eth.src")

	// Both backup: macvlans exist (h2 was master once), nobody answers.
	mustHook(t, "h2 Take", a2.Take(vr(h2)))
	mustHook(t, "h2 Release", a2.Release(vr(h2)))
	a2Before := a2.Stats()
	if got := rdisc(t, h3, 1500*time.Millisecond); len(got) != 0 {
		t.Errorf("both backup: rdisc6 answers %v, want none", got)
	}

	// h1 master: one RA at once, and the solicited one 3 to 3.5 s later
	// (MIN_DELAY_BETWEEN_RAS); the next unsolicited one is 16 s away.
	mustHook(t, "h1 Take", a1.Take(vr(h1)))
	mustHook(t, "h1 Announce", a1.Announce(vr(h1)))
	if diff := cmp.Diff([]string{answer}, rdisc(t, h3, 5*time.Second)); diff != "" {
		t.Errorf("h1 master: rdisc6 answers (-want +got):\n%s", diff)
	}
	if st := a2.Stats(); st.RAs != a2Before.RAs || st.RSs != a2Before.RSs {
		t.Errorf("backup h2 advertised: before %+v after %+v", a2Before, st)
	}

	// Failover to h2.
	mustHook(t, "h1 Release", a1.Release(vr(h1)))
	mustHook(t, "h2 Take", a2.Take(vr(h2)))
	mustHook(t, "h2 Announce", a2.Announce(vr(h2)))
	a1After := a1.Stats()
	if diff := cmp.Diff([]string{answer}, rdisc(t, h3, 5*time.Second)); diff != "" {
		t.Errorf("h2 master: rdisc6 answers (-want +got):\n%s", diff)
	}
	if st := a1.Stats(); st != a1After {
		t.Errorf("released h1 acted: before %+v after %+v", a1After, st)
	}
	if a1After.RAs != 2 || a1After.RSs != 1 {
		t.Errorf("h1 stats %+v: want 2 RAs (takeover, solicited) and 1 RS", a1After)
	}

	// h3 has its default route through the virtual router's link-local
	// address, and the on-link prefix (with a lifetime: from the RA).
	routes := hostOut(t, h3, "ip", "-6", "route", "show")
	if !strings.Contains(routes, "default via fe80::7 dev eth0 proto ra") || !regexp.MustCompile(`fd99:7::/64 dev eth0 .*expires`).MatchString(routes) {
		t.Errorf("h3 routes lack the RA routes:\n%s", routes)
	}

	rows1, rows2, rows3 := stop1(), stop2(), stop3()
	// h2's Take+Release at the start sent one RA; then h1 two, h2 two.
	if len(rows1) != 2 || len(rows2) != 3 {
		t.Errorf("RAs sent: h1 %d, h2 %d; want 2 (master) and 1 + 2", len(rows1), len(rows2))
	}
	want := fmt.Sprintf("%s|33:33:00:00:00:01|fe80::7|ff02::1|255|134|1800|%s|fd99:7::|1", vmac, vmac)
	if diff := cmp.Diff(repeat(want, 5), rows3); diff != "" {
		t.Errorf("RAs seen by h3 (-want +got):\n%s", diff)
	}
}
