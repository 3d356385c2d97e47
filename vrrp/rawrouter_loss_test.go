package vrrp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// lossFixture is a RawRouter with one backup (priority 100, 1 s: a
// Master_Down_Interval of 3.609375 s) on conn, and the advertisement of
// its master (priority 200), as a socket delivers them.
type lossFixture struct {
	t    *testing.T
	r    *vrrp.RawRouter
	conn transport.Conn
	adv  []byte
	t0   time.Time
}

func newLossFixture(t *testing.T) *lossFixture {
	t.Helper()
	f := &lossFixture{t: t, r: vrrp.NewRawRouter(vrrp.RawConfig{}), conn: keyConn{"b"}, t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := f.r.Add(f.t0, vrrp.VirtualRouter{Name: "x", Conn: f.conn, Config: rtCfg4(1, 100, rtIP4(2))}); err != nil {
		t.Fatal(err)
	}
	f.adv = diagAdv(t, packet.Advertisement{Version: 3, VRID: 1, Priority: 200, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}, rtIP4(1))
	f.r.StartAll(f.t0)
	f.r.Advance()
	return f
}

// at is the fixture's time plus d seconds.
func (f *lossFixture) at(d float64) time.Time {
	return f.t0.Add(time.Duration(d * float64(time.Second)))
}

// recv hands over the master's advertisement that arrived at
// second d with the socket's drop count drops.
func (f *lossFixture) recv(d float64, drops uint32) {
	f.r.Receive(f.at(d), f.conn, f.adv, transport.Meta{Src: rtIP4(1), Dst: packet.GroupIPv4, TTL: 255, Time: f.at(d), Drops: drops})
	f.r.Advance()
}

// tick fires the timers due by second d and returns the state after.
func (f *lossFixture) tick(d float64) vrrp.State {
	f.r.Tick(f.at(d))
	f.r.Advance()
	st, err := f.r.State("x")
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// TestRawRouterQueueDropsHoldTheBackup: a backup whose own socket
// dropped its master's advertisements (the host stalled; issue 12, a
// 3 s stop of a backup of 1,000 links made every one of them take over,
// twice) does not count that silence against the master: its
// Master_Down_Timer restarts from the drop, and the master's next
// advertisement keeps it backup. The drop is learnt from a packet's
// Meta.Drops or from the Conn (QueueDropped); the same silence without
// a drop is a takeover (RFC 9568 section 6.4.2).
func TestRawRouterQueueDropsHoldTheBackup(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after the advertisements of seconds 1 to 10 and the
		// stall: the socket kept those of 11 and 12, dropped 13 to
		// 19; the reader reads at 20.
		resume func(f *lossFixture)
		// takeovers: transitions to Master by 20 s.
		takeovers, drops, holds uint64
	}{
		{
			name: "no drop: a takeover",
			resume: func(f *lossFixture) {
				f.recv(11, 3)
				f.recv(12, 3)
				f.tick(20)
			},
			takeovers: 1,
		},
		{
			name: "no drop, then the next packet: a takeover, then backup again",
			resume: func(f *lossFixture) {
				f.recv(11, 3)
				f.recv(12, 3)
				f.recv(20, 3)
			},
			takeovers: 1,
		},
		{
			name: "drop count from the Conn when the reader caught up",
			resume: func(f *lossFixture) {
				f.recv(11, 3)
				f.recv(12, 3)
				f.r.QueueDropped(f.at(20), f.conn, 10)
				f.tick(20)
			},
			drops: 7, holds: 1,
		},
		{
			name: "drop count on the next packet queued",
			resume: func(f *lossFixture) {
				f.recv(11, 3)
				f.recv(12, 3)
				f.recv(20, 10)
			},
			drops: 7, holds: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLossFixture(t)
			for s := 1; s <= 10; s++ {
				f.recv(float64(s), 3) // drops before: the baseline
			}
			tc.resume(f)
			st, err := f.r.Stats("x")
			if err != nil {
				t.Fatal(err)
			}
			if st.MasterTransitions != tc.takeovers {
				t.Fatalf("%d takeovers by 20 s; want %d", st.MasterTransitions, tc.takeovers)
			}
			if tc.takeovers > 0 {
				return
			}
			if got := f.tick(20); got != vrrp.Backup {
				t.Fatalf("state at 20 s = %v; want Backup", got)
			}
			// The master's next advertisement keeps it backup; its
			// silence after that is a takeover again, on time.
			f.recv(20.5, 10)
			if got := f.tick(20.5 + 3.6); got != vrrp.Backup {
				t.Errorf("state 3.6 s after the master's last advertisement = %v; want Backup", got)
			}
			if got := f.tick(20.5 + 3.61); got != vrrp.Master {
				t.Errorf("state 3.61 s after the master's last advertisement = %v; want Master", got)
			}
			s := f.r.RouterStats()
			if s.QueueDrops != tc.drops || s.LossHolds != tc.holds {
				t.Errorf("QueueDrops %d, LossHolds %d; want %d, %d", s.QueueDrops, s.LossHolds, tc.drops, tc.holds)
			}
		})
	}
}

// TestRawRouterQueueDropsHoldIsBounded: a host that keeps dropping holds
// its backups for maxLossHold (2 s) of drops at most; a master that went
// silent is still taken over from.
func TestRawRouterQueueDropsHoldIsBounded(t *testing.T) {
	f := newLossFixture(t)
	f.recv(1, 0)
	// The master is gone after 1 s; the socket reports drops (other
	// links' packets) every 100 ms from 3 s on, and never stops.
	drops := uint32(0)
	var took time.Time
	for ms := 3000; ms <= 20000; ms += 100 {
		now := f.at(float64(ms) / 1000)
		drops++
		f.r.QueueDropped(now, f.conn, drops)
		if f.tick(float64(ms)/1000) == vrrp.Master {
			took = now
			break
		}
	}
	// The first drop (3 s) starts the run; the last that holds is
	// before 5 s (4.9 s); the timer restarts from it: 4.9 + 3.609375.
	want := f.at(4.9 + 3.609375)
	if took.IsZero() || took.Before(want) || took.Sub(want) > 100*time.Millisecond {
		t.Errorf("took over at %v; want at the first tick after %v (the last drop that holds + Master_Down_Interval)", took.Sub(f.t0), want.Sub(f.t0))
	}
}
