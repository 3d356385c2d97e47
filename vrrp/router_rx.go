package vrrp

import (
	"errors"
	"time"

	"github.com/govrrp/govrrp/transport"
)

func (r *Router) startReader(c *rxConn) {
	c.reader = true
	r.wg.Add(1)
	go r.read(c)
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

// read is the reader goroutine of one Conn. It exits when the Conn is
// closed or the Router stops. With a transport.BatchReader it reads up to
// rxBatchLen packets per call (one system call and one hand-off to the
// owner for a whole burst of advertisements); otherwise one at a time.
// The checks of RFC 9568 section 7.1 are the RawRouter's, on the owner
// goroutine (RawRouter.Receive): the cheap ones come first there, so a
// flood of foreign packets costs a hand-off per batch and a table look-up
// per packet.
func (r *Router) read(c *rxConn) {
	defer r.wg.Done()
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
		if c.br != nil {
			n, err = c.br.ReadBatch(b.msgs[:])
		} else {
			var size int
			size, b.msgs[0].Meta, err = c.c.ReadFrom(b.msgs[0].Buf)
			b.msgs[0].Buf = b.msgs[0].Buf[:max(size, 0)]
			n = 1
		}
		at := r.clk.Now()
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
		if n == 0 {
			c.free <- b
			continue
		}
		b.n, b.at = n, at
		select {
		case r.rx <- b:
		case <-r.stop:
			return
		}
	}
}
