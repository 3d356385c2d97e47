//go:build linux

package arpnd

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
)

// TestIntegrationResponderReachable: in ModeVirtualMAC with the
// responder, the virtual addresses are reachable through the virtual MAC:
// a third host resolves them to the virtual MAC (from the master only),
// and its TCP connections reach the master, before and after a
// switch to the other host. The master holds the addresses on lo (as an
// embedding program would, with arp_ignore=1 on eth0 so that the kernel
// does not answer for them with the interface MAC, and arp_announce=2 so
// that its own ARP requests do not give them as the sender address with
// the interface MAC); the Announcer's
// nftables rule makes the kernel take the frames sent to the virtual MAC.
// Nothing is left behind after Close.
func TestIntegrationResponderReachable(t *testing.T) {
	lab := netlab.New(t, "arpr", 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	cfg := Config{Interface: "eth0", Mode: ModeVirtualMAC, Responder: true, MasterRepeat: 1, MasterDelay: -1}
	anns := map[*netlab.Host]*Announcer{}
	for _, h := range []*netlab.Host{h1, h2} {
		hostOut(t, h, "sysctl", "-qw", "net.ipv4.conf."+h.Iface+".arp_ignore=1", "net.ipv4.conf."+h.Iface+".arp_announce=2")
		anns[h] = newHostAnnouncer(t, h, cfg)
		h.ServeTCP(t, 7777, h.Name)
	}
	vmac4, vmac6 := VirtualMAC(7, false).String(), VirtualMAC(7, true).String()
	vrs := func(h *netlab.Host) []vrrp.VRInfo { return []vrrp.VRInfo{lanVR(h, lanVIP4), lanVR(h, lanVIP6)} }
	table4, table6 := vmacTableName(h1.IfIndex, 7, false), vmacTableName(h1.IfIndex, 7, true)
	tables := func(h *netlab.Host) string { return hostOut(t, h, "nft", "list", "tables") }
	take := func(h *netlab.Host) {
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Take", anns[h].Take(vr))
			mustHook(t, h.Name+" Announce", anns[h].Announce(vr))
		}
		hostOut(t, h, "ip", "addr", "add", lanVIP4.String()+"/32", "dev", "lo")
		hostOut(t, h, "ip", "addr", "add", lanVIP6.String()+"/128", "dev", "lo")
		if got := tables(h); !strings.Contains(got, "netdev "+table4) || !strings.Contains(got, "netdev "+table6) {
			t.Errorf("%s master: nft tables %q, want %s and %s", h.Name, got, table4, table6)
		}
	}
	release := func(h *netlab.Host) {
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Release", anns[h].Release(vr))
		}
		hostOut(t, h, "ip", "addr", "del", lanVIP4.String()+"/32", "dev", "lo")
		hostOut(t, h, "ip", "addr", "del", lanVIP6.String()+"/128", "dev", "lo")
		if got := tables(h); strings.Contains(got, "govrrp_arpnd") {
			t.Errorf("%s released: nft tables left: %q", h.Name, got)
		}
	}
	reach := func(master *netlab.Host) {
		t.Helper()
		checkAnswers(t, h3, vmac4, vmac6)
		for _, ip := range []netip.Addr{lanVIP4, lanVIP6} {
			if got, err := h3.DialTCP(ip, 7777, 3*time.Second); err != nil || got != master.Name {
				t.Errorf("TCP to %v: %q, %v; want %q", ip, got, err, master.Name)
			}
		}
		// h3 reached the virtual addresses through the virtual MAC.
		neigh := hostOut(t, h3, "ip", "neigh", "show")
		for _, want := range []string{lanVIP4.String() + " dev eth0 lladdr " + vmac4, lanVIP6.String() + " dev eth0 lladdr " + vmac6} {
			if !strings.Contains(neigh, want) {
				t.Errorf("h3 neighbours: want %q in\n%s", want, neigh)
			}
		}
	}

	take(h1)
	if got := tables(h2); strings.Contains(got, "govrrp_arpnd") {
		t.Errorf("backup h2 has an nft table: %q", got)
	}
	reach(h1)

	release(h1)
	take(h2)
	reach(h2)

	// A run that did not Close left its table: the next Take replaces it.
	release(h2)
	hostOut(t, h2, "nft", "add", "table", "netdev", table4)
	take(h2)
	reach(h2)
	release(h2)

	take(h1)
	for _, h := range []*netlab.Host{h1, h2} {
		if err := anns[h].Close(); err != nil {
			t.Errorf("%s: Close: %v", h.Name, err)
		}
		if got := tables(h); strings.Contains(got, "govrrp_arpnd") {
			t.Errorf("%s: nft tables after Close: %q", h.Name, got)
		}
	}
	hostOut(t, h1, "ip", "addr", "del", lanVIP4.String()+"/32", "dev", "lo")
	hostOut(t, h1, "ip", "addr", "del", lanVIP6.String()+"/128", "dev", "lo")
	checkNoAnswers(t, h3)
	for _, h := range []*netlab.Host{h1, h2} {
		if out := hostOut(t, h, "ip", "-o", "addr", "show"); strings.Contains(out, lanVIP4.String()) || strings.Contains(out, lanVIP6.String()) {
			t.Errorf("%s: virtual address left:\n%s", h.Name, out)
		}
	}
}
