package vrrp_test

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// pausingConn is a queuerConn whose reader can be kept from the packets
// that arrive (pause, resume): they wait in the socket (held, which
// Queued reports), as they do for a process that is stopped or gets no
// CPU, while the owner's timer wakes up.
type pausingConn struct {
	*batchStampConn
	mu     sync.Mutex
	paused bool
	held   []transport.Message
	// room, if not 0, is how many packets are held while paused; the
	// rest are dropped, and counted.
	room    int
	dropped atomic.Uint32
}

func newPausingConn(depth int) *pausingConn {
	return &pausingConn{batchStampConn: newBatchStampConn(depth)}
}

func (c *pausingConn) Queued() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.q) > 0 || len(c.held) > 0, nil
}

func (c *pausingConn) pause() {
	c.mu.Lock()
	c.paused = true
	c.mu.Unlock()
}

// resume hands the reader what arrived meanwhile, in order.
func (c *pausingConn) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = false
	for _, m := range c.held {
		c.q <- m
	}
	c.held = nil
}

// advertise queues, or holds while paused (or drops, beyond room), an
// advertisement of each VRID 1..n from src at priority prio, stamped now.
func (c *pausingConn) advertise(t *testing.T, n int, prio uint8, src netip.Addr) {
	t.Helper()
	now := time.Now()
	for id := 1; id <= n; id++ {
		m := c.msg(t, uint8(id), prio, src, now)
		c.mu.Lock()
		switch {
		case !c.paused:
			c.q <- m
		case c.room == 0 || len(c.held) < c.room:
			c.held = append(c.held, m)
		default:
			c.dropped.Add(1)
		}
		c.mu.Unlock()
	}
}

// stallBackups is how many backups stallNode runs.
const stallBackups = 10

// stallNode runs backups b1 to b10 (VRIDs 1-10, priority 100, 1 s) on c,
// and has their master advertise (advertise) every second from 0 to 4 s,
// read at once.
func stallNode(t *testing.T, c transport.Conn, advertise func()) *rtNode {
	n := rtNewNode(t, vrrp.RouterConfig{})
	for id := 1; id <= stallBackups; id++ {
		n.add(vrrp.VirtualRouter{Name: fmt.Sprint("b", id), Conn: c, Config: rtCfg4(uint8(id), 100, rtIP4(1))})
	}
	n.start(true)
	for range 5 {
		advertise()
		time.Sleep(time.Second)
	}
	return n
}

// takeovers counts the transitions to Master recorded.
func (n *rtNode) takeovers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	took := 0
	for _, ev := range n.events {
		if ev.To == vrrp.Master {
			took++
		}
	}
	return took
}

// TestRouterTimersWaitForUnreadPackets: when the whole process stalls
// (SIGSTOP, a host that gives it no CPU), its owner's timer can wake up
// before its reader has read anything: no Conn looks behind, and a
// Master_Down_Timer that ran out by the clock must still not fire while
// the advertisements that would stop it wait unread in the socket
// (transport.Queuer). Before, every backup took over (issue 12: a backup
// of 1,000 links at 100 ms, stopped for 3 s, took over all of them at the
// instant it ran again). A reader held longer than maxBehind (2 s) no
// longer holds the timers.
func TestRouterTimersWaitForUnreadPackets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pause time.Duration // from 4.5 s
		want  vrrp.State
	}{
		{"short", 3500 * time.Millisecond, vrrp.Backup},
		{"past maxBehind", 6 * time.Second, vrrp.Master},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newPausingConn(1024)
				advertise := func() { c.advertise(t, stallBackups, 200, rtIP4(2)) }
				n := stallNode(t, c, advertise)
				// At 4.5 s the reader stops; the master goes on
				// advertising at 5, 6, 7, ... s; the backups' timers run
				// out at 4 + 3.609 s by the clock.
				time.Sleep(500 * time.Millisecond)
				synctest.Wait()
				c.pause()
				synctest.Wait()
				// Every second from 5 s on, into the socket.
				for i := 1; time.Duration(i)*500*time.Millisecond <= tc.pause; i++ {
					time.Sleep(500 * time.Millisecond)
					if i%2 == 1 {
						advertise()
					}
				}
				c.resume()
				advertise()
				time.Sleep(time.Second)
				synctest.Wait()
				for id := 1; id <= stallBackups; id++ {
					name := fmt.Sprint("b", id)
					if s := n.state(name); tc.want == vrrp.Backup && s != vrrp.Backup {
						t.Errorf("%s: %v after the reader was held %v, want Backup: its master's advertisements waited in the socket, in time", name, s, tc.pause)
					}
				}
				took := n.takeovers()
				switch {
				case tc.want == vrrp.Backup && took > 0:
					t.Errorf("%d takeovers while the advertisements waited unread; want 0", took)
				case tc.want == vrrp.Master && took == 0:
					t.Errorf("no takeover with the reader held %v, past maxBehind; want the timers to fire", tc.pause)
				}
				n.stop()
			})
		})
	}
}

// ringConn is a pausingConn that, while paused, keeps only the first
// room packets (a full TPACKET_V3 ring) and counts the rest as dropped,
// which only QueueDrops tells (transport.DropCounter): its packets carry
// no drop count (transport.Meta.Drops 0), as the raw transport's ring's.
type ringConn struct {
	*pausingConn
}

func (c *ringConn) QueueDrops() (uint32, error) { return c.dropped.Load(), nil }

// TestRouterRingDropsHoldTheBackups: a backup whose process stops for
// 4 s, on a Conn that keeps only the first round of its masters'
// advertisements and drops the rest (the raw transport's receive ring:
// 16 blocks, each handed over 1 ms after its first packet, hold 16 ms of
// 1,000 links at 100 ms). Its packets carry no drop count; the Conn tells
// it when asked (QueueDrops). The reader catches up with a short batch,
// and the drops must count before the timers fire: before, they were read
// only when a Conn was found waiting on an empty socket, never here, and
// every backup took over at once (issue 12, 1,000 links at 100 ms with
// ring = true, a 3 s stop: 1,000 takeovers).
func TestRouterRingDropsHoldTheBackups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &ringConn{newPausingConn(1024)}
		c.room = stallBackups
		advertise := func() { c.advertise(t, stallBackups, 200, rtIP4(2)) }
		n := stallNode(t, c, advertise)
		// At 5 s the process stops: the advertisements of 5 s are kept,
		// those of 6, 7 and 8 s dropped. The timers ran out at 4 + 3.609
		// s by the clock, and would at 5 + 3.609 s with what was kept;
		// the process runs again at 9 s, within maxBehind (2 s) of the
		// first.
		synctest.Wait()
		c.pause()
		synctest.Wait()
		for range 4 {
			advertise()
			time.Sleep(time.Second)
		}
		if d, _ := c.QueueDrops(); d == 0 {
			t.Fatal("nothing dropped while paused: the test is void")
		}
		c.resume()
		time.Sleep(100 * time.Millisecond)
		advertise()
		time.Sleep(time.Second)
		advertise()
		time.Sleep(time.Second)
		synctest.Wait()
		if took := n.takeovers(); took > 0 {
			t.Errorf("%d takeovers after the stall; want 0: the advertisements that would have stopped the timers were dropped by this host's full queue", took)
		}
		if h := n.r.RouterStats().LossHolds; h == 0 {
			t.Errorf("RouterStats.LossHolds 0; want the timers held for the loss")
		}
		n.stop()
	})
}
