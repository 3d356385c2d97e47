//go:build unix

package main

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// scaleSys is a host with one link per instance, as the scale harness
// builds them (internal/scale): each instance's transport is its own
// in-memory segment, every link is up, host operations succeed at once.
type scaleSys struct{}

func (scaleSys) Open(in *Instance) (transport.Conn, int, netip.Addr, error) {
	var idx int
	if _, err := fmt.Sscanf(in.Interface, "vl%d", &idx); err != nil {
		return nil, 0, netip.Addr{}, err
	}
	a := netip.AddrFrom4([4]byte{10, byte(idx / 250), byte(idx % 250), 2})
	ep, err := memnet.New(memnet.Config{}).Attach(memnet.EndpointConfig{Name: in.Interface, Addrs: []netip.Addr{a}, IfIndex: idx + 2})
	if err != nil {
		return nil, 0, netip.Addr{}, err
	}
	return ep, idx + 2, a, nil
}
func (scaleSys) RemoveStale(*Instance) error           { return nil }
func (scaleSys) Take(*Instance, vrrp.VRInfo) error     { return nil }
func (scaleSys) Release(*Instance, vrrp.VRInfo) error  { return nil }
func (scaleSys) Announce(*Instance, vrrp.VRInfo) error { return nil }
func (scaleSys) LinkUp(string) (bool, error)           { return true, nil }
func (scaleSys) Close() error                          { return nil }
func (scaleSys) WatchLinks(ctx context.Context, _ func(string, bool)) error {
	<-ctx.Done()
	return nil
}

// scaleConfig is n instances as the scale harness configures them: one
// per link vlI, VRID 1, one VIP, 1 s, accept.
func scaleConfig(n int) Config {
	c := Config{NotifyTimeout: time.Second}
	for i := range n {
		c.Instances = append(c.Instances, Instance{
			Name: fmt.Sprintf("VI_%d", i), Interface: fmt.Sprintf("vl%d", i), VRID: 1, Priority: 150,
			Version: 3, Interval: time.Second, Accept: true,
			VIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i / 250), byte(i % 250), 1}), 24)},
		})
	}
	return c
}

// startScaleDaemon runs a daemon with n instances on their own links
// and waits until every one is master (nobody else on the links).
func startScaleDaemon(tb testing.TB, n int) *daemon {
	tb.Helper()
	d := newDaemon(scaleConfig(n), scaleSys{}, discard(), nil, (&recorder{}).run)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			tb.Error(err)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < n; {
		if s, err := d.router.State(fmt.Sprintf("VI_%d", i)); err == nil && s == vrrp.Master {
			i++
			continue
		}
		if time.Now().After(deadline) {
			tb.Fatalf("VI_%d not master after 60 s", i)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// processCPU is the CPU time of the process so far (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardResponse counts and drops a response's body.
type discardResponse struct {
	n int64
}

func (w *discardResponse) Write(b []byte) (int, error) {
	w.n += int64(len(b))
	return len(b), nil
}

// BenchmarkStatusEndpoints is one read of each endpoint of the status
// listener (JSON status, /metrics in both formats, /ietf-vrrp) of a
// running daemon with N instances, all master, 1 s: the time, bytes and
// allocations of a request (the scale harness reads /status every few
// seconds, Prometheus scrapes /metrics every 15 s).
//
//	go test -run '^$' -bench StatusEndpoints -benchmem ./examples/vrrpd
func BenchmarkStatusEndpoints(b *testing.B) {
	for _, n := range []int{100, 1000, 4094} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			d := startScaleDaemon(b, n)
			h := d.observeHandler(statusHandler(d.streamStatus))
			// idle: the daemon's CPU with no request, per second, to
			// subtract from cpu-ms/op (times the ns/op).
			b.Run("idle", func(b *testing.B) {
				for b.Loop() {
					cpu0 := processCPU()
					time.Sleep(time.Second)
					b.ReportMetric(float64(processCPU()-cpu0)/1e6, "cpu-ms/s")
				}
			})
			for _, ep := range []struct{ name, path, accept string }{
				{"status", "/status", ""},
				{"metrics", "/metrics", ""},
				{"openmetrics", "/metrics", "application/openmetrics-text; version=1.0.0"},
				{"ietf", "/ietf-vrrp", ""},
			} {
				b.Run(ep.name, func(b *testing.B) {
					var size int64
					b.ReportAllocs()
					cpu0 := processCPU()
					for b.Loop() {
						w := &discardResponse{}
						if code, _, err := serve(h, "GET", ep.path, ep.accept, w); code != 200 || err != nil {
							b.Fatalf("GET %s: %d, %v", ep.path, code, err)
						}
						size = w.n
					}
					b.ReportMetric(float64(size), "B/resp")
					// The process's CPU time per request, the daemon's
					// own work on its 1 s timers included (see idle).
					b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
				})
			}
		})
	}
}
