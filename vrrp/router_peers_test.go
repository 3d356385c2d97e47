package vrrp_test

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// peerConn is a memnet Endpoint that is a transport.PeerSetter: it
// records the sets it is given, or refuses them with err.
type peerConn struct {
	*memnet.Endpoint
	mu   sync.Mutex
	sets [][]netip.Addr
	err  error
}

func (c *peerConn) SetPeers(peers []netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.sets = append(c.sets, slices.Clone(peers))
	return nil
}

func (c *peerConn) got() [][]netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sets)
}

var _ transport.PeerSetter = (*peerConn)(nil)

// TestRouterSetPeers: a running master's peers changed with
// Router.SetPeers: a bystander added to the set receives its
// advertisements from then on, neither router makes a transition, the
// Conn is given the peers of every virtual router on it, and a change the
// Conn refuses changes nothing.
func TestRouterSetPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := memnet.New(memnet.Config{})
		sn := rtNewSniffer(t, lan, rtIP4(3))
		a, b := rtNewNode(t, vrrp.RouterConfig{}), rtNewNode(t, vrrp.RouterConfig{})
		ca := &peerConn{Endpoint: rtAttach(lan, "a", rtIP4(1))}
		a.add(vrrp.VirtualRouter{Name: "vr", Conn: ca, Config: rtCfg4(7, 200, rtIP4(1)), Peers: []netip.Addr{rtIP4(2)}})
		a.add(vrrp.VirtualRouter{Name: "other", Conn: ca, Config: rtCfg4(8, 200, rtIP4(1)), Peers: []netip.Addr{rtIP4(5)}})
		b.add(vrrp.VirtualRouter{Name: "vr", Conn: rtAttach(lan, "b", rtIP4(2)), Config: rtCfg4(7, 100, rtIP4(2)), Peers: []netip.Addr{rtIP4(1)}})
		a.start(true)
		b.start(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if sa, sb := a.state("vr"), b.state("vr"); sa != M || sb != B {
			t.Fatalf("states %v, %v; want Master, Backup", sa, sb)
		}
		if got := sn.all(); len(got) != 0 {
			t.Fatalf("the bystander saw %d advertisements before it was a peer", len(got))
		}
		before := time.Now()
		sentBefore := a.stats("vr").SentAdvertisements

		if err := a.r.SetPeers("vr", []netip.Addr{rtIP4(2), rtIP4(3)}); err != nil {
			t.Fatal(err)
		}
		if got, err := a.r.Peers("vr"); err != nil || !slices.Equal(got, []netip.Addr{rtIP4(2), rtIP4(3)}) {
			t.Errorf("Peers = %v, %v", got, err)
		}
		// The Conn admits the peers of both of its virtual routers.
		if got, want := ca.got(), [][]netip.Addr{{rtIP4(2), rtIP4(3), rtIP4(5)}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("Conn.SetPeers calls %v, want %v", got, want)
		}
		// Refused by the Conn, or by the check: nothing changes.
		ca.mu.Lock()
		ca.err = errors.New("no")
		ca.mu.Unlock()
		if err := a.r.SetPeers("vr", []netip.Addr{rtIP4(4)}); err == nil || errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("SetPeers the Conn refused = %v", err)
		}
		if err := a.r.SetPeers("vr", []netip.Addr{rtIP6(4)}); !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("SetPeers of an IPv6 peer = %v, want ErrConfig", err)
		}
		if err := a.r.SetPeers("vr", nil); !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("SetPeers to multicast = %v, want ErrConfig", err)
		}
		if err := a.r.SetPeers("nope", []netip.Addr{rtIP4(4)}); !errors.Is(err, vrrp.ErrNoVirtualRouter) {
			t.Errorf("SetPeers of an unknown name = %v", err)
		}

		time.Sleep(10 * time.Second)
		synctest.Wait()
		seen := sn.all()
		sent := a.stats("vr").SentAdvertisements - sentBefore
		if sent < 9 || uint64(len(seen)) != sent {
			t.Errorf("the new peer saw %d advertisements, the master sent %d since SetPeers", len(seen), sent)
		}
		for _, s := range seen {
			if s.Src != rtIP4(1) || s.Dst != rtIP4(3) || s.VRID != 7 {
				t.Errorf("the new peer saw %+v", s)
			}
		}
		if got := b.stats("vr").RcvdAdvertisements; got != a.stats("vr").SentAdvertisements {
			t.Errorf("the old peer accepted %d of %d advertisements", got, a.stats("vr").SentAdvertisements)
		}
		for _, n := range []*rtNode{a, b} {
			if evs := n.eventsAfter(t0, before); len(evs) != 0 {
				t.Errorf("transitions after SetPeers: %v", evs)
			}
		}
		if sa, sb := a.state("vr"), b.state("vr"); sa != M || sb != B {
			t.Errorf("states %v, %v; want Master, Backup", sa, sb)
		}
		a.stop()
		b.stop()
		sn.close()
		// Stopped: refused.
		if err := a.r.SetPeers("vr", []netip.Addr{rtIP4(2)}); !errors.Is(err, vrrp.ErrRouterStopped) {
			t.Errorf("SetPeers after Run = %v, want ErrRouterStopped", err)
		}
	})
}
