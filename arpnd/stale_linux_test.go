//go:build linux

package arpnd

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
)

// TestIntegrationRemoveStaleMacvlan: a ModeMacvlan Announcer killed as
// master leaves its macvlans up with the virtual addresses, and the
// parent's arp_ignore at 1. RemoveStale of the next run removes them
// (IPv4 and IPv6) and restores arp_ignore from the leftover's marker
// once no macvlan needs it, but never touches a macvlan the Announcer
// holds itself, before or after it was master.
func TestIntegrationRemoveStaleMacvlan(t *testing.T) {
	lab := netlab.New(t, "arps", 1)
	h := lab.Host(1)
	cfg := Config{Mode: ModeMacvlan, Interface: "eth0", MasterRepeat: -1}
	setParentArpIgnore(t, h, "3")
	v4, v6 := vrID(h, 7), lanVR(h, lanVIP6)
	n4, _ := MacvlanName(h.IfIndex, 7, false)
	n6, _ := MacvlanName(h.IfIndex, 7, true)
	n8, _ := MacvlanName(h.IfIndex, 8, false)
	link := func(name string) string {
		out, err := h.Run(t.Context(), "ip", "-o", "addr", "show", "dev", name)
		if err != nil {
			return "" // no such device
		}
		return string(out)
	}

	a1 := newHostAnnouncer(t, h, cfg)
	mustHook(t, "Take v4", a1.Take(v4))
	mustHook(t, "Take v6", a1.Take(v6))
	crash(a1)
	if got := link(n4); !strings.Contains(got, lanVIP4.String()+"/32") {
		t.Fatalf("the killed run left no macvlan %s with %v: the test has nothing to check\n%s", n4, lanVIP4, got)
	}
	if got := link(n6); !strings.Contains(got, lanVIP6.String()+"/128") {
		t.Fatalf("the killed run left no macvlan %s with %v\n%s", n6, lanVIP6, got)
	}

	// The next run holds macvlans of its own: VRID 8's, taken and
	// released (down, kept until Close), and VRID 9's, master.
	a2 := newHostAnnouncer(t, h, cfg)
	vr8, vr9 := vrID(h, 8), vrID(h, 9)
	vr9.Addrs = []netip.Addr{netip.MustParseAddr("10.99.0.109")}
	mustHook(t, "Take 8", a2.Take(vr8))
	mustHook(t, "Release 8", a2.Release(vr8))
	mustHook(t, "Take 9", a2.Take(vr9))
	if err := a2.RemoveStale(v4); err != nil {
		t.Fatalf("RemoveStale v4: %v", err)
	}
	if got := link(n4); got != "" {
		t.Errorf("leftover macvlan %s still there after RemoveStale:\n%s", n4, got)
	}
	if got := parentArpIgnore(t, h); got != "1" {
		t.Errorf("parent arp_ignore = %s with the Announcer's own macvlans on it, want 1", got)
	}
	for _, vr := range []vrrp.VRInfo{vr8, vr9} {
		if err := a2.RemoveStale(vr); err != nil {
			t.Fatalf("RemoveStale VRID %d: %v", vr.VRID, err)
		}
	}
	if links := hostOut(t, h, "ip", "-o", "link", "show"); !strings.Contains(links, n8+"@") {
		t.Errorf("RemoveStale removed the Announcer's own (released) macvlan %s:\n%s", n8, links)
	}
	if got := link(mustName(t, h.IfIndex, 9)); !strings.Contains(got, "10.99.0.109/32") {
		t.Errorf("RemoveStale touched the master's macvlan:\n%s", got)
	}
	mustHook(t, "Release 9", a2.Release(vr9))
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := parentArpIgnore(t, h); got != "1" {
		t.Errorf("parent arp_ignore = %s after Close with the IPv6 leftover still there, want 1", got)
	}

	// A run with no macvlan of its own restores arp_ignore at once.
	a3 := newHostAnnouncer(t, h, cfg)
	if err := a3.RemoveStale(v6); err != nil {
		t.Fatalf("RemoveStale v6: %v", err)
	}
	if links := hostOut(t, h, "ip", "-o", "link", "show"); strings.Contains(links, "vr4.") || strings.Contains(links, "vr6.") {
		t.Errorf("macvlans left:\n%s", links)
	}
	if got := parentArpIgnore(t, h); got != "3" {
		t.Errorf("parent arp_ignore = %s after the last leftover went, want 3 (the value before the killed run)", got)
	}
	// Nothing left: nothing to do.
	if err := a3.RemoveStale(v4); err != nil {
		t.Errorf("RemoveStale with nothing left: %v", err)
	}
	if got := parentArpIgnore(t, h); got != "3" {
		t.Errorf("parent arp_ignore = %s, want 3", got)
	}
	missing := v4
	missing.Interface = "nosuch0"
	if err := newHostAnnouncer(t, h, Config{Mode: ModeMacvlan}).RemoveStale(missing); err != nil {
		t.Errorf("RemoveStale on a missing interface: %v", err)
	}
}

