package sim

import (
	"testing"
	"time"
)

// BenchmarkSimSecond measures how fast the simulator runs a typical
// scenario: three routers, a VRRPv3 IPv4 and an IPv6 virtual router each
// (priorities 200/150/100), with a master elected. Each iteration is one
// virtual second; vsec/s is virtual seconds per real second.
func BenchmarkSimSecond(b *testing.B) {
	for _, c := range []struct {
		name     string
		interval time.Duration
	}{
		{"interval=1s", time.Second},
		{"interval=10ms", 10 * time.Millisecond},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := New(1, Config{})
			for i, p := range []uint8{200, 150, 100} {
				if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
					b.Fatal(err)
				}
				for _, vr := range []VR{vr4, vr6} {
					if err := s.AddVR(nodeName(i), vrConfig(vr, 3, p, c.interval)); err != nil {
						b.Fatal(err)
					}
				}
				s.Start(nodeName(i))
			}
			s.Run(10 * time.Second)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s.RunFor(time.Second)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vsec/s")
			if err := s.Err(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
