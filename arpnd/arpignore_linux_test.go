//go:build linux

package arpnd

import (
	"strings"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
)

// crash leaves what a killed process leaves: its sockets are gone (the
// kernel closes them), the macvlans and sysctls it made stay.
func crash(a *Announcer) {
	a.mu.Lock()
	a.closed = true
	for _, vr := range a.vrs {
		a.cancel(vr, taskTakeover, taskRefresh, taskLowerPrio, taskRA)
	}
	p := a.plat.(*linuxPlatform)
	for _, l := range p.links {
		closeConns(l)
	}
	for _, m := range p.macvlans {
		closeConns(m.l)
	}
	p.ns.Close()
	a.mu.Unlock()
	a.wg.Wait()
}

func parentArpIgnore(t *testing.T, h *netlab.Host) string {
	t.Helper()
	return strings.TrimSpace(hostOut(t, h, "cat", "/proc/sys/net/ipv4/conf/"+h.Iface+"/arp_ignore"))
}

func setParentArpIgnore(t *testing.T, h *netlab.Host, v string) {
	t.Helper()
	hostOut(t, h, "sysctl", "-qw", "net.ipv4.conf."+h.Iface+".arp_ignore="+v)
}

func vrID(h *netlab.Host, vrid uint8) vrrp.VRInfo {
	vr := lanVR(h, lanVIP4)
	vr.VRID = vrid
	return vr
}

// TestIntegrationMacvlanArpIgnore: ModeMacvlan sets the parent's
// arp_ignore to 1 while a macvlan of a virtual router is on it and
// restores the original value when the last one goes, even after a run
// that crashed with arp_ignore at 1, and with two Announcers on one
// parent; a parent already at 2 is left alone.
func TestIntegrationMacvlanArpIgnore(t *testing.T) {
	cfg := Config{Mode: ModeMacvlan, Interface: "eth0", MasterRepeat: -1}
	t.Run("crash", func(t *testing.T) {
		lab := netlab.New(t, "arpi", 1)
		h := lab.Host(1)
		setParentArpIgnore(t, h, "3")
		a1 := newHostAnnouncer(t, h, cfg)
		mustHook(t, "Take", a1.Take(vrID(h, 7)))
		if got := parentArpIgnore(t, h); got != "1" {
			t.Fatalf("parent arp_ignore = %s while master, want 1", got)
		}
		crash(a1)
		if got := parentArpIgnore(t, h); got != "1" {
			t.Fatalf("parent arp_ignore = %s after the crash, want 1 (left behind)", got)
		}
		// The next run replaces the leftover macvlan and restores the
		// value from before the crashed run.
		a2 := newHostAnnouncer(t, h, cfg)
		mustHook(t, "Take", a2.Take(vrID(h, 7)))
		if got := parentArpIgnore(t, h); got != "1" {
			t.Errorf("parent arp_ignore = %s while master, want 1", got)
		}
		if err := a2.Close(); err != nil {
			t.Fatal(err)
		}
		if got := parentArpIgnore(t, h); got != "3" {
			t.Errorf("parent arp_ignore = %s after Close, want 3 (the value before the crashed run)", got)
		}
		if links := hostOut(t, h, "ip", "-o", "link", "show"); strings.Contains(links, "vr4.") {
			t.Errorf("macvlan left after Close:\n%s", links)
		}
	})
	t.Run("two announcers", func(t *testing.T) {
		lab := netlab.New(t, "arpi", 1)
		h := lab.Host(1)
		a1, a2 := newHostAnnouncer(t, h, cfg), newHostAnnouncer(t, h, cfg)
		mustHook(t, "Take 7", a1.Take(vrID(h, 7)))
		mustHook(t, "Take 8", a2.Take(vrID(h, 8)))
		if err := a1.Close(); err != nil {
			t.Fatal(err)
		}
		if got := parentArpIgnore(t, h); got != "1" {
			t.Errorf("parent arp_ignore = %s after the first Close, with the other Announcer's macvlan still there; want 1", got)
		}
		if err := a2.Close(); err != nil {
			t.Fatal(err)
		}
		if got := parentArpIgnore(t, h); got != "0" {
			t.Errorf("parent arp_ignore = %s after both Closed, want 0 (restored)", got)
		}
	})
	t.Run("already 2", func(t *testing.T) {
		lab := netlab.New(t, "arpi", 1)
		h := lab.Host(1)
		setParentArpIgnore(t, h, "2")
		a := newHostAnnouncer(t, h, cfg)
		mustHook(t, "Take", a.Take(vrID(h, 7)))
		if got := parentArpIgnore(t, h); got != "2" {
			t.Errorf("parent arp_ignore = %s while master, want 2 (left alone)", got)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if got := parentArpIgnore(t, h); got != "2" {
			t.Errorf("parent arp_ignore = %s after Close, want 2", got)
		}
	})
}
