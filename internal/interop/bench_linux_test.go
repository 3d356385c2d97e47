//go:build linux

package interop

import (
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
	"github.com/govrrp/govrrp/internal/netlab"
)

// BenchmarkCrashTakeover measures the takeover after a kill -9 of the
// master (priority 150) by the backup (100), VRRPv3 over IPv4 at 100 ms,
// from the observer's capture: the old master's last advert to the new
// master's first. RFC 9568 predicts Master_Down_Interval = 3 * 100 ms +
// Skew_Time (60.9 ms at priority 100) = 360.9 ms. One lab per iteration.
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/interop -run '^$' -bench CrashTakeover -benchtime 5x
func BenchmarkCrashTakeover(b *testing.B) {
	s := setups[0] // v3-ipv4
	for _, p := range append(pairings, baseline) {
		b.Run(p.name(), func(b *testing.B) {
			requireAll(b, p.h1 == "vrrpd" || p.h2 == "vrrpd")
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				total += measureCrash(b, s, p)
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/takeover")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// measureCrash runs p.h1 at priority 150 and p.h2 at 100 on a fresh lab,
// kills the master and returns the takeover time seen on the capture.
func measureCrash(b testing.TB, s setup, p pairing) time.Duration {
	lab := netlab.New(b, labPrefix+"b", 3)
	capt := keepalived.StartCapture(b, lab.Host(3))
	n1 := s.start(b, lab, 1, p.h1, 150, false)
	waitState(b, n1, "MASTER")
	n2 := s.start(b, lab, 2, p.h2, 100, false)
	waitState(b, n2, "BACKUP")
	time.Sleep(5 * s.interval)
	n1.Kill()
	kill := time.Now() // reaped: its last advert was before this
	waitState(b, n2, "MASTER")
	time.Sleep(s.interval)
	pkts := capt.Stop()
	last, ok := pkts.LastAdvertBefore(s.src(lab.Host(1)), kill)
	if !ok {
		b.Fatal("no advert from h1 before the kill")
	}
	first, ok := pkts.FirstAdvertAfter(s.src(lab.Host(2)), last.Time)
	if !ok {
		b.Fatal("no advert from h2 after h1's last one")
	}
	return first.Time.Sub(last.Time)
}
