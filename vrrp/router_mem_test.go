package vrrp_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"testing/synctest"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// liveHeap returns the live heap after a collection: deterministic, for
// the tests that bound what is held per virtual router.
func liveHeap() uint64 {
	runtime.GC()
	return readMetric("/gc/heap/live:bytes")
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// linkVRs returns n virtual routers VI_1..VI_n, VRID 1 on interfaces
// l1..ln of conn, as vrrpd's one socket for every link.
func linkVRs(conn transport.Conn, n int) []vrrp.VirtualRouter {
	vrs := make([]vrrp.VirtualRouter, n)
	for i := range vrs {
		vrs[i] = vrrp.VirtualRouter{Name: fmt.Sprintf("VI_%d", i+1), Conn: conn, Interface: fmt.Sprintf("l%d", i+1),
			IfIndex: i + 1, Config: rtCfg4(1, 100, rtIP4(1))}
	}
	return vrs
}

// runRouter runs a Router with no event buffer in the test's synctest
// bubble until the test ends.
func runRouter(t *testing.T) *vrrp.Router {
	r := vrrp.NewRouter(vrrp.RouterConfig{EventBuffer: -1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	synctest.Wait()
	return r
}

// TestRouterHeldPerVirtualRouter bounds the live heap a running Router
// holds per virtual router, with its RawRouter's share (issue 12: 4,094
// links in 32 MB). Deterministic: live bytes after a collection, in a
// synctest bubble; the virtual routers are backups that hear nothing.
func TestRouterHeldPerVirtualRouter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1000
		vrs := linkVRs(rtAttach(memnet.New(memnet.Config{}), "r", rtIP4(1)), n)
		r := runRouter(t)
		base := liveHeap()
		for _, vr := range vrs {
			if err := r.Add(vr); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		for _, vr := range vrs {
			if s, err := r.State(vr.Name); err != nil || s != vrrp.Backup {
				t.Fatalf("%s: state %v, %v; want Backup", vr.Name, s, err)
			}
		}
		per := (float64(liveHeap()) - float64(base)) / n
		t.Logf("%.0f B held per virtual router", per)
		// The RawRouter's share is bounded by
		// TestRawRouterHeldPerVirtualRouter (1,127 B); the receive
		// batches and the reserved room of the Router and RawRouter,
		// about 500 kB here, are a fixed cost. The Router's own per
		// virtual router is its state index: in a sync.Map (entry, boxed
		// key, trie nodes) 1,630 B in all here, in a map 1,559 B.
		const bound = 1600
		if per > bound {
			t.Errorf("%.0f B held per virtual router of %d, want at most %d", per, n, bound)
		}
		runtime.KeepAlive(vrs)
	})
}

// TestRouterAddAllocates bounds what Router.Add allocates per virtual
// router, live and garbage, once the Router runs. Add checks the
// virtual router on its caller's goroutine (checkVR) without building it:
// it built a Machine and a vrt there and dropped them, 800 B of garbage
// per Add among the live ones of the same size classes, which left their
// spans half empty at 4,094 virtual routers (issue 12).
func TestRouterAddAllocates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1000
		vrs := linkVRs(rtAttach(memnet.New(memnet.Config{}), "r", rtIP4(1)), n+1)
		r := runRouter(t)
		// The first one opens the Conn's reader and its batches.
		if err := r.Add(vrs[0]); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		a0 := readMetric("/gc/heap/allocs:bytes")
		for _, vr := range vrs[1:] {
			if err := r.Add(vr); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		per := float64(readMetric("/gc/heap/allocs:bytes")-a0) / n
		t.Logf("%.0f B allocated per Add", per)
		// 3,833 B with the check that built and dropped a Machine and a
		// vrt, 2,770-3,100 B without (the maps' growth falls differently
		// from run to run).
		const bound = 3400
		if per > bound {
			t.Errorf("%.0f B allocated per Router.Add, want at most %d", per, bound)
		}
	})
}