func mustName(t *testing.T, ifindex int, vrid uint8) string {
	t.Helper()
	n, err := MacvlanName(ifindex, vrid, false)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIntegrationRemoveStaleTable: a ModeVirtualMAC responder killed as
// master leaves its nftables tables; RemoveStale of the next run removes
// them, but not the table of a virtual router it is master of itself.
// In ModeInterfaceMAC it does nothing.
func TestIntegrationRemoveStaleTable(t *testing.T) {
	netlab.RequireTool(t, "nft")
	lab := netlab.New(t, "arps", 1)
	h := lab.Host(1)
	cfg := Config{Mode: ModeVirtualMAC, Responder: true, Interface: "eth0", MasterRepeat: -1}
	v4, v6 := lanVR(h, lanVIP4), lanVR(h, lanVIP6)
	t4, t6 := vmacTableName(h.IfIndex, 7, false), vmacTableName(h.IfIndex, 7, true)
	t8 := vmacTableName(h.IfIndex, 8, false)
	tables := func() string { return hostOut(t, h, "nft", "list", "tables") }

	a1 := newHostAnnouncer(t, h, cfg)
	mustHook(t, "Take v4", a1.Take(v4))
	mustHook(t, "Take v6", a1.Take(v6))
	crash(a1)
	if got := tables(); !strings.Contains(got, "netdev "+t4) || !strings.Contains(got, "netdev "+t6) {
		t.Fatalf("the killed run left no tables: the test has nothing to check\n%s", got)
	}

	// ModeInterfaceMAC installs no table and removes none.
	if err := newHostAnnouncer(t, h, Config{Interface: "eth0"}).RemoveStale(v4); err != nil {
		t.Fatal(err)
	}
	if got := tables(); !strings.Contains(got, "netdev "+t4) {
		t.Errorf("ModeInterfaceMAC RemoveStale removed %s:\n%s", t4, got)
	}

	a2 := newHostAnnouncer(t, h, cfg)
	vr8 := vrID(h, 8)
	mustHook(t, "Take 8", a2.Take(vr8))
	for _, vr := range []vrrp.VRInfo{v4, v6, vr8} {
		if err := a2.RemoveStale(vr); err != nil {
			t.Fatalf("RemoveStale %v: %v", vr.Addrs, err)
		}
	}
	got := tables()
	if strings.Contains(got, t4) || strings.Contains(got, t6) {
		t.Errorf("leftover tables after RemoveStale:\n%s", got)
	}
	if !strings.Contains(got, "netdev "+t8) {
		t.Errorf("RemoveStale removed the table of the Announcer's own master %s:\n%s", t8, got)
	}
	if err := a2.RemoveStale(v4); err != nil {
		t.Errorf("RemoveStale with nothing left: %v", err)
	}
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a2.RemoveStale(v4); err == nil {
		t.Error("RemoveStale after Close: no error")
	}
	if got := tables(); strings.Contains(got, "govrrp_arpnd") {
		t.Errorf("tables left after Close:\n%s", got)
	}
}
