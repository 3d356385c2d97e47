//go:build linux

package arpnd

import (
	"net"
	"runtime"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
)

// costLinks is the number of links of the per-link cost test: enough that
// a lookup which dumps every link (net.InterfaceByName) allocates several
// times the bound below on each call.
const costLinks = 400

// maxOpenBytes bounds the heap bytes opening one interface's link
// allocates, whatever the number of links in the namespace (issue 12):
// about 50 kB with targeted lookups (the 32 kB netlink receive buffer of
// the address lookup, the packet sockets); net.InterfaceByName allocated
// about 1 MB per call at 400 links, growing with the number of links.
const maxOpenBytes = 128 << 10

// TestOpenCostPerLink checks that opening an interface's link costs the
// same whatever the number of links, and that the link keeps a hardware
// address of its own: net.Interface.HardwareAddr is a sub-slice of the
// dump of every link, which it kept alive (1.67 MB per link at 1,000
// links).
func TestOpenCostPerLink(t *testing.T) {
	lab := netlab.NewLinks(t, "ac", costLinks)
	h := lab.Host(1)
	a := newHostAnnouncer(t, h, Config{})
	p := a.plat.(*linuxPlatform)
	const opens = 50
	var before, after runtime.MemStats
	if err := h.Do(func() error {
		// Every other virtual router names its interface by index only.
		vrs := make([]vrrp.VRInfo, opens)
		for i := range vrs {
			name := netlab.LinkName(costLinks - i)
			vrs[i] = vrrp.VRInfo{Name: "vr", VRID: 1, Version: 3, Interface: name}
			if i%2 == 1 {
				ifi, err := net.InterfaceByName(name)
				if err != nil {
					return err
				}
				vrs[i].Interface, vrs[i].IfIndex = "", ifi.Index
			}
		}
		runtime.ReadMemStats(&before)
		for _, vr := range vrs {
			if _, err := p.linkForNS(a, vr, vrKey{}, nil); err != nil {
				return err
			}
		}
		runtime.ReadMemStats(&after)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	per := (after.TotalAlloc - before.TotalAlloc) / opens
	t.Logf("opening a link allocated %d B with %d links", per, costLinks)
	if per > maxOpenBytes {
		t.Errorf("opening a link allocated %d B with %d links; want at most %d (no dump of every link)", per, costLinks, maxOpenBytes)
	}
	for i := range opens {
		name := netlab.LinkName(costLinks - i)
		l := p.links[name]
		if l == nil {
			t.Fatalf("%s: no link", name)
		}
		if len(l.ifi.HardwareAddr) != 6 || cap(l.ifi.HardwareAddr) != 6 {
			t.Errorf("%s: hardware address %v: len %d cap %d, want a 6-byte slice of its own", name, l.ifi.HardwareAddr, len(l.ifi.HardwareAddr), cap(l.ifi.HardwareAddr))
		}
		if l.ifi.Name != name || l.ifi.Index <= 0 {
			t.Errorf("%s: link interface %+v", name, l.ifi)
		}
		// IPv4 virtual routers only: the ARP socket, no IPv6 one.
		if l.arp == nil || l.nd != nil {
			t.Errorf("%s: IPv4 only: arp socket %v, IPv6 socket %v; want only the ARP one", name, l.arp, l.nd)
		}
		// Without the responder, no socket of its own: the Announcer's
		// one sending socket, with the interface's index.
		if ls, ok := l.arp.(linkSender); !ok || ls.s != p.snd || p.snd == nil || ls.ifindex != l.ifi.Index {
			t.Errorf("%s: ARP connection %#v; want a linkSender on the shared socket %p for index %d", name, l.arp, p.snd, l.ifi.Index)
		}
	}
	// An IPv6 virtual router on the same link opens the IPv6 socket and
	// keeps the ARP one.
	name := netlab.LinkName(costLinks)
	arp := p.links[name].arp
	if err := h.Do(func() error {
		_, err := p.linkForNS(a, vrrp.VRInfo{Name: "vr6", VRID: 1, Version: 3, Interface: name}, vrKey{v6: true}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if l := p.links[name]; l.nd == nil || l.arp != arp {
		t.Errorf("%s after an IPv6 virtual router: IPv6 socket %v, ARP socket %v (was %v); want both, the ARP one unchanged", name, l.nd, l.arp, arp)
	}
}
