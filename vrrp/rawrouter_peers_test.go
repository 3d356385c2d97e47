package vrrp_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// dsts returns the destinations of the advertisements rd asks to send,
// each checked to parse.
func dsts(t *testing.T, rd *vrrp.Ready) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, o := range rd.Sends {
		for _, m := range o.Msgs {
			if _, _, err := packet.Parse(m.Buf, m.Meta.Src, m.Meta.Dst); err != nil {
				t.Fatalf("advertisement to %v does not parse: %v", m.Meta.Dst, err)
			}
			out = append(out, m.Meta.Dst)
		}
	}
	return out
}

// TestRawRouterSetPeers: SetPeers on a running master and on a backup
// changes where the next advertisements go and nothing else (no
// transition, no send, the timers and counters as they were); bad peers
// and a switch between multicast and unicast are refused with a
// ConfigError naming the field, leaving the peers as they were.
func TestRawRouterSetPeers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := vrrp.NewRawRouter(vrrp.RawConfig{})
	c := keyConn{"a"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Add(t0, vrrp.VirtualRouter{Name: "m", Conn: c, Config: rtCfg4(1, 255, rtIP4(1)), Peers: []netip.Addr{rtIP4(2), rtIP4(3)}}))
	must(r.Add(t0, vrrp.VirtualRouter{Name: "b", Conn: c, Config: rtCfg4(2, 100, rtIP4(1)), Peers: []netip.Addr{rtIP4(2)}}))
	must(r.Add(t0, vrrp.VirtualRouter{Name: "mc", Conn: keyConn{"b"}, Config: rtCfg4(3, 255, rtIP4(1))}))
	r.StartAll(t0)
	if got, want := dsts(t, r.Ready()), []netip.Addr{rtIP4(2), rtIP4(3), packet.GroupIPv4}; !slices.Equal(got, want) {
		t.Fatalf("first advertisements to %v, want %v", got, want)
	}
	r.Advance()
	r.Tick(t0.Add(time.Second)) // m's second advertisement
	r.Advance()
	now := t0.Add(1500 * time.Millisecond)

	type snap struct {
		state    vrrp.State
		stats    vrrp.Stats
		deadline time.Time
	}
	get := func(name string) snap {
		s, err := r.State(name)
		must(err)
		st, err := r.Stats(name)
		must(err)
		return snap{s, st, r.Deadline()}
	}
	beforeM, beforeB := get("m"), get("b")
	if beforeM.state != vrrp.Master || beforeB.state != vrrp.Backup {
		t.Fatalf("states %v, %v; want Master, Backup", beforeM.state, beforeB.state)
	}

	newPeers := []netip.Addr{rtIP4(4), rtIP4(5)}
	must(r.SetPeers(now, "m", newPeers))
	must(r.SetPeers(now, "b", []netip.Addr{rtIP4(6)}))
	newPeers[0] = rtIP4(9) // the RawRouter keeps a copy
	if rd := r.Ready(); !rd.Empty() {
		t.Errorf("SetPeers asked for %d sends, %d host actions; want nothing", len(rd.Sends), len(rd.Host))
	}
	if a, b := get("m"), get("b"); a != beforeM || b != beforeB {
		t.Errorf("after SetPeers: %+v, %+v; want them untouched: %+v, %+v", a, b, beforeM, beforeB)
	}
	if got, err := r.Peers("m"); err != nil || !slices.Equal(got, []netip.Addr{rtIP4(4), rtIP4(5)}) {
		t.Errorf("Peers(m) = %v, %v", got, err)
	}

	// Refused: each names the field and leaves the peers alone.
	bad := []struct {
		name  string
		peers []netip.Addr
		field string
	}{
		{"m", []netip.Addr{rtIP4(4), rtIP6(5)}, "VirtualRouter.Peers[1]"},
		{"m", []netip.Addr{{}}, "VirtualRouter.Peers[0]"},
		{"m", []netip.Addr{netip.MustParseAddr("224.0.0.18")}, "VirtualRouter.Peers[0]"},
		{"m", []netip.Addr{netip.IPv4Unspecified()}, "VirtualRouter.Peers[0]"},
		{"m", []netip.Addr{rtIP4(4), rtIP4(4)}, "VirtualRouter.Peers[1]"},
		{"m", nil, "VirtualRouter.Peers"},                     // unicast to multicast
		{"mc", []netip.Addr{rtIP4(2)}, "VirtualRouter.Peers"}, // multicast to unicast
	}
	for _, tt := range bad {
		err := r.SetPeers(now, tt.name, tt.peers)
		var ce *vrrp.ConfigError
		if !errors.Is(err, vrrp.ErrConfig) || !errors.As(err, &ce) || ce.Field != tt.field || ce.Allowed == "" {
			t.Errorf("SetPeers(%s, %v) = %v; want a ConfigError for %s", tt.name, tt.peers, err, tt.field)
		}
	}
	if err := r.SetPeers(now, "nope", newPeers); !errors.Is(err, vrrp.ErrNoVirtualRouter) {
		t.Errorf("SetPeers of an unknown name: %v, want ErrNoVirtualRouter", err)
	}
	if rd := r.Ready(); !rd.Empty() {
		t.Errorf("refused SetPeers asked for something: %+v", rd)
	}

	// The next advertisements (m at 2s, mc too) go to the new peers.
	now = t0.Add(2 * time.Second)
	r.Tick(now)
	got := dsts(t, r.Ready())
	slices.SortFunc(got, netip.Addr.Compare)
	if want := []netip.Addr{rtIP4(4), rtIP4(5), packet.GroupIPv4}; !slices.Equal(got, want) {
		t.Errorf("advertisements after SetPeers to %v, want %v", got, want)
	}
	for _, h := range r.Ready().Host {
		t.Errorf("host action after SetPeers: %v %s", h.Kind, h.VR.Name)
	}
	r.Advance()
	if s := get("m"); s.stats.SentAdvertisements != beforeM.stats.SentAdvertisements+1 {
		t.Errorf("m sent %d advertisements in all, want %d", s.stats.SentAdvertisements, beforeM.stats.SentAdvertisements+1)
	}

	// The backup's Master_Down_Timer ran on: it takes over when it
	// would have, and advertises to its new peer.
	end := t0.Add(time.Minute)
	for now = r.Deadline(); !now.After(end); now = r.Deadline() {
		r.Tick(now)
		var toB []netip.Addr
		for _, o := range r.Ready().Sends {
			for _, m := range o.Msgs {
				if m.Buf[1] == 2 { // VRID of b
					toB = append(toB, m.Meta.Dst)
				}
			}
		}
		took := false
		for _, h := range r.Ready().Host {
			if h.Kind == vrrp.HostTransition && h.VR.Name == "b" && h.Event.To == vrrp.Master {
				took = true
			}
		}
		r.Advance()
		if took {
			// Master_Down_Interval from Start: 3 * 1s + Skew_Time
			// (256-100)/256 s, RFC 9568 section 6.1.
			if want := t0.Add(3*time.Second + 156*time.Second/256); !now.Equal(want) {
				t.Errorf("b took over at %v, want %v", now.Sub(t0), want.Sub(t0))
			}
			if !slices.Equal(toB, []netip.Addr{rtIP4(6)}) {
				t.Errorf("b's first advertisement as master to %v, want [192.0.2.6]", toB)
			}
			return
		}
	}
	t.Fatal("b never took over")
}

