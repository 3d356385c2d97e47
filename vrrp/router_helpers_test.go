package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// Skew_Time of priority 100 and 200 at a 1s interval, and the matching
// Master_Down_Interval (RFC 9568 section 6.1), at full precision.
const (
	rtSkew100 = 609375 * time.Microsecond // (256-100)/256 s
	rtSkew150 = 414062500 * time.Nanosecond
	rtSkew200 = 218750 * time.Microsecond // (256-200)/256 s
	rtDown100 = 3*time.Second + rtSkew100
	rtDown200 = 3*time.Second + rtSkew200
)

var (
	rtVIP4 = netip.MustParseAddr("192.0.2.100")
	rtVIP6 = netip.MustParseAddr("fe80::100")
)

func rtIP4(last byte) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, last}) }
func rtIP6(last byte) netip.Addr { return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: last}) }

func rtCfg4(vrid, prio uint8, primary netip.Addr) vrrp.Config {
	return vrrp.Config{VRID: vrid, Priority: prio, Primary: primary, Addrs: []netip.Addr{rtVIP4}}
}

func rtCfg6(vrid, prio uint8, primary netip.Addr) vrrp.Config {
	return vrrp.Config{VRID: vrid, Priority: prio, Primary: primary, Addrs: []netip.Addr{rtVIP6}}
}

// rtNode is one Router running in the test's synctest bubble, with its
// events and hook calls recorded.
type rtNode struct {
	t      *testing.T
	r      *vrrp.Router
	cancel context.CancelFunc
	runErr chan error
	evDone chan struct{}

	mu     sync.Mutex
	events []vrrp.Event
	hooks  []string
}

// rtNewNode returns a rtNode whose Router is not running yet.
func rtNewNode(t *testing.T, cfg vrrp.RouterConfig) *rtNode {
	n := &rtNode{t: t, runErr: make(chan error, 1), evDone: make(chan struct{})}
	rec := func(what string) func(vrrp.VRInfo) error {
		return func(vr vrrp.VRInfo) error {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.hooks = append(n.hooks, fmt.Sprintf("%s %s prio=%d", what, vr.Name, vr.Priority))
			return nil
		}
	}
	hook := vrrp.HookFuncs{TakeFunc: rec("take"), ReleaseFunc: rec("release"), AnnounceFunc: rec("announce")}
	cfg.Hook = vrrp.MultiHook(cfg.Hook, hook)
	n.r = vrrp.NewRouter(cfg)
	return n
}

func (n *rtNode) add(vr vrrp.VirtualRouter) {
	n.t.Helper()
	if err := n.r.Add(vr); err != nil {
		n.t.Fatalf("Add(%s): %v", vr.Name, err)
	}
}

// start runs the Router and collects its events (unless collect is false:
// a consumer that never reads).
func (n *rtNode) start(collect bool) {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.runErr <- n.r.Run(ctx) }()
	if !collect {
		close(n.evDone)
		return
	}
	go func() {
		defer close(n.evDone)
		for rtEv := range n.r.Events() {
			n.mu.Lock()
			n.events = append(n.events, rtEv)
			n.mu.Unlock()
		}
	}()
}

// stop cancels Run and waits for it and the event collector.
func (n *rtNode) stop() {
	n.t.Helper()
	n.cancel()
	if err := <-n.runErr; err != nil {
		n.t.Errorf("Run: %v", err)
	}
	<-n.evDone
}

// rtEv is an Event in a form that prints well in diffs: the time is relative
// to the start of the bubble.
type rtEv struct {
	At     time.Duration
	Name   string
	From   vrrp.State
	To     vrrp.State
	Reason vrrp.Reason
}

// eventsSince returns the rtNode's events after t0 (Time relative to base).
func (n *rtNode) eventsAfter(base, after time.Time) []rtEv {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []rtEv
	for _, e := range n.events {
		if e.Time.After(after) {
			out = append(out, rtEv{At: e.Time.Sub(base), Name: e.Name, From: e.From, To: e.To, Reason: e.Reason})
		}
	}
	return out
}

func (n *rtNode) hookCalls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.hooks...)
}

func (n *rtNode) state(name string) vrrp.State {
	n.t.Helper()
	s, err := n.r.State(name)
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

func (n *rtNode) stats(name string) vrrp.Stats {
	n.t.Helper()
	s, err := n.r.Stats(name)
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

// rtSniffer records every advertisement seen by an endpoint on a LAN.
type rtSniffer struct {
	ep     *memnet.Endpoint
	base   time.Time
	done   chan struct{}
	mu     sync.Mutex
	rtSeen []rtSeen
}

type rtSeen struct {
	At   time.Duration
	Src  netip.Addr
	Dst  netip.Addr
	VRID uint8
	Prio uint8
}

func rtNewSniffer(t *testing.T, lan *memnet.Network, addrs ...netip.Addr) *rtSniffer {
	s := &rtSniffer{ep: lan.MustAttach(memnet.EndpointConfig{Name: "rtSniffer", Addrs: addrs}), base: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 9000)
		for {
			n, m, err := s.ep.ReadFrom(buf)
			if err != nil {
				return
			}
			adv, _, err := packet.Parse(buf[:n], m.Src, m.Dst)
			if err != nil {
				t.Errorf("rtSniffer: bad packet from %v: %v", m.Src, err)
				continue
			}
			s.mu.Lock()
			s.rtSeen = append(s.rtSeen, rtSeen{At: time.Since(s.base), Src: m.Src, Dst: m.Dst, VRID: adv.VRID, Prio: adv.Priority})
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *rtSniffer) close() { s.ep.Close(); <-s.done }

func (s *rtSniffer) all() []rtSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtSeen(nil), s.rtSeen...)
}

// last returns the time of the last advertisement from src.
func (s *rtSniffer) last(src netip.Addr) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.rtSeen) - 1; i >= 0; i-- {
		if s.rtSeen[i].Src == src {
			return s.rtSeen[i].At
		}
	}
	return -1
}

func rtAttach(lan *memnet.Network, name string, addrs ...netip.Addr) *memnet.Endpoint {
	return lan.MustAttach(memnet.EndpointConfig{Name: name, Addrs: addrs})
}
