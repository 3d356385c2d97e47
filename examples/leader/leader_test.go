package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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
		var routers [2]*vrrp.Router
		done := make(chan error, 2)
		for i, prio := range []uint8{200, 100} {
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			r, err := newRouter(lan.MustAttach(memnet.EndpointConfig{Addrs: []netip.Addr{addr}}), "eth0", 1, prio, addr)
			if err != nil {
				t.Fatal(err)
			}
			routers[i] = r
			ctx, cancel := context.WithCancel(context.Background())
			stops[i] = cancel
			go every(ctx, r, time.Second, func() { work[i].Add(1) })
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
		if !leading(routers[1]) {
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