// ExampleRawRouter_SetPeers: a master's unicast peers changed at run
// time. The next advertisement goes to the new peer; the master stays
// master (no transition).
func ExampleRawRouter_SetPeers() {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := vrrp.NewRawRouter(vrrp.RawConfig{})
	conn := keyConn{"eth0"} // only a key: a RawRouter never touches its Conns
	err := r.Add(t0, vrrp.VirtualRouter{Name: "web", Conn: conn, Interface: "eth0",
		Config: vrrp.Config{VRID: 51, Priority: 255, Primary: netip.MustParseAddr("10.0.0.1"),
			Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		Peers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}})
	if err != nil {
		panic(err)
	}
	show := func(now time.Time) {
		rd := r.Ready()
		var out []string
		for _, o := range rd.Sends {
			for _, m := range o.Msgs {
				out = append(out, "advertise to "+m.Meta.Dst.String())
			}
		}
		for _, h := range rd.Host {
			if h.Kind == vrrp.HostTransition {
				out = append(out, fmt.Sprintf("%v -> %v", h.Event.From, h.Event.To))
			}
		}
		if len(out) == 0 {
			out = append(out, "nothing")
		}
		fmt.Printf("%v: %s\n", now.Sub(t0), strings.Join(out, ", "))
		r.Advance()
	}
	r.StartAll(t0)
	show(t0)

	now := t0.Add(500 * time.Millisecond)
	if err := r.SetPeers(now, "web", []netip.Addr{netip.MustParseAddr("10.0.0.3")}); err != nil {
		panic(err)
	}
	show(now)
	now = r.Deadline()
	r.Tick(now)
	show(now)
	s, _ := r.State("web")
	fmt.Println(s)
	// Output:
	// 0s: advertise to 10.0.0.2, Initialize -> Master
	// 500ms: nothing
	// 1s: advertise to 10.0.0.3
	// Master
}

var _ transport.Conn = keyConn{}

// TestRawRouterAddPeersChecked: Add checks VirtualRouter.Peers as
// SetPeers does, naming the element at fault.
func TestRawRouterAddPeersChecked(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		peers []netip.Addr
		field string
	}{
		{[]netip.Addr{rtIP6(2)}, "VirtualRouter.Peers[0]"},
		{[]netip.Addr{rtIP4(2), netip.MustParseAddr("224.0.0.18")}, "VirtualRouter.Peers[1]"},
		{[]netip.Addr{netip.IPv4Unspecified()}, "VirtualRouter.Peers[0]"},
		{[]netip.Addr{rtIP4(2), rtIP4(3), rtIP4(2)}, "VirtualRouter.Peers[2]"},
	} {
		r := vrrp.NewRawRouter(vrrp.RawConfig{})
		err := r.Add(t0, vrrp.VirtualRouter{Name: "x", Conn: keyConn{"a"}, Config: rtCfg4(1, 100, rtIP4(1)), Peers: tt.peers})
		var ce *vrrp.ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("Add with peers %v = %v; want a ConfigError for %s naming the virtual router", tt.peers, err, tt.field)
		}
	}
}
