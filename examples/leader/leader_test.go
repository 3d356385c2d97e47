package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

func TestRunErrors(t *testing.T) {
	for _, tt := range []struct {
		vrid, prio uint
		want       string
	}{
		{0, 100, "-vrid 0 -priority 100: want a VRID of 1-255 and a priority of 1-254"},
		{256, 100, "-vrid 256 -priority 100: want a VRID of 1-255"},
		{42, 255, "-vrid 42 -priority 255: want a VRID of 1-255 and a priority of 1-254"},
		{42, 0, "-priority 0"},
	} {
		err := run(context.Background(), "eth0", tt.vrid, tt.prio, "127.0.0.1:0")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(vrid %d, priority %d) = %v; want %q", tt.vrid, tt.prio, err, tt.want)
		}
	}
	// A missing interface is named (whatever the privileges).
	err := run(context.Background(), "nosuch0", 42, 100, "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("missing interface: %v", err)
	}
}

func TestStatusHandler(t *testing.T) {
	for leading, want := range map[bool]string{true: "master", false: "backup"} {
		rec := httptest.NewRecorder()
		statusHandler(func() bool { return leading }).ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got["role"] != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("leading=%v: %v %q", leading, got, rec.Header().Get("Content-Type"))
		}
	}
}

// Two replicas on an in-memory LAN: only the master works, and the backup
// takes over when the master stops.
func TestOnlyTheLeaderWorks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		var work [2]atomic.Int64
		var stops [2]context.CancelFunc
		var jobs [2]*job
		done := make(chan error, 2)
		for i, prio := range []uint8{200, 100} {
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			jobs[i] = &job{interval: time.Second, work: func(context.Context) { work[i].Add(1) }}
			r, err := newRouter(lan.MustAttach(memnet.EndpointConfig{Addrs: []netip.Addr{addr}}), "eth0", 1, prio, addr, jobs[i])
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stops[i] = cancel
			go func() { done <- r.Run(ctx) }()
		}
		time.Sleep(10500 * time.Millisecond)
		if a, b := work[0].Load(), work[1].Load(); a < 5 || b != 0 {
			t.Errorf("work done: master %d, backup %d; want only the master", a, b)
		}
		stops[0]()
		// SIGTERM hands over with priority 0: the backup leads after
		// Skew_Time (0.61s at priority 100), not Master_Down_Interval
		// (3.61s).
		time.Sleep(700 * time.Millisecond)
		synctest.Wait()
		if !jobs[1].leading() {
			t.Error("the backup did not take over within Skew_Time of the master's shutdown")
		}
		before := work[1].Load()
		time.Sleep(5 * time.Second)
		if work[1].Load() <= before {
			t.Error("the backup did not take over the work")
		}
		stops[1]()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	})
}

// TestJobFenced: leadership moves back and forth (the master's priority
// falls below the backup's and rises again, a preemption each time; then
// a priority-0 handover) and each job stops at the instant its replica
// leaves Master, not at a later poll: in virtual time the two jobs never
// run together for any length of time. (In a preemption the new master's
// first advertisement is what tells the old one; on a real network the
// two overlap for the time it takes to arrive and be handled.)
func TestJobFenced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		var mu sync.Mutex
		running, starts := 0, 0
		var overlap time.Duration
		var since time.Time
		var routers [2]*vrrp.Router
		var stops [2]context.CancelFunc
		done := make(chan error, 2)
		for i, prio := range []uint8{200, 100} {
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			j := &job{interval: time.Hour, work: func(ctx context.Context) {
				mu.Lock()
				running++
				starts++
				if running == 2 {
					since = time.Now()
				}
				mu.Unlock()
				<-ctx.Done() // a long job, until fenced off
				mu.Lock()
				if running == 2 {
					overlap += time.Since(since)
				}
				running--
				mu.Unlock()
			}}
			r, err := newRouter(lan.MustAttach(memnet.EndpointConfig{Addrs: []netip.Addr{addr}}), "eth0", 1, prio, addr, j)
			if err != nil {
				t.Fatal(err)
			}
			routers[i] = r
			ctx, cancel := context.WithCancel(context.Background())
			stops[i] = cancel
			go func() { done <- r.Run(ctx) }()
		}
		time.Sleep(5 * time.Second)
		for _, p := range []uint8{50, 200, 50, 200} {
			if err := routers[0].SetPriority("leader", p); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
			synctest.Wait()
			mu.Lock()
			if running != 1 {
				t.Errorf("priority %d: %d jobs running, want 1", p, running)
			}
			mu.Unlock()
		}
		stops[0]() // hands over with priority 0
		if err := <-done; err != nil {
			t.Error(err)
		}
		time.Sleep(5 * time.Second)
		stops[1]()
		if err := <-done; err != nil {
			t.Error(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if overlap != 0 {
			t.Errorf("both replicas' jobs ran together for %v", overlap)
		}
		if starts != 6 || running != 0 {
			t.Errorf("%d jobs started, %d running at the end; want 6 and 0", starts, running)
		}
	})
}

// TestNoInventedAddress: the replicas advertise their own addresses, not
// an invented virtual one, install nothing, and neither counts the
// other's address list as an error.
func TestNoInventedAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		sniff := lan.MustAttach(memnet.EndpointConfig{Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, 0, 0, 9})}})
		seen := map[netip.Addr][]netip.Addr{} // source -> advertised addresses
		sniffed := make(chan struct{})
		go func() {
			defer close(sniffed)
			buf := make([]byte, 1500)
			for {
				n, m, err := sniff.ReadFrom(buf)
				if err != nil {
					return
				}
				adv, _, err := packet.Parse(buf[:n], m.Src, m.Dst)
				if err != nil {
					t.Errorf("bad advertisement from %v: %v", m.Src, err)
					continue
				}
				seen[m.Src] = adv.Addrs
			}
		}()
		var routers [2]*vrrp.Router
		var stops [2]context.CancelFunc
		done := make(chan error, 2)
		for i, prio := range []uint8{200, 100} {
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			r, err := newRouter(lan.MustAttach(memnet.EndpointConfig{Addrs: []netip.Addr{addr}}), "eth0", 1, prio,
				addr, &job{interval: time.Hour, work: func(context.Context) {}})
			if err != nil {
				t.Fatal(err)
			}
			routers[i] = r
			ctx, cancel := context.WithCancel(context.Background())
			stops[i] = cancel
			go func() { done <- r.Run(ctx) }()
		}
		time.Sleep(10 * time.Second)
		stops[0]() // priority 0: the backup leads
		<-done
		time.Sleep(5 * time.Second)
		st, err := routers[1].Stats("leader")
		if err != nil || st.AddressListErrors != 0 || st.RcvdAdvertisements < 5 || st.MasterTransitions != 1 {
			t.Errorf("the backup's stats %+v (%v): want advertisements, no address list error, one takeover", st, err)
		}
		stops[1]()
		<-done
		sniff.Close()
		<-sniffed
		for i := range 2 {
			a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			if got := seen[a]; len(got) != 1 || got[0] != a {
				t.Errorf("%v advertised %v, want its own address", a, got)
			}
		}
	})
}
