package vrrp_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

// TestRawRouterBatchAdvertisements: 200 masters on one Conn, started 5 ms
// apart, driven at each Deadline for 20 s. With
// RawConfig.BatchAdvertisements the advertisements due within 1/16 of
// the interval of a step go out in that step: about a thirteenth of the
// steps (and of the writes a driver makes) of the exact schedule, each
// advertisement at most 62.5 ms early and never late, and no drift: each
// master's k-th advertisement belongs to the k-th interval after its
// start (RFC 9568 section 6.4.3). Without the option every advertisement
// leaves at its deadline, one step each.
func TestRawRouterBatchAdvertisements(t *testing.T) {
	const (
		n      = 200
		gap    = 5 * time.Millisecond
		length = 20 * time.Second
		slack  = time.Second / 16
	)
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			r := vrrp.NewRawRouter(vrrp.RawConfig{BatchAdvertisements: batch})
			c := keyConn{"c"}
			t0 := time.Unix(1000, 0)
			start := map[uint8]time.Time{}
			sent := map[uint8][]time.Time{}
			steps, writes := 0, 0
			drain := func(now time.Time) {
				rd := r.Ready()
				if len(rd.Sends) > 0 {
					steps++
				}
				for _, o := range rd.Sends {
					writes++
					for _, m := range o.Msgs {
						adv, _, err := packet.Parse(m.Buf, m.Meta.Src, m.Meta.Dst)
						if err != nil {
							t.Fatal(err)
						}
						sent[adv.VRID] = append(sent[adv.VRID], now)
					}
				}
				r.Advance()
			}
			r.StartAll(t0) // those added from now on start at once
			for i := range n {
				id := uint8(i + 1)
				now := t0.Add(time.Duration(i) * gap)
				// The address owner (priority 255) is master at once.
				vip := netip.AddrFrom4([4]byte{192, 0, 2, id})
				cfg := vrrp.Config{VRID: id, Priority: 255, Primary: vip, Addrs: []netip.Addr{vip}}
				if err := r.Add(now, vrrp.VirtualRouter{Name: fmt.Sprint("m", id), Conn: c, Interface: "eth0", Config: cfg}); err != nil {
					t.Fatal(err)
				}
				start[id] = now
				drain(now)
			}
			steps, writes = 0, 0
			from := t0.Add(time.Duration(n) * gap)
			for k := range sent {
				sent[k] = sent[k][:0]
			}
			end := from.Add(length)
			if st, _ := r.State("m1"); st != vrrp.Master || r.Deadline().IsZero() {
				t.Fatalf("m1 is %v, deadline %v, want Master with a timer", st, r.Deadline())
			}
			for now := r.Deadline(); !now.IsZero() && now.Before(end); now = r.Deadline() {
				r.Tick(now)
				drain(now)
			}
			total := 0
			for id, ts := range sent {
				total += len(ts)
				for _, at := range ts {
					// Its deadlines are start + k s.
					k := (at.Sub(start[id]) + slack) / time.Second
					due := start[id].Add(k * time.Second)
					if early := due.Sub(at); early < 0 || early > slack || !batch && early != 0 {
						t.Fatalf("m%d: advertisement at %v, %v before its deadline %v (batch %v)", id, at.Sub(t0), early, due.Sub(t0), batch)
					}
				}
				if want := int(length / time.Second); len(ts) < want-1 || len(ts) > want+1 {
					t.Errorf("m%d: %d advertisements in %v, want %d (no drift)", id, len(ts), length, want)
				}
			}
			t.Logf("batch %v: %d advertisements in %d steps, %d writes", batch, total, steps, writes)
			if !batch && steps != total {
				t.Errorf("exact: %d steps for %d advertisements, want one each", steps, total)
			}
			if batch && steps > total/10 {
				t.Errorf("batched: %d steps for %d advertisements, want at most a tenth", steps, total)
			}
		})
	}
}

// TestRawRouterSteadyStepAllocatesNothing: 1,000 masters on one Conn (4
// interfaces of VRIDs 1-250) that started together send in one step every
// second: past the first of those steps, a step allocates nothing. Before,
// Advance let go of a Conn's message array larger than the reserved room
// (256) after every step, and the next step allocated it again: 434 B per
// virtual router a second at 4,094 links (issue 12).
func TestRawRouterSteadyStepAllocatesNothing(t *testing.T) {
	r := vrrp.NewRawRouter(vrrp.RawConfig{})
	c := keyConn{"c"}
	t0 := time.Unix(1000, 0)
	r.StartAll(t0)
	for i := range 1000 {
		id, ifi := uint8(i%250+1), i/250+1
		vip := netip.AddrFrom4([4]byte{10, byte(ifi), id, 100})
		cfg := vrrp.Config{VRID: id, Priority: 255, Primary: vip, Addrs: []netip.Addr{vip}}
		if err := r.Add(t0, vrrp.VirtualRouter{Name: fmt.Sprint("m", i), Conn: c, Interface: fmt.Sprint("eth", ifi), IfIndex: ifi, Config: cfg}); err != nil {
			t.Fatal(err)
		}
	}
	step := func() int {
		now := r.Deadline()
		r.Tick(now)
		n := 0
		for _, o := range r.Ready().Sends {
			n += len(o.Msgs)
		}
		r.Advance()
		return n
	}
	r.Advance()
	if n := step(); n != 1000 {
		t.Fatalf("a step sent %d advertisements, want 1000 (every master at once)", n)
	}
	if a := testing.AllocsPerRun(10, func() { step() }); a != 0 {
		t.Errorf("a step of 1,000 advertisements allocated %v times, want 0", a)
	}
}
