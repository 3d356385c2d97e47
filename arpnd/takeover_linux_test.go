//go:build linux

package arpnd

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

// startElection runs a vrrp.Router in h's namespace with an IPv4 and an
// IPv6 virtual router (VRID 7, raw sockets, 100ms advertisements) and an
// Announcer made by New as its hook.
func startElection(t *testing.T, h *netlab.Host, prio uint8, cfg Config) *vrrp.Router {
	t.Helper()
	a := newHostAnnouncer(t, h, cfg)
	r := vrrp.NewRouter(vrrp.RouterConfig{Hook: a})
	for _, fam := range []int{4, 6} {
		vips, primary := []netip.Addr{lanVIP4}, h.Addr4
		if fam == 6 {
			vips, primary = []netip.Addr{netip.MustParseAddr("fe80::7:1"), lanVIP6}, h.LinkLocal()
		}
		var vr vrrp.VirtualRouter
		if err := h.Do(func() error {
			c, err := raw.Listen(h.Iface, &raw.Config{Family: fam})
			if err != nil {
				return err
			}
			vr = vrrp.VirtualRouter{Name: fmt.Sprintf("vr%d-%s", fam, h.Name), Conn: c, Interface: h.Iface, IfIndex: h.IfIndex,
				Config: vrrp.Config{VRID: 7, Priority: prio, AdvertInterval: 100 * time.Millisecond, Addrs: vips, Primary: primary}}
			return nil
		}); err != nil {
			t.Fatalf("%s: listen: %v", h.Name, err)
		}
		if err := r.Add(vr); err != nil {
			t.Fatalf("%s: Add: %v", h.Name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		for range r.Events() {
		}
	}()
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func waitMaster(t *testing.T, r *vrrp.Router, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for _, n := range names {
			if s, err := r.State(n); err != nil || s != vrrp.Master {
				all = false
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v not master within 10s", names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// takeoverFields are the tshark fields of the takeover captures; see
// isAnnouncement.
var takeoverFields = []string{"eth.src", "eth.dst", "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4",
	"ipv6.src", "ipv6.dst", "ipv6.hlim", "icmpv6.type", "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s", "icmpv6.nd.na.flag.o",
	"icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr", "icmpv6.checksum.status"}

// isAnnouncement reports whether a row of takeoverFields is a gratuitous
// ARP (sender address = target address) or an unsolicited Neighbor
// Advertisement (S clear), not ordinary resolution, MLD or other ND.
func isAnnouncement(row string) bool {
	f := strings.Split(row, "|")
	if f[2] != "" {
		return f[4] == f[6]
	}
	return f[10] == "136" && f[12] != "1"
}

// TestIntegrationTakeover: two vrrp.Routers with the Announcer as their
// hook, in each mode. While h1 is master and h2 backup (from h2's start
// on, after h1's takeover burst), a third host sees no announcement at
// all: the backup announces nothing. Then h1's link goes down (it falls
// silent) and h2 takes over by election. h3's capture from the moment the
// link went down holds the gratuitous ARPs and unsolicited NAs of the new
// master only, with every field right: sender = target = the virtual
// address, the announced MAC (interface MAC, or virtual MAC on the
// interface or from the macvlan), NA to ff02::1 from the link-local
// address (the interface's, or the macvlan's) with hop limit 255, R and O
// set, S clear, the target link-layer address option and a valid
// checksum.
func TestIntegrationTakeover(t *testing.T) {
	for _, mode := range []Mode{ModeInterfaceMAC, ModeVirtualMAC, ModeMacvlan} {
		t.Run(mode.String(), func(t *testing.T) {
			lab := netlab.New(t, "arpe", 3)
			h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
			cfg := Config{Interface: "eth0", Mode: mode, MasterRepeat: 3, MasterDelay: -1}
			r1 := startElection(t, h1, 200, cfg)
			waitMaster(t, r1, "vr4-h1", "vr6-h1")
			time.Sleep(300 * time.Millisecond) // h1's only burst is over (MasterDelay -1)

			stopBackup := capture(t, h3, "arp or icmp6", takeoverFields...)
			r2 := startElection(t, h2, 100, cfg)
			time.Sleep(time.Second) // h2 settles as backup: 10 advertisement intervals
			for _, n := range []string{"vr4-h2", "vr6-h2"} {
				if s, err := r2.State(n); err != nil || s != vrrp.Backup {
					t.Fatalf("%s: state %v (%v), want backup", n, s, err)
				}
			}
			backupRows := stopBackup()
			for _, r := range backupRows {
				if isAnnouncement(r) {
					t.Errorf("announcement while h1 was master and h2 backup: %q", r)
				}
			}
			if t.Failed() {
				t.Logf("capture while h2 was backup:\n%s", strings.Join(backupRows, "\n"))
			}

			stop := capture(t, h3, "arp or icmp6", takeoverFields...)
			if err := h1.SetLink(false); err != nil {
				t.Fatal(err)
			}
			// Up again before the Routers stop (cleanups run last first).
			t.Cleanup(func() { h1.SetLink(true) })
			waitMaster(t, r2, "vr4-h2", "vr6-h2")
			time.Sleep(300 * time.Millisecond)
			rows := stop()

			mac4, mac6 := h2.MAC.String(), h2.MAC.String()
			src6 := h2.LinkLocal()
			if mode != ModeInterfaceMAC {
				mac4, mac6 = VirtualMAC(7, false).String(), VirtualMAC(7, true).String()
			}
			if mode == ModeMacvlan {
				src6 = macvlanLinkLocal(h2.MAC, 7)
			}
			wantARP := fmt.Sprintf("%s|ff:ff:ff:ff:ff:ff|1|%s|%s|ff:ff:ff:ff:ff:ff|%s||||||||||", mac4, mac4, lanVIP4, lanVIP4)
			naRow := func(vip netip.Addr) string {
				return fmt.Sprintf("%s|33:33:00:00:00:01||||||%s|ff02::1|255|136|1|0|1|%s|%s|1", mac6, src6, vip, mac6)
			}
			want := map[string]int{wantARP: 3, naRow(netip.MustParseAddr("fe80::7:1")): 3, naRow(lanVIP6): 3}
			got := map[string]int{}
			for _, r := range rows {
				if isAnnouncement(r) {
					got[r]++
				}
			}
			for row, n := range want {
				if got[row] < n {
					t.Errorf("announcement %q seen %d times, want >= %d", row, got[row], n)
				}
			}
			for row := range got {
				if _, ok := want[row]; !ok {
					t.Errorf("unexpected announcement after the takeover (not the new master's, or a wrong field): %q", row)
				}
			}
			if t.Failed() {
				t.Logf("capture:\n%s", strings.Join(rows, "\n"))
			}
		})
	}
}
