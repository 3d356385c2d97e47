//go:build linux

package raw

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
)

// costLinks is the number of links of the per-link cost tests: enough
// that a lookup which dumps every link (net.InterfaceByName) allocates
// several times the bound below on each call.
const costLinks = 400

// maxJoinBytes bounds the heap bytes one Join allocates, whatever the
// number of links in the namespace (issue 12). Targeted lookups allocate
// about 40 kB (most of it the 32 kB netlink receive buffer); a lookup
// through net.InterfaceByName and Interface.Addrs allocated about 1 MB at
// 400 links, growing with the number of links.
const maxJoinBytes = 96 << 10

// TestJoinCostPerLink checks that Join costs the same whatever the number
// of links: it looks the interface and its addresses up without dumping
// every link and address of the namespace.
func TestJoinCostPerLink(t *testing.T) {
	lab := netlab.NewLinks(t, "rj", costLinks)
	h := lab.Host(1)
	const joins = 50
	var c *Conn
	var before, after runtime.MemStats
	if err := h.Do(func() (err error) {
		// Unicast: no group to join (igmp_max_memberships is 20).
		c, err = ListenMulti(4, &Config{Peers: []netip.Addr{netip.MustParseAddr("192.0.2.1")}})
		if err != nil {
			return err
		}
		runtime.ReadMemStats(&before)
		for i := 1; i <= joins; i++ {
			if err := c.Join(netlab.LinkName(costLinks - i + 1)); err != nil {
				return err
			}
		}
		runtime.ReadMemStats(&after)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	per := (after.TotalAlloc - before.TotalAlloc) / joins
	t.Logf("Join allocated %d B per call with %d links", per, costLinks)
	if per > maxJoinBytes {
		t.Errorf("Join allocated %d B per call with %d links; want at most %d (no dump of every link)", per, costLinks, maxJoinBytes)
	}
	for i := 1; i <= joins; i++ {
		n := costLinks - i + 1
		c.mu.Lock()
		var st *ifaceState
		for _, s := range c.ifaces {
			if s.name == netlab.LinkName(n) {
				st = s
			}
		}
		c.mu.Unlock()
		if st == nil || st.src != netlab.LinkAddr(n, 1) {
			t.Errorf("link %s: state %+v; want source %v", netlab.LinkName(n), st, netlab.LinkAddr(n, 1))
		} else if st.group != c.groupAddr {
			// One group address for the Conn, not one per interface
			// (64 B each, issue 12).
			t.Errorf("link %s: group address %p, not the Conn's %p", netlab.LinkName(n), st.group, c.groupAddr)
		}
	}
}
