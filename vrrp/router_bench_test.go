package vrrp_test

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/govrrp/govrrp/clock"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// BenchmarkRouter255 runs 255 virtual routers (VRIDs 1-255, 1s interval)
// on one Conn as masters against 255 backups on another Router, over
// memnet with a fake clock. One op is one round: the clock advances by the
// interval, the master Router sends 255 advertisements in one batch and
// the backup Router receives and processes all of them. Reported per
// advertisement (sent and received): wall ns (ns/adv), process CPU ns
// (cpu-ns/adv, both Routers and memnet together) and heap allocations
// (allocs/adv, B/adv).
func BenchmarkRouter255(b *testing.B) {
	const n = 255
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	lan := memnet.New(memnet.Config{Clock: clk, QueueLen: 4 * n})
	epA := lan.MustAttach(memnet.EndpointConfig{Name: "a", Addrs: []netip.Addr{rtIP4(1)}})
	epB := lan.MustAttach(memnet.EndpointConfig{Name: "b", Addrs: []netip.Addr{rtIP4(2)}})
	ra := vrrp.NewRouter(vrrp.RouterConfig{Clock: clk, EventBuffer: -1})
	rb := vrrp.NewRouter(vrrp.RouterConfig{Clock: clk, EventBuffer: -1})
	for i := 1; i <= n; i++ {
		name := "vr" + string(rune(i))
		if err := ra.Add(vrrp.VirtualRouter{Name: name, Conn: epA, Config: rtCfg4(uint8(i), 200, rtIP4(1))}); err != nil {
			b.Fatal(err)
		}
		if err := rb.Add(vrrp.VirtualRouter{Name: name, Conn: epB, Config: rtCfg4(uint8(i), 100, rtIP4(2))}); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	doneA, doneB := make(chan error), make(chan error)
	go func() { doneA <- ra.Run(ctx) }()
	go func() { doneB <- rb.Run(ctx) }()
	defer func() {
		cancel()
		<-doneA
		<-doneB
	}()

	// waitRecv waits until rb has handed want packets to its machines. It
	// polls with short sleeps rather than spinning so that cpu-ns/adv
	// measures the Routers and memnet, not the wait.
	//
	// Then it waits until the master Router has re-armed its timer for
	// the next round: a Fake clock advanced while a Router is between
	// reading Now and arming its timer would make that timer late (see
	// clock.Fake).
	waitRecv := func(want uint64) {
		for rb.RouterStats().Received < want {
			time.Sleep(20 * time.Microsecond)
		}
		for {
			next, ok := clk.NextDeadline()
			if ok && !next.After(clk.Now().Add(time.Second)) {
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	// Wait for both Routers to start every machine (at the start time).
	for _, r := range []*vrrp.Router{ra, rb} {
		for i := 1; i <= n; i++ {
			for s, _ := r.State("vr" + string(rune(i))); s != vrrp.Backup; s, _ = r.State("vr" + string(rune(i))) {
				runtime.Gosched()
			}
		}
	}
	// Warm up: the election (masters after 3.21875s) and a few rounds so
	// that every buffer has grown to its steady size.
	clk.Advance(3*time.Second + 218750*time.Microsecond)
	waitRecv(n)
	want := uint64(n)
	for range 10 {
		want += n
		clk.Advance(time.Second)
		waitRecv(want)
	}
	for i := 1; i <= n; i++ {
		if s, _ := ra.State("vr" + string(rune(i))); s != vrrp.Master {
			b.Fatalf("vr%d is %v on the master Router", i, s)
		}
	}

	recv0 := rb.RouterStats().Received
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		clk.Advance(time.Second)
		waitRecv(recv0 + uint64(i+1)*n)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)

	advs := float64(b.N) * n
	b.ReportMetric(float64(elapsed.Nanoseconds())/advs, "ns/adv")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/advs, "cpu-ns/adv")
	}
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/advs, "allocs/adv")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/advs, "B/adv")
	if st := rb.RouterStats(); st.ChecksumErrors+st.VRIDErrors+st.TTLErrors != 0 {
		b.Errorf("receive errors: %+v", st)
	}
	if d := epB.Stats().QueueDrops; d != 0 {
		b.Errorf("%d queue drops", d)
	}
}
