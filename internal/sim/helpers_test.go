package sim

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// Virtual routers used by the tests.
var (
	vr4 = VR{VRID: 1}
	vr6 = VR{V6: true, VRID: 2}
	vr2 = VR{VRID: 3}
)

func addr4(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}) }

func addr6(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i + 1)})
}

func nodeName(i int) string { return fmt.Sprintf("r%d", i+1) }

// vrConfig returns the config of vr with the given priority and interval;
// Primary is left for AddVR to fill in.
func vrConfig(vr VR, version uint8, prio uint8, interval time.Duration) vrrp.Config {
	cfg := vrrp.Config{VRID: vr.VRID, Priority: prio, Version: version, AdvertInterval: interval}
	if vr.V6 {
		cfg.Addrs = []netip.Addr{
			netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 14: 0xaa, 15: vr.VRID}),
			netip.MustParseAddr("2001:db8::1").Next(),
		}
	} else {
		cfg.Addrs = []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, vr.VRID})}
	}
	return cfg
}

// lan builds a simulation of len(prios) nodes r1, r2, ... with one
// virtual router vr each, the given priorities, all started at time 0.
func lan(t testing.TB, seed uint64, vr VR, version uint8, interval time.Duration, prios ...uint8) *Sim {
	t.Helper()
	s := New(seed, Config{})
	for i, p := range prios {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			t.Fatal(err)
		}
		if err := s.AddVR(nodeName(i), vrConfig(vr, version, p, interval)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range prios {
		s.Start(nodeName(i))
	}
	return s
}

// transition is a transition record without the fields tests don't
// compare.
type transition struct {
	At       time.Duration
	Node     string
	From, To vrrp.State
	Reason   vrrp.Reason
}

func transitions(s *Sim, vr VR, after time.Duration) []transition {
	var out []transition
	for _, r := range s.Trace() {
		if r.Kind == KindTransition && r.VR == vr && r.At > after {
			out = append(out, transition{r.At, r.Node, r.From, r.To, r.Reason})
		}
	}
	return out
}

// lastSend returns the time of the last advertisement node sent for vr
// at or before t.
func lastSend(s *Sim, node string, vr VR, t time.Duration) time.Duration {
	last := time.Duration(-1)
	for _, r := range s.Trace() {
		if r.Kind == KindSend && r.Node == node && r.VR == vr && r.At <= t {
			last = r.At
		}
	}
	return last
}

func mustNoErr(t testing.TB, s *Sim) {
	t.Helper()
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}
