package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/govrrp/govrrp/transport/memnet"
)

func TestParseOptions(t *testing.T) {
	got, err := parseOptions([]string{"-iface", "eth1", "-vrid", "7", "-priority", "150", "-listen", ":9", "10.0.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	want := options{iface: "eth1", vrid: 7, priority: 150, listen: ":9", vip: netip.MustParseAddr("10.0.0.7")}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(options{}), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got, _ = parseOptions([]string{"-vrid", "9", "-peer", "10.0.0.2"})
	if got.vip != netip.MustParseAddr("192.0.2.9") {
		t.Errorf("default IPv4 VIP %v", got.vip)
	}
	got, _ = parseOptions([]string{"-vrid", "9", "-peer", "fe80::2"})
	if got.vip != netip.MustParseAddr("2001:db8::9") {
		t.Errorf("default IPv6 VIP %v", got.vip)
	}
	for args, want := range map[string]string{
		"-vrid 0":         "-vrid 0: want 1-255",
		"-priority 255":   "-priority 255: want 1-254",
		"-peer x":         `invalid value "x" for flag -peer`,
		"1.2.3.4 5.6.7.8": "one VIP argument at most",
		"nope":            `VIP "nope"`,
	} {
		_, err := parseOptions(strings.Fields(args))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v; want %q", args, err, want)
		}
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
		done := make(chan error, 2)
		for i, prio := range []uint8{200, 100} {
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			o := options{iface: "eth0", vrid: 1, priority: prio, vip: netip.MustParseAddr("10.0.0.100")}
			r, err := newRouter(o, lan.MustAttach(memnet.EndpointConfig{Addrs: []netip.Addr{addr}}), addr, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stops[i] = cancel
			go leaderJob(ctx, r, time.Second, func() { work[i].Add(1) })
			go func() { done <- r.Run(ctx) }()
		}
		time.Sleep(10500 * time.Millisecond)
		if a, b := work[0].Load(), work[1].Load(); a < 5 || b != 0 {
			t.Errorf("work done: master %d, backup %d; want only the master", a, b)
		}
		stops[0]()
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
