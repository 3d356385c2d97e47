package vrrp_test

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// stampConn is a Conn whose packets carry the kernel's arrival stamp
// (transport.Meta.Time), as transport/raw's do: queue puts one in its
// receive queue, as a socket holds what arrived before anyone read it.
type stampConn struct {
	q    chan transport.Message
	once sync.Once
	done chan struct{}
}

func newStampConn() *stampConn {
	return &stampConn{q: make(chan transport.Message, 64), done: make(chan struct{})}
}

func (c *stampConn) queue(t *testing.T, prio uint8, src netip.Addr, at time.Time) {
	t.Helper()
	adv := packet.Advertisement{Version: 3, VRID: 1, Priority: prio, MaxAdvertInt: 100, Addrs: []netip.Addr{rtVIP4}}
	b, err := adv.Append(nil, src, packet.GroupIPv4, packet.ChecksumUnknown)
	if err != nil {
		t.Fatal(err)
	}
	c.q <- transport.Message{Buf: b, Meta: transport.Meta{Src: src, Dst: packet.GroupIPv4, TTL: 255, Time: at}}
}

func (c *stampConn) ReadFrom(b []byte) (int, transport.Meta, error) {
	select {
	case m := <-c.q:
		return copy(b, m.Buf), m.Meta, nil
	case <-c.done:
		return 0, transport.Meta{}, transport.ErrClosed
	}
}

func (c *stampConn) WriteTo([]byte, transport.Meta) error { return nil }
func (c *stampConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// TestRouterDropsBacklog: the packets a Conn queued before the Router
// started reading it (arrival stamps before Run) are dropped, not handed
// to the virtual routers as if they had just arrived: with 4,094 links on
// one socket, vrrpd's start-up (every instance added before Run) left
// 16 MB of advertisements up to 17 s old in the socket, which the backup
// then took for proof that its masters were alive while the fresh ones
// were dropped behind them (issue 12, BENCHMARKS.md "Why the backup took
// over at 4,094 links"). Packets that arrive once it runs are received.
func TestRouterDropsBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newStampConn()
		n := rtNewNode(t, vrrp.RouterConfig{})
		n.add(vrrp.VirtualRouter{Name: "v4", Conn: c, Config: rtCfg4(1, 100, rtIP4(1))})
		old := time.Now()
		for i := range 10 {
			c.queue(t, 200, rtIP4(2), old.Add(time.Duration(i)*time.Second))
		}
		time.Sleep(20 * time.Second) // vrrpd adding its other instances
		n.start(true)
		synctest.Wait()
		if got := n.r.RouterStats().Received; got != 0 {
			t.Errorf("after Run with 10 packets queued 11-20 s before it: %d received, want 0 (dropped as stale)", got)
		}
		time.Sleep(time.Second)
		c.queue(t, 200, rtIP4(2), time.Now())
		synctest.Wait()
		if got := n.r.RouterStats().Received; got != 1 {
			t.Errorf("after an advertisement that arrived once running: %d received, want 1", got)
		}
		n.stop()
	})
}
