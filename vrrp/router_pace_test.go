package vrrp_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// countingConn is a pausingConn that counts its reads.
type countingConn struct {
	*pausingConn
	reads atomic.Int64
}

func (c *countingConn) ReadBatch(ms []transport.Message) (int, error) {
	c.reads.Add(1)
	return c.pausingConn.ReadBatch(ms)
}

// paceNode is a Router with backups of VRID 1..n at 100 ms on one
// countingConn whose master (priority 200) advertises them at 100 ms,
// one every 100 ms / n.
func paceNode(t *testing.T, cfg vrrp.RouterConfig, n int) (*rtNode, *countingConn) {
	c := &countingConn{pausingConn: newPausingConn(4096)}
	c.interval = 10 // centiseconds
	node := rtNewNode(t, cfg)
	for id := 1; id <= n; id++ {
		vc := rtCfg4(uint8(id), 100, rtIP4(1))
		vc.AdvertInterval = 100 * time.Millisecond
		node.add(vrrp.VirtualRouter{Name: fmt.Sprint("b", id), Conn: c, Config: vc})
	}
	node.start(true)
	return node, c
}

// TestRouterPacesDenseReads: 64 backups at 100 ms, their master's
// advertisements arriving every 1.5625 ms. Read as they arrive, that is a
// read (and a wake-up of the reader and the owner) for each, 640 a second:
// with 1,000 links it was most of a backup's CPU (issue 12). Paced
// (readPace), the reader reads every 6.25 ms (1/16 of the interval): 160
// reads a second. The timers do not move: after the master's last
// advertisement, every backup takes over exactly Master_Down_Interval
// after its own last one arrived (RFC 9568 section 6.4.2).
func TestRouterPacesDenseReads(t *testing.T) {
	for _, tc := range []struct {
		name       string
		exact      bool
		minR, maxR int64 // reads in the second measured
	}{
		{"paced", false, 100, 200},
		{"ExactReads", true, 600, 700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 64
				const spacing = 100 * time.Millisecond / n
				node, c := paceNode(t, vrrp.RouterConfig{ExactReads: tc.exact}, n)
				last := make([]time.Time, n+1)
				var reads int64
				for k := 0; k < 3*n*10; k++ { // 3 s
					id := k%n + 1
					now := time.Now()
					c.advertise1(t, id, 200, now)
					last[id] = now
					if k == n*10 { // 1 s
						reads = c.reads.Load()
					}
					if k == 2*n*10 { // 2 s
						reads = c.reads.Load() - reads
					}
					time.Sleep(spacing)
				}
				stopped := time.Now()
				t.Logf("%d reads in the second measured", reads)
				if reads < tc.minR || reads > tc.maxR {
					t.Errorf("%d reads in a second of advertisements every %v; want %d-%d", reads, spacing, tc.minR, tc.maxR)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				// Master_Down_Interval at 100 ms, priority 100: 3 x 100 ms +
				// Skew_Time (156 x 100 ms / 256).
				mdi := 300*time.Millisecond + 156*100*time.Millisecond/256
				base := stopped.Add(-3 * time.Second)
				took := 0
				for _, ev := range node.eventsAfter(base, base) {
					if ev.To != vrrp.Master {
						continue
					}
					took++
					var id int
					fmt.Sscanf(ev.Name, "b%d", &id)
					if want := last[id].Add(mdi).Sub(base); ev.At != want {
						t.Errorf("%s took over at %v, want %v: Master_Down_Interval after its master's last advertisement arrived", ev.Name, ev.At, want)
					}
					if ev.At < 3*time.Second {
						t.Errorf("%s took over at %v, while its master advertised", ev.Name, ev.At)
					}
				}
				if took != n {
					t.Errorf("%d takeovers, want %d", took, n)
				}
				for id := 1; id <= n; id++ {
					if s := node.state(fmt.Sprint("b", id)); s != vrrp.Master {
						t.Errorf("b%d: %v a second after its master stopped; want Master", id, s)
					}
				}
				node.stop()
			})
		})
	}
}

// TestRouterPaceQuietSpellReadAtOnce: after dense traffic stops, a packet
// that arrives after a quiet spell is read as it arrives, not a pause
// later: a master that hears a better one steps down at once (RFC 9568
// section 6.4.3).
func TestRouterPaceQuietSpellReadAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 64
		node, c := paceNode(t, vrrp.RouterConfig{}, n)
		// VRID 100 is master (priority 150, nobody else advertises it).
		vc := rtCfg4(100, 150, rtIP4(1))
		vc.AdvertInterval = 100 * time.Millisecond
		node.add(vrrp.VirtualRouter{Name: "m", Conn: c, Config: vc})
		for k := 0; k < n*10; k++ { // 1 s of dense traffic
			c.advertise1(t, k%n+1, 200, time.Now())
			time.Sleep(100 * time.Millisecond / n)
		}
		time.Sleep(50 * time.Millisecond) // quiet
		synctest.Wait()
		if s := node.state("m"); s != vrrp.Master {
			t.Fatalf("m: %v, want Master before the better advertisement", s)
		}
		c.advertise1(t, 100, 200, time.Now())
		synctest.Wait()
		if s := node.state("m"); s != vrrp.Backup {
			t.Errorf("m: %v when the better master's advertisement arrived after a quiet spell; want Backup at once", s)
		}
		node.stop()
	})
}

// TestRouterPaceKickedByDueTimer: while the reader pauses between reads of
// dense traffic, a backup's Master_Down_Timer comes due with its master's
// advertisement waiting in the socket: the owner has the reader read it
// at once (checkQueued), rather than holding the timers for the rest of
// the pause, and the backup stays Backup.
func TestRouterPaceKickedByDueTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 64
		node, c := paceNode(t, vrrp.RouterConfig{}, n)
		vc := rtCfg4(100, 100, rtIP4(1))
		vc.AdvertInterval = 100 * time.Millisecond
		node.add(vrrp.VirtualRouter{Name: "x", Conn: c, Config: vc})
		mdi := 300*time.Millisecond + 156*100*time.Millisecond/256
		start := time.Now()
		c.advertise1(t, 100, 200, start)
		// Dense traffic of the other VRIDs, every 1 ms.
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				c.advertise1(t, k%n+1, 200, time.Now())
				time.Sleep(time.Millisecond)
			}
		}()
		// x's master advertises 100 us before x's timer runs out, while
		// the reader is most likely pausing (6.25 ms at a time).
		time.Sleep(mdi - 100*time.Microsecond)
		before := node.stats("x").RcvdAdvertisements
		c.advertise1(t, 100, 200, time.Now())
		time.Sleep(200 * time.Microsecond) // the timer is due
		synctest.Wait()
		if got := node.stats("x").RcvdAdvertisements; got != before+1 {
			t.Errorf("x: %d advertisements received 100 us after its Master_Down_Timer came due, want %d: the reader should have been made to read the one waiting", got, before+1)
		}
		time.Sleep(50 * time.Millisecond)
		close(stop)
		<-done
		if s := node.state("x"); s != vrrp.Backup {
			t.Errorf("x: %v, want Backup: its master's advertisement arrived in time", s)
		}
		node.stop()
	})
}

// advertise1 queues, or holds while paused, VRID id's advertisement from
// the master at priority prio, stamped at.
func (c *pausingConn) advertise1(t *testing.T, id int, prio uint8, at time.Time) {
	t.Helper()
	m := c.msg(t, uint8(id), prio, rtIP4(2), at)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		c.held = append(c.held, m)
		return
	}
	c.q <- m
}
