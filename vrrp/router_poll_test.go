package vrrp_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// polledConn is a busy socket read as transport/raw reads one with
// Config.Poll: the reader looks every `every` and takes what is there;
// packets arriving in between wake nobody. Queued reports packets waiting.
// (transport/raw waits for the first packet after a quiet spell without
// the pause; this socket is never quiet long.)
type polledConn struct {
	*batchStampConn
	every time.Duration
}

func (c *polledConn) Queued() (bool, error) { return len(c.q) > 0, nil }

func (c *polledConn) ReadBatch(ms []transport.Message) (int, error) {
	for len(c.q) == 0 {
		select {
		case <-time.After(c.every):
		case <-c.done:
			return 0, transport.ErrClosed
		}
	}
	return c.batchStampConn.ReadBatch(ms)
}

// TestRouterPolledConnTakesOver: on a socket read every tenth of the
// interval (vrrpd's receive_poll), which always holds some of the other
// links' advertisements when a timer is due, a backup whose master fell
// silent still takes over, within two reads of its Master_Down_Interval
// counted from its master's last advertisement: the hold on timers
// behind queued packets (horizon) ends with each read. No other backup
// moves.
func TestRouterPolledConnTakesOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const every = 100 * time.Millisecond
		c := &polledConn{newBatchStampConn(1024), every}
		n := rtNewNode(t, vrrp.RouterConfig{})
		const links = 50
		for id := 1; id <= links; id++ {
			n.add(vrrp.VirtualRouter{Name: fmt.Sprint("b", id), Conn: c, Config: rtCfg4(uint8(id), 100, rtIP4(1))})
		}
		n.start(true)
		// Every second, VRID i's master advertises at i x 19 ms into it:
		// spread, so that packets are queued again soon after a read. VRID
		// 1's master falls silent after its advertisement of 4 s.
		start := time.Now()
		var last time.Time
		for sec := range 15 {
			for id := 1; id <= links; id++ {
				time.Sleep(time.Until(start.Add(time.Duration(sec)*time.Second + time.Duration(id)*19*time.Millisecond)))
				if id == 1 && sec > 4 {
					continue
				}
				c.queue(t, uint8(id), 200, rtIP4(2), time.Now())
				if id == 1 {
					last = time.Now()
				}
			}
		}
		synctest.Wait()
		n.stop()
		var took []vrrp.Event
		for _, ev := range n.events {
			if ev.To == vrrp.Master {
				took = append(took, ev)
			}
		}
		if len(took) != 1 || took[0].Name != "b1" {
			t.Fatalf("transitions to Master %+v; want b1's alone", took)
		}
		// Master_Down_Interval at priority 100 and 1 s: 3 s + Skew_Time
		// (156/256 s), RFC 9568 section 6.1.
		down := 3*time.Second + 156*time.Second/256
		if late := took[0].Time.Sub(last) - down; late < 0 || late > 2*every {
			t.Errorf("b1 took over %v after its Master_Down_Interval from its master's last advertisement; want 0 to %v (two reads)", late, 2*every)
		}
	})
}
