package vrrp_test

import (
	"fmt"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// TestRawRouterAddAllocatesLittle: adding thousands of virtual routers
// one at a time, each Add followed by the Advance the Router makes after
// it (as vrrpd does at start-up, every link on one shared Conn), allocates
// a few kilobytes per virtual router, not the room for a whole takeover
// step every time. Before, each Add grew Ready's Host array to exactly
// the room it needs plus the pending HostAdded entry, and the Advance
// after it replaced that array with a fresh one of the reserved room
// (reuseRoom): two arrays of 768 Host entries, about 400 kB, per Add:
// 1.3 GB of start-up garbage for 4,094 links (issue 12).
func TestRawRouterAddAllocatesLittle(t *testing.T) {
	const n = 1000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rr := vrrp.NewRawRouter(vrrp.RawConfig{})
	conn := keyConn{"shared"}
	allocs := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	a0 := allocs()
	for i := 1; i <= n; i++ {
		vr := vrrp.VirtualRouter{Name: fmt.Sprintf("VI_%d", i), Conn: conn, Interface: fmt.Sprintf("l%d", i),
			IfIndex: i, Config: rtCfg4(1, 100, rtIP4(1))}
		if err := rr.Add(t0, vr); err != nil {
			t.Fatal(err)
		}
		rr.Advance()
	}
	perAdd := float64(allocs()-a0) / n
	t.Logf("%.0f B allocated per Add", perAdd)
	// A virtual router holds about 1.5 kB (Machine, vrt); the growth of
	// the RawRouter's shared arrays adds a little.
	const bound = 8 << 10
	if perAdd > bound {
		t.Errorf("%.0f B allocated per Add of %d, want at most %d", perAdd, n, bound)
	}
}
