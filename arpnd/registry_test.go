package arpnd

import (
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRemovedKeepsNothing: after vrrp.RegistryHook's Removed nothing of
// a virtual router stays in the Announcer (issue 11: arpnd's registry
// only grew until Close): 10,000 virtual routers taken, announced,
// released or not, and removed leave no state, no timer, no answer and
// no group membership; the platform is told to forget each after
// releasing it.
func TestRemovedKeepsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, p, ac, nc := newPlatTest(t, Config{Responder: true, MasterRefresh: time.Second, RouterAdvertisements: &RAConfig{}})
		for i := range 10000 {
			vr := vrid(vr4(fmt.Sprintf("192.0.2.%d", 1+i%200)), uint8(1+i%255))
			if i%2 == 1 {
				vr.Addrs = []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", 1+i%200))}
			}
			vr.Name = fmt.Sprint("vr", i)
			a.Added(vr)
			takeover(t, a, vr)
			if i%3 == 0 {
				if err := a.Release(vr); err != nil {
					t.Fatal(err)
				}
			}
			p.takeLog()
			a.Removed(vr)
			want := []string{fmt.Sprintf("release %d down=true", vr.VRID), fmt.Sprintf("forget %d", vr.VRID)}
			if i%3 == 0 {
				want = want[1:]
			}
			if diff := cmp.Diff(want, p.takeLog()); diff != "" {
				t.Fatalf("cycle %d: platform calls (-want +got):\n%s", i, diff)
			}
			if i == 0 {
				// The same virtual router can come back.
				a.Added(vr)
				takeover(t, a, vr)
				a.Removed(vr)
				p.takeLog()
			}
		}
		a.mu.Lock()
		n, answers, ras := len(a.vrs), len(a.answers), len(a.raVRs)
		a.mu.Unlock()
		if n != 0 || answers != 0 || ras != 0 {
			t.Errorf("after Removed: %d virtual routers, %d links answering, %d advertising", n, answers, ras)
		}
		if got := a.Pending(); got != 0 {
			t.Errorf("%d timers pending", got)
		}
		if len(p.held) != 0 {
			t.Errorf("the platform holds %d virtual routers", len(p.held))
		}
		for _, c := range []*filterConn{ac, nc} {
			groups, unicast, strays := c.filter()
			if len(groups)+len(unicast)+len(strays) != 0 {
				t.Errorf("filter left: groups %v unicast %v strays %v", groups, unicast, strays)
			}
		}
		// Removed of an unknown virtual router, or after Close, does
		// nothing.
		a.Removed(vr4("192.0.2.1"))
		a.Close()
		a.Removed(vr4("192.0.2.1"))
	})
}
