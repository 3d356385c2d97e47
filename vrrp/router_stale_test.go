package vrrp_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// stampConn is a batchStampConn read one packet at a time (it is no
// transport.BatchReader), as a transport without batch reads is; its
// advertisements are for VRID 1.
type stampConn struct{ b *batchStampConn }

func newStampConn() *stampConn { return &stampConn{newBatchStampConn(64)} }

func (c *stampConn) queue(t *testing.T, prio uint8, src netip.Addr, at time.Time) {
	t.Helper()
	c.b.queue(t, 1, prio, src, at)
}

func (c *stampConn) ReadFrom(b []byte) (int, transport.Meta, error) { return c.b.ReadFrom(b) }
func (c *stampConn) WriteTo(b []byte, m transport.Meta) error       { return c.b.WriteTo(b, m) }
func (c *stampConn) Close() error                                   { return c.b.Close() }

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
