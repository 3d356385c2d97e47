package vrrp

import (
	"errors"
	"time"

	"github.com/govrrp/govrrp/transport"
)

func (r *Router) startReader(c *rxConn) {
	c.reader = true
	c.clean = make(chan struct{})
	r.wg.Add(1)
	go r.read(c, r.clk.Now())
}

// closedConn reports whether err says the Conn was closed: it matches
// transport.ErrClosed, as the module's transports' errors do. For a Conn
// from elsewhere that returns net.ErrClosed alone, its text ("use of
// closed network connection", unchanged since Go 1.0, and what code
// matched before Go 1.16 added net.ErrClosed) is recognised too, so that
// the reader exits instead of retrying a socket that is gone; comparing
// text keeps package net, and the network stack behind it, out of vrrp's
// dependencies (see TestDependencyBoundary).
func closedConn(err error) bool {
	if errors.Is(err, transport.ErrClosed) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "use of closed network connection" {
			return true
		}
	}
	return false
}

// read is the reader goroutine of one Conn, started at start (when Run
// began, or when the Conn's first virtual router was added to a running
// Router). It exits when the Conn is closed or the Router stops.
//
// What the Conn queued before start is dropped (dropBacklog): the virtual
// routers were in Initialize then, where advertisements are not
// processed (RFC 9568 section 6.4.1), and those packets are stale. With a transport.BatchReader it reads up to
// rxBatchLen packets per call (one system call and one hand-off to the
// owner for a whole burst of advertisements); otherwise one at a time.
// The checks of RFC 9568 section 7.1 are the RawRouter's, on the owner
// goroutine (RawRouter.Receive): the cheap ones come first there, so a
// flood of foreign packets costs a hand-off per batch and a table look-up
// per packet.
func (r *Router) read(c *rxConn, start time.Time) {
	defer r.wg.Done()
	bl := backlog{on: r.precise, start: start.Round(0)}
	if !bl.on {
		close(c.clean)
	}
	// prev is the last read's time; unsure is set from a wall clock step
	// seen between two reads until a read finds the socket empty.
	var prev time.Time
	unsure := false
	for {
		var b *rxBatch
		select {
		case b = <-c.free:
		case <-r.stop:
			return
		}
		for i := range b.msgs {
			b.msgs[i].Buf = b.msgs[i].Buf[:cap(b.msgs[i].Buf)]
		}
		var n int
		var err error
		c.reading.Store(r.clk.Now().UnixNano())
		if c.br != nil {
			n, err = c.br.ReadBatch(b.msgs[:])
		} else {
			var size int
			size, b.msgs[0].Meta, err = c.c.ReadFrom(b.msgs[0].Buf)
			b.msgs[0].Buf = b.msgs[0].Buf[:max(size, 0)]
			n = 1
		}
		at := r.clk.Now()
		c.reading.Store(0)
		if r.precise && !prev.IsZero() && clockStepped(prev, at) {
			unsure = true
		}
		prev = at
		if err != nil {
			c.free <- b
			if closedConn(err) {
				return
			}
			r.stats.readErrs.Add(1)
			r.log.Warn("vrrp read failed", "interface", c.name, "err", err)
			// Do not spin on a persistent error.
			pause := make(chan struct{})
			t := r.clk.AfterFunc(10*time.Millisecond, func() { close(pause) })
			select {
			case <-pause:
			case <-r.stop:
				t.Stop()
				return
			}
			continue
		}
		asked := len(b.msgs)
		if c.br == nil {
			asked = 1
		}
		// Only a batch read can tell that more is queued: one packet at a
		// time always fills the "batch".
		b.full, b.unsure = c.br != nil && n == asked, unsure
		if n < asked {
			unsure = false
		}
		if bl.on {
			n = bl.drop(b.msgs[:], n, asked)
			if !bl.on {
				close(c.clean)
				if bl.dropped > 0 {
					r.log.Info("vrrp: dropped the packets queued before the virtual routers started", "interface", c.name, "packets", bl.dropped, "oldest", bl.oldest)
				}
			}
		}
		if n == 0 {
			c.free <- b
			continue
		}
		b.n, b.at = n, at
		c.pending.Add(1)
		select {
		case r.rx <- b:
		case <-r.stop:
			c.pending.Add(-1)
			return
		}
	}
}

// backlog drops what a Conn queued before its reader started. A socket
// that is open while vrrpd adds its instances (one raw socket for every
// link: 25 s for 4,094 at start-up on a loaded host) holds up to its
// receive buffer of advertisements by the time Run reads it: 16 MB, about
// 17 s of 4,094 links' advertisements, measured (issue 12). Handed to the
// virtual routers, each counted as just arrived (arrival: a stamp over a
// second old is not trusted), proof that a master was alive seconds after
// it may have died, and the fresh packets were dropped by the full socket
// meanwhile. Only with the real clock, whose wall reading the kernel's
// arrival stamps (transport.Meta.Time) compare with.
type backlog struct {
	on    bool
	start time.Time // wall clock
	// dropped counts the packets dropped; oldest is how long before start
	// the oldest arrived.
	dropped int
	oldest  time.Duration
}

// drop removes from ms[:n], a read of asked packets at most, the packets
// stamped before bl.start and returns how many are left, in order, at the
// front of ms (the messages are swapped, so that every buffer stays in the
// batch). The backlog ends (bl.on false) at the first packet that arrived
// after start, or without a stamp (zero or the epoch), or when the read
// came back short of a whole batch (the socket is empty): from then on a
// wall clock step cannot make fresh packets look stale.
func (bl *backlog) drop(ms []transport.Message, n, asked int) int {
	k := 0
	for i := range n {
		// A zero stamp, or the epoch (a ring frame without one), is no
		// stamp.
		at := ms[i].Meta.Time
		if bl.on && !at.IsZero() && at.Unix() > 0 && at.Before(bl.start) {
			bl.dropped++
			bl.oldest = max(bl.oldest, bl.start.Sub(at))
			continue
		}
		bl.on = false
		ms[k], ms[i] = ms[i], ms[k]
		k++
	}
	if n < asked {
		bl.on = false
	}
	return k
}

// clockStepped reports whether the wall clock stepped between two readings
// of the real clock: their wall and monotonic differences disagree by more
// than NTP's slewing (at most 500 ppm) could explain, plus 10 ms.
func clockStepped(prev, now time.Time) bool {
	return stepped(now.Sub(prev), now.Round(0).Sub(prev.Round(0)))
}

// stepped reports whether a wall clock difference disagrees with the
// monotonic one by more than slewing explains (see clockStepped).
func stepped(mono, wall time.Duration) bool {
	d, slack := wall-mono, 10*time.Millisecond+mono.Abs()/1000
	return d > slack || -d > slack
}
