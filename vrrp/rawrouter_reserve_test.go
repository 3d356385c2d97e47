package vrrp_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// TestRawRouterTakeoverAllocatesNothing: the step in which a backup that
// never sent becomes master (its first advertisement, the transition, the
// Take and Announce) allocates nothing: the RawRouter made the room when
// the virtual router was added. Before, it allocated the Ready's Host
// entries, its Sends slot, the Conn's messages and the arena there, and
// the fresh memory cost a takeover tens of microseconds on a VM. Also
// for 255 virtual routers taking over at once, on one Conn or on one
// each, IPv6 and VRRPv2 with peers.
func TestRawRouterTakeoverAllocatesNothing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		n         int
		perConn   bool
		cfg       func(i int) vrrp.Config
		peers     []netip.Addr
		setPeers  []netip.Addr // if not nil, SetPeers after Add
		wantSends int
	}{
		{"one", 1, false, func(int) vrrp.Config { return rtCfg4(1, 100, rtIP4(1)) }, nil, nil, 1},
		{"255 on one Conn", 255, false, func(i int) vrrp.Config { return rtCfg4(uint8(i+1), 100, rtIP4(1)) }, nil, nil, 255},
		{"255 on a Conn each", 255, true, func(i int) vrrp.Config { return rtCfg4(1, 100, rtIP4(1)) }, nil, nil, 255},
		{"IPv6", 3, false, func(i int) vrrp.Config {
			c := rtCfg6(uint8(i+1), 100, rtIP6(1))
			c.Addrs = append(c.Addrs, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"))
			return c
		}, nil, nil, 3},
		{"VRRPv2 with peers", 2, false, func(i int) vrrp.Config {
			c := rtCfg4(uint8(i+1), 100, rtIP4(1))
			c.Version, c.AdvertInterval = 2, time.Second
			return c
		}, []netip.Addr{rtIP4(2), rtIP4(3)}, nil, 4},
		{"peers grown by SetPeers", 2, false, func(i int) vrrp.Config { return rtCfg4(uint8(i+1), 100, rtIP4(1)) },
			[]netip.Addr{rtIP4(2)}, []netip.Addr{rtIP4(2), rtIP4(3), rtIP4(4), rtIP4(5)}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const runs = 20
			rrs := make([]*vrrp.RawRouter, runs+1)
			var due time.Time
			for k := range rrs {
				rr := vrrp.NewRawRouter(vrrp.RawConfig{Notes: true})
				var conn transport.Conn = keyConn{"a"}
				for i := range tc.n {
					if tc.perConn {
						conn = keyConn{fmt.Sprint(i)}
					}
					if err := rr.Add(t0, vrrp.VirtualRouter{Name: fmt.Sprint("vr", i), Conn: conn, Peers: tc.peers, Config: tc.cfg(i)}); err != nil {
						t.Fatal(err)
					}
					if tc.setPeers != nil {
						if err := rr.SetPeers(t0, fmt.Sprint("vr", i), tc.setPeers); err != nil {
							t.Fatal(err)
						}
					}
				}
				rr.StartAll(t0)
				rr.Advance()
				due = rr.Deadline()
				rrs[k] = rr
			}
			next := 0
			var sends, host int
			allocs := testing.AllocsPerRun(runs, func() {
				rr := rrs[next]
				next++
				rr.Tick(due)
				rd := rr.Ready()
				sends, host = 0, len(rd.Host)
				for _, o := range rd.Sends {
					sends += len(o.Msgs)
				}
			})
			if sends != tc.wantSends || host != 3*tc.n {
				t.Fatalf("the takeover step: %d advertisements and %d host actions, want %d and %d", sends, host, tc.wantSends, 3*tc.n)
			}
			if allocs != 0 {
				t.Errorf("the takeover step allocates %v times, want 0", allocs)
			}
		})
	}
}

// TestRawRouterReserveDuringAStep: a virtual router added in a step that
// has already sent on its Conn keeps its room there: the Conn's messages
// array reserved for both is not replaced, at Advance, by the smaller one
// that step used. A master (9.24 s interval) and a backup (2.56 s, whose
// Master_Down_Interval is 9.24 s) then send at the same instant without
// allocating.
func TestRawRouterReserveDuringAStep(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const runs = 10
	rrs := make([]*vrrp.RawRouter, runs+1)
	for k := range rrs {
		rr := vrrp.NewRawRouter(vrrp.RawConfig{})
		conn := keyConn{"a"}
		master := rtCfg4(1, 255, rtIP4(1))
		master.AdvertInterval = 9240 * time.Millisecond
		backup := rtCfg4(2, 100, rtIP4(1))
		backup.AdvertInterval = 2560 * time.Millisecond
		if err := rr.Add(t0, vrrp.VirtualRouter{Name: "m", Conn: conn, Config: master}); err != nil {
			t.Fatal(err)
		}
		rr.StartAll(t0) // the owner sends at once, on conn
		if err := rr.Add(t0, vrrp.VirtualRouter{Name: "b", Conn: conn, Config: backup}); err != nil {
			t.Fatal(err)
		}
		rr.Advance()
		if d := rr.Deadline(); !d.Equal(t0.Add(9240 * time.Millisecond)) {
			t.Fatalf("deadline %v, want 9.24s", d.Sub(t0))
		}
		rrs[k] = rr
	}
	next, sends := 0, 0
	allocs := testing.AllocsPerRun(runs, func() {
		rr := rrs[next]
		next++
		rr.Tick(t0.Add(9240 * time.Millisecond))
		sends = 0
		for _, o := range rr.Ready().Sends {
			sends += len(o.Msgs)
		}
	})
	if sends != 2 {
		t.Fatalf("%d advertisements at 9.24 s, want 2", sends)
	}
	if allocs != 0 {
		t.Errorf("the step allocates %v times, want 0", allocs)
	}
}
