package vrrp

import (
	"errors"
	"time"

	"github.com/govrrp/govrrp/clock"
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
	// pace spaces this reader's wake-ups (readPace).
	var pace readPace
	defer pace.stop()
	for {
		paused := false
		if w := time.Duration(c.wait.Load()); pace.dense && w > 0 {
			if !r.pause(c, &pace, w) {
				return
			}
			paused = true
		}
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
		began := r.clk.Now()
		c.reading.Store(began.UnixNano())
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
		if r.precise && c.br != nil {
			pace.after(paused, b.full, n > 0 && !b.msgs[0].Meta.Time.IsZero(), began, at, time.Duration(c.wait.Load()))
		}
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

// readPace spaces a reader's wake-ups while packets arrive faster than
// its Conn's wait (rxConn.wait: 1/readSpread of the shortest
// Advertisement_Interval of its virtual routers, at most maxReadWait).
// Woken for every burst, a reader of 1,000 links at 100 ms woke ~2,000
// times a second, and the Go scheduler's wake-ups, not the packets, were
// most of the backup's CPU (issue 12). Once two reads come back less than
// the wait apart (dense), the next read of the socket waits until the
// wait has passed since the last short read (the socket was empty then),
// and reads then what arrived meanwhile in one go; it stops waiting once
// a read after a wait finds nothing queued (it had to wait in the read
// for a packet: the traffic is sparse again). A packet that arrives after
// a quiet spell is read at once: only dense traffic waits, by at most the
// wait. Timers do not move: a packet's timers count from its kernel
// arrival stamp (arrival), which is why only Conns whose packets carry
// one wait; and a backup timer due while packets wait in the socket cuts
// the wait short (checkQueued kicks the reader, and holds the timers until
// they are read). RouterConfig.ExactReads turns this off.
type readPace struct {
	dense bool
	// last is when the last short read came back (the socket was empty
	// then).
	last time.Time
	// t fires the end of a pause; tick is what it sends on.
	t    clock.Timer
	tick chan struct{}
}

const (
	// readSpread: a reader waits up to 1/readSpread of the shortest
	// Advertisement_Interval of its Conn's virtual routers (6.25 ms at
	// 100 ms, 625 us at 10 ms), at most maxReadWait.
	readSpread  = 16
	maxReadWait = 10 * time.Millisecond
	// readBlocked: a read that took this long waited in the socket for
	// a packet (one of what is queued takes tens of microseconds).
	readBlocked = 200 * time.Microsecond
)

// after records a read that began at began and came back at at: whether
// it followed a pause, filled its batch, and carried kernel arrival
// stamps. wait is the Conn's wait.
func (p *readPace) after(paused, full, stamped bool, began, at time.Time, wait time.Duration) {
	if full {
		return // more queued: the reader reads on at once
	}
	switch {
	case !stamped || wait <= 0:
		p.dense = false
	case paused:
		// What the pause let queue was there to read: stay dense. A read
		// that had to wait for a packet: sparse.
		p.dense = at.Sub(began) < readBlocked
	default:
		// Woken less than the wait after the socket was last found empty.
		p.dense = !p.last.IsZero() && at.Sub(p.last) < wait
	}
	p.last = at
}

func (p *readPace) stop() {
	if p.t != nil {
		p.t.Stop()
	}
}

// pause waits until w has passed since the reader's last short read, or
// until the owner kicks it (a timer due while packets are queued), and
// reports false if the Router stopped meanwhile.
func (r *Router) pause(c *rxConn, p *readPace, w time.Duration) bool {
	d := p.last.Add(w).Sub(r.clk.Now())
	if d <= 0 {
		return true
	}
	if p.t == nil {
		p.tick = make(chan struct{}, 1)
		tick := p.tick
		p.t = r.clk.AfterFunc(d, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
	} else {
		select {
		case <-p.tick: // a stale tick of a pause the kick ended
		default:
		}
		p.t.Reset(d)
	}
	select {
	case <-p.tick:
	case <-c.kick:
		p.t.Stop()
	case <-r.stop:
		return false
	}
	return true
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
