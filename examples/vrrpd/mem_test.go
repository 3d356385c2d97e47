package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/scale"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// memSys is the system of the in-process memory measurement: the scale
// lab's host (internal/scale: link l<i> with index i and address
// netlab.LinkAddr(i, host)) without sockets or netlink. Every instance
// goes on one shared transport of its family (multiSystem), as on
// linuxSystem; the transports receive nothing and drop what is sent;
// Take, Release and Announce do nothing. What it holds per instance is
// nothing, so that the heap measured is the daemon's.
type memSys struct {
	host int

	mu    sync.Mutex
	conns []*stubConn
}

var _ multiSystem = (*memSys)(nil)

func (s *memSys) link(in *Instance) (int, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(in.Interface, "l"))
	if err != nil || !strings.HasPrefix(in.Interface, "l") {
		return 0, fmt.Errorf("interface %q: no such interface", in.Interface)
	}
	return i, nil
}

func (s *memSys) Open(in *Instance) (transport.Conn, int, netip.Addr, error) {
	return nil, 0, netip.Addr{}, errors.New("memSys: only shared transports")
}

func (s *memSys) OpenMulti(fam vrrp.Family, in *Instance) (transport.Conn, error) {
	if _, err := s.link(in); err != nil {
		return nil, err
	}
	c := &stubConn{fam: fam, done: make(chan struct{})}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	return c, nil
}

func (s *memSys) JoinMulti(c transport.Conn, joined int, in *Instance) (int, netip.Addr, error) {
	i, err := s.link(in)
	if err != nil {
		return 0, netip.Addr{}, err
	}
	return i, netlab.LinkAddr(i, s.host), nil
}

func (s *memSys) LeaveMulti(transport.Conn, *Instance) error { return nil }
func (s *memSys) RemoveStale(*Instance) error                { return nil }
func (s *memSys) Take(*Instance, vrrp.VRInfo) error          { return nil }
func (s *memSys) Release(*Instance, vrrp.VRInfo) error       { return nil }
func (s *memSys) Announce(*Instance, vrrp.VRInfo) error      { return nil }
func (s *memSys) LinkUp(string) (bool, error)                { return true, nil }
func (s *memSys) Close() error                               { return nil }
func (s *memSys) WatchLinks(ctx context.Context, _ func(string, bool)) error {
	<-ctx.Done()
	return nil
}

// liveHeap returns the live heap after a full collection
// (/gc/heap/live:bytes: the heap marked reachable by the last cycle).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapAllocs returns the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// memFigures is what measureDaemon measured for n instances: the live
// heap per instance once every instance has started (backup) and once
// every one is master, in bytes.
type memFigures struct {
	n              int
	backup, master float64
	// allocRate is what the daemon allocates per instance and second
	// of (fake) time once every instance is master, in bytes: with the
	// live heap, it says how often the GC runs (GOGC).
	allocRate float64
	// startAllocs is what was allocated from before the configuration
	// was parsed to every instance master, per instance, in bytes: the
	// start-up garbage.
	startAllocs float64
}

// measureDaemon runs vrrpd's daemon with the scale lab's configuration of
// n links (internal/scale.VrrpdConfig at 1 s, with a notify command, as
// the scale runs) on memSys in a synctest bubble, and measures its live
// heap: before the configuration is parsed, once every instance has
// started as backup, and once every instance is master (nothing is
// received: each takes over after Master_Down_Interval). inspect, if not
// nil, is called while every instance is master.
func measureDaemon(t *testing.T, n int, inspect func(*daemon)) memFigures {
	t.Helper()
	f := memFigures{n: n}
	synctest.Test(t, func(t *testing.T) {
		base := liveHeap()
		allocs0 := heapAllocs()
		cfg, err := parseTOML("scale.toml", string(scale.VrrpdConfig(n, time.Second, scale.BackupPriority)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range cfg.Instances {
			cfg.Instances[i].Notify = "/usr/local/bin/vrrp-notify" // the scale runs' -notify
		}
		run := func(context.Context, string, []string) error { return nil }
		d := newDaemon(cfg, &memSys{host: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, run)
		cfg = Config{}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- d.Run(ctx) }()
		synctest.Wait()
		select {
		case <-d.start.done:
		default:
			t.Fatal("the instances have not all started")
		}
		f.backup = float64(liveHeap()-base) / float64(n)

		time.Sleep(5 * time.Second) // Master_Down_Interval is 3.6 s at 1 s
		synctest.Wait()
		masters := 0
		for _, is := range d.status().Instances {
			if is.State == "MASTER" {
				masters++
			}
		}
		if masters != n {
			t.Fatalf("%d masters of %d instances", masters, n)
		}
		f.master = float64(liveHeap()-base) / float64(n)
		f.startAllocs = float64(heapAllocs()-allocs0) / float64(n)
		const steady = 30 * time.Second
		a0 := heapAllocs()
		time.Sleep(steady)
		synctest.Wait()
		f.allocRate = float64(heapAllocs()-a0) / float64(n) / steady.Seconds()
		if inspect != nil {
			inspect(d)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
	return f
}

// memSizes are TestMemoryPerInstance's sizes: 500 in `go test ./...`;
// issue 12's are -mem.sizes 100,1000,4094.
var memSizes = flag.String("mem.sizes", "500", "TestMemoryPerInstance: numbers of instances, comma-separated")

// memProfile is where TestMemoryPerInstance writes the heap profile of
// its last size, taken while every instance is master.
var memProfile = flag.String("mem.profile", "", "TestMemoryPerInstance: file for the heap profile (while every instance is master) of the last size")

// TestMemoryPerInstance measures and bounds the live heap the daemon
// holds per instance with the scale lab's configuration (issue 12: 32 MB
// of RSS for 4,094 links is 8 kB per link, and the Go heap runs at up to
// twice the live heap between collections). A deterministic count of
// bytes, not a timing: the daemon runs on memSys in a synctest bubble.
// Issue 12's sizes, with the heap profile of the last one:
//
//	go test ./examples/vrrpd -run TestMemoryPerInstance -v -mem.sizes 100,1000,4094 \
//	    -memprofile /tmp/mem.prof -memprofilerate 1
func TestMemoryPerInstance(t *testing.T) {
	sizes := strings.Split(*memSizes, ",")
	for k, s := range sizes {
		var inspect func(*daemon)
		if *memProfile != "" && k == len(sizes)-1 {
			inspect = func(*daemon) {
				f, err := os.Create(*memProfile)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("-mem.sizes: %q is not a number of instances", s)
		}
		f := measureDaemon(t, n, inspect)
		t.Logf("%d instances: live heap %.0f B per instance as backup, %.0f B as master; allocated %.0f B per instance to start, then %.1f B per instance and second as master",
			n, f.backup, f.master, f.startAllocs, f.allocRate)
		if f.backup > memBound || f.master > memBound {
			t.Errorf("%d instances: live heap per instance %.0f B as backup, %.0f B as master; want at most %d B",
				n, f.backup, f.master, memBound)
		}
	}
}

// memBound is the live heap per instance TestMemoryPerInstance allows.
const memBound = 16384
