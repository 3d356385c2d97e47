package vrrp

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"
)

// Run runs the virtual routers until ctx is cancelled, then shuts every
// one down gracefully (Machine.Shutdown: each master sends a priority-0
// advertisement and releases its addresses), closes every Conn it was
// given, waits for its reader goroutines to exit and for the host work
// already asked for (hooks) to finish, closes the Events channel and
// returns nil. A Router runs once: later calls return ErrRouterStopped
// (or ErrRouterRunning during Run). With RouterConfig.LockOSThread, Run
// first locks its goroutine to its thread and calls it; its error is
// returned, wrapped, before anything starts.
func (r *Router) Run(ctx context.Context) error {
	if f := r.lockThread; f != nil {
		r.mu.Lock()
		phase := r.phase
		r.mu.Unlock()
		switch phase {
		case phaseRunning:
			return ErrRouterRunning
		case phaseStopped:
			return ErrRouterStopped
		}
		runtime.LockOSThread()
		if err := f(); err != nil {
			runtime.UnlockOSThread()
			return fmt.Errorf("vrrp: RouterConfig.LockOSThread: %w", err)
		}
	}
	r.mu.Lock()
	switch r.phase {
	case phaseRunning:
		r.mu.Unlock()
		return ErrRouterRunning
	case phaseStopped:
		r.mu.Unlock()
		return ErrRouterStopped
	}
	r.phase = phaseRunning
	r.running = true
	r.host.start()
	for _, c := range r.conns {
		if !c.reader {
			r.startReader(c)
		}
	}
	// From here the owner state is this goroutine's; control calls wait
	// for the loop.
	r.mu.Unlock()
	r.awaitBacklogs(ctx)
	r.mu.Lock()
	now := r.clk.Now()
	r.raw.StartAll(now)
	r.process(now)
	r.rearm()
	r.mu.Unlock()

	for {
		var (
			call ctlCall
			b    *rxBatch
			got  int
		)
		select {
		case <-ctx.Done():
			r.shutdown()
			return nil
		case <-r.wake:
			r.armed = time.Time{}
			r.spinUntilDue()
		case call = <-r.ctl:
			got = 1
		case b = <-r.rx:
			got = 2
		}
		now := r.clk.Now()
		// Packets that are waiting first, each after the timers due
		// before it arrived, then the timers due since, then the
		// control call: a timer that ran out while this goroutine was
		// busy must not fire ahead of an advertisement that arrived in
		// time to stop it.
		if got == 2 {
			r.receiveBatch(now, b)
		}
		r.drainRx(now)
		r.raw.Tick(r.horizon(now))
		var err error
		if got == 1 {
			err = call.f(now)
		}
		r.process(now)
		if got == 1 {
			call.reply <- err
		}
		r.rearm()
	}
}

// maxBacklogWait bounds how long Run waits for its readers to get through
// what their Conns queued before it (awaitBacklogs).
const maxBacklogWait = 2 * time.Second

// awaitBacklogs waits, before the virtual routers start, until the reader
// of every Conn that has packets queued (transport.Queuer) has read past
// those queued before Run (the backlog, dropped: Initialize processes no
// advertisement, RFC 9568 section 6.4.1), or waits on an empty socket,
// for at most maxBacklogWait. A socket opened long before Run, while
// vrrpd added 4,094 instances (45 s under load), held 16 MB of stale
// advertisements, and the kernel dropped fresh ones while the reader got
// through them with the virtual routers already started: ten backups lost
// enough of their master's advertisements to take over (issue 12).
func (r *Router) awaitBacklogs(ctx context.Context) {
	if !r.precise {
		return // no backlog filter: a fake clock's packets carry no stamps
	}
	var wait []*rxConn
	for _, c := range r.conns {
		if c.q != nil {
			if queued, err := c.q.Queued(); err == nil && queued {
				wait = append(wait, c)
			}
		}
	}
	end := r.clk.Now().Add(maxBacklogWait)
	for len(wait) > 0 {
		now := r.clk.Now()
		if !now.Before(end) {
			return
		}
		wait = slices.DeleteFunc(wait, func(c *rxConn) bool {
			select {
			case <-c.clean:
				return true
			default:
				return c.drained(now)
			}
		})
		if len(wait) == 0 {
			return
		}
		tick := make(chan struct{})
		t := r.clk.AfterFunc(readIdle, func() { close(tick) })
		select {
		case <-tick:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (r *Router) shutdown() {
	now := r.clk.Now()
	r.raw.ShutdownAll(now)
	r.process(now)
	close(r.stop)
	for _, c := range r.conns {
		c.closed = true
		if err := c.c.Close(); err != nil {
			r.log.Warn("closing transport", "interface", c.name, "err", err)
		}
	}
	r.wg.Wait()
	if r.timer != nil {
		r.timer.Stop()
	}
	// Return the buffers of packets nobody will handle.
	for {
		select {
		case b := <-r.rx:
			b.c.pending.Add(-1)
			b.c.free <- b
			continue
		default:
		}
		break
	}
	r.mu.Lock()
	r.phase = phaseStopped
	r.running = false
	r.mu.Unlock()
	// From here a control call (from a hook, say) is answered without
	// this goroutine: read-only ones inline, others ErrRouterStopped.
	close(r.done)
	// The hooks of the shutdown (releases) run before Run returns.
	r.host.close()
	r.flushLines()
	if r.events != nil {
		close(r.events)
	}
}

// process carries out what the RawRouter's Ready asks for, most urgent
// first: write the advertisements; publish the states and hand the host
// work to the host-work goroutine (a takeover's Take and Announce, whose
// gratuitous ARP follows the advertisement as closely as the Take
// allows); then log and deliver the events, and close the Conns no
// longer used. Owner state.
func (r *Router) process(now time.Time) {
	rd := r.raw.Ready()
	if rd.Empty() {
		r.publish()
		return
	}
	for i := range rd.Sends {
		r.write(&rd.Sends[i])
	}
	for i := range rd.Host {
		h := &rd.Host[i]
		switch h.Kind {
		case HostAdded:
			r.index.add(h.VR.Name)
		case HostRemoved:
			r.index.remove(h.VR.Name)
		case HostTransition:
			r.index.set(h.Event.Name, h.Event.To)
		}
	}
	r.host.push(rd.Host)
	for i := range rd.Notes {
		r.logNote(&rd.Notes[i], now)
	}
	for i := range rd.Host {
		if h := &rd.Host[i]; h.Kind == HostTransition {
			r.logTransition(&h.Event, now)
			r.emit(h.Event)
		}
	}
	for _, c := range rd.Closed {
		rc := r.conns[c]
		delete(r.conns, c)
		if rc != nil {
			rc.closed = true
			r.setBehind(rc, false, time.Time{}, now)
		}
		if err := c.Close(); err != nil {
			r.log.Warn("closing transport", "interface", rc.nameOr(), "err", err)
		}
	}
	r.raw.Advance()
	r.publish()
}

func (c *rxConn) nameOr() string {
	if c == nil {
		return ""
	}
	return c.name
}

// write writes one Conn's advertisements.
func (r *Router) write(o *Outbound) {
	c := r.conns[o.Conn]
	if c == nil || c.closed {
		return
	}
	var err error
	sent := 0
	if c.bw != nil {
		sent, err = c.bw.WriteBatch(o.Msgs)
	} else {
		for i := range o.Msgs {
			if err = c.c.WriteTo(o.Msgs[i].Buf, o.Msgs[i].Meta); err != nil {
				break
			}
			sent++
		}
	}
	r.stats.sent.Add(uint64(sent))
	if sent < len(o.Msgs) {
		r.stats.sendErrs.Add(uint64(len(o.Msgs) - sent))
		r.log.Warn("vrrp send failed", "interface", o.Interface, "unsent", len(o.Msgs)-sent, "err", err)
	}
}

// emit delivers ev without blocking, dropping the oldest event if the
// channel is full.
func (r *Router) emit(ev Event) {
	if r.events == nil {
		return
	}
	for {
		select {
		case r.events <- ev:
			return
		default:
		}
		select {
		case <-r.events:
			r.stats.eventsDropped.Add(1)
		default:
		}
	}
}

// rearm points the timer at the earliest deadline, or, while a Conn
// holds the timers back (horizon), at the end of that hold if later: the
// reader's next batch wakes the loop before.
func (r *Router) rearm() {
	at := r.raw.Deadline()
	if hold := r.holdEnd(); !at.IsZero() && at.Before(hold) {
		at = hold
	}
	if at.IsZero() {
		if !r.armed.IsZero() {
			r.timer.Stop()
			r.armed = time.Time{}
		}
		return
	}
	if at.Equal(r.armed) {
		return
	}
	// Measure from a fresh reading: time may have moved while this round
	// ran (a fake clock advanced by another goroutine, or a slow round).
	now := r.clk.Now()
	d := at.Sub(now)
	if d > 0 && r.precise && !at.Equal(r.earlyFor) && r.raw.nextIsDown() {
		// A Master_Down_Timer: wake up timerSlack early and wait out the
		// rest in spinUntilDue, so that a takeover is not late by the
		// runtime's timer granularity (see timerSlack).
		r.earlyFor = at
		d -= timerSlack
	}
	if d <= 0 {
		// Due already: go round the loop again rather than rely on a
		// timer (a fake clock would fire it only at its next Advance).
		if r.timer != nil {
			r.timer.Stop()
		}
		r.armed = time.Time{}
		r.wakeup()
		return
	}
	r.armed = at
	if r.timer == nil {
		r.timer = r.clk.AfterFunc(d, r.wakeup)
		return
	}
	r.timer.Reset(d)
}

func (r *Router) wakeup() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// timerSlack is how late the Go runtime may fire a timer when the process
// is idle: on Linux it sleeps in epoll_wait, whose timeout is in whole
// milliseconds. Measured here, a bare
// Router took over ~0.7 ms after Master_Down_Interval at a 10 ms interval
// (+2%) before it woke up early for down timers.
const timerSlack = time.Millisecond

// spinUntilDue waits, without sleeping, for the earliest deadline when it
// is a backup's Master_Down_Timer less than timerSlack away, so that the
// takeover happens on time. It stops early when a packet is waiting (it
// may be the advertisement that restarts the timer), and gives up when
// the clock does not move (a fake clock, or a testing/synctest bubble,
// where rearm then arms the timer for the deadline itself).
func (r *Router) spinUntilDue() {
	if !r.precise || !r.raw.nextIsDown() || r.behind > 0 {
		return
	}
	at := r.raw.Deadline()
	last := r.clk.Now()
	if at.Sub(last) > timerSlack {
		return
	}
	for still := 0; still < 100; {
		if len(r.rx) > 0 {
			return
		}
		now := r.clk.Now()
		if !now.Before(at) {
			return
		}
		if now.Equal(last) {
			still++
		} else {
			still, last = 0, now
		}
		runtime.Gosched()
	}
}

// drainRx handles the batches already queued by the readers, without
// waiting for more.
func (r *Router) drainRx(now time.Time) {
	for range rxQueueLen {
		select {
		case b := <-r.rx:
			r.receiveBatch(now, b)
		default:
			return
		}
	}
}

// receiveBatch hands the packets of b to the RawRouter, in order, and
// gives b back to its reader. Owner goroutine.
func (r *Router) receiveBatch(now time.Time, b *rxBatch) {
	if c := b.c; !c.closed {
		var at time.Time
		for i := range b.n {
			m := &b.msgs[i]
			at = r.arrival(now, b.at, m.Meta.Time, !b.unsure)
			r.raw.Receive(at, c.c, m.Buf, m.Meta)
		}
		r.taken(c, b, at, now)
	}
	b.c.pending.Add(-1)
	b.n = 0
	b.c.free <- b
}

// maxBehind bounds how long one Conn that stays behind (every read a whole
// batch: a flood, or a reader that cannot keep up) holds the timers back
// (horizon): past it, timers fire by the clock again.
const maxBehind = 2 * time.Second

// taken records, for horizon, what the owner's taking batch b from c at
// now says about c's socket: last is the arrival of b's last packet. A
// whole batch: more is queued, everything up to last has been taken. A
// short one: the socket was empty when it was read (b.at), so everything
// up to then has been taken; but what arrived after that read may be
// queued, and that counts when the owner comes to b readIdle or more
// after it was read (it was descheduled, or busy with host work), so c
// is behind until its reader is found waiting on an empty socket. Only a
// Conn that can tell a short read (a transport.BatchReader) or what is
// queued (a transport.Queuer) goes behind; one read a packet at a time
// proves nothing of the socket, so its packets count as taken up to the
// last one's arrival only. Owner goroutine.
func (r *Router) taken(c *rxConn, b *rxBatch, last, now time.Time) {
	late := now.Sub(b.at) >= readIdle
	switch {
	case b.full:
		r.setBehind(c, true, last, now)
	case late && c.br != nil:
		r.setBehind(c, true, b.at, now)
	case late && c.q != nil:
		r.setBehind(c, true, last, now)
	default:
		if c.behind {
			// Caught up: what the queue dropped meanwhile counts now,
			// before the timers it may have to hold (horizon's drained
			// case, for a Conn whose packets carry no drop count: the
			// raw transport's ring).
			r.readDrops(c, now)
		}
		r.setBehind(c, false, last, now)
	}
}

// readDrops hands the RawRouter what c's queue has dropped so far
// (transport.DropCounter), if it can tell. Owner goroutine.
func (r *Router) readDrops(c *rxConn, now time.Time) {
	if c.dc != nil && !c.closed {
		if d, err := c.dc.QueueDrops(); err == nil {
			r.raw.QueueDropped(now, c.c, d)
		}
	}
}

// setBehind records whether c is behind and the time up to which its
// packets have been taken (seen, zero for unchanged). Owner goroutine.
func (r *Router) setBehind(c *rxConn, full bool, seen, now time.Time) {
	switch {
	case full && !c.behind:
		c.behind, c.since = true, now
		r.behind++
	case !full && c.behind:
		c.behind = false
		r.behind--
	}
	if !seen.IsZero() {
		c.seen = seen
	}
}

// horizon returns the time up to which the timers may fire at now: now,
// unless a Conn is behind, when it is the time up to which that Conn's
// packets have been taken (rxConn.seen). On a starved host the owner
// goroutine may run again seconds after advertisements arrived in time
// to stop a Master_Down_Timer: the reader holds only a few batches of them
// (rxBatchesPer), the rest waits in the socket, and a timer fired by the
// clock would take over although its master's advertisement is queued (a
// backup of 4,094 links on one socket did, issue 12). A timer fires once
// the packets that arrived before its deadline have been handled, or
// after maxBehind of the Conn being behind. Owner goroutine.
func (r *Router) horizon(now time.Time) time.Time {
	if r.behind == 0 {
		r.checkQueued(now)
	}
	if r.behind == 0 {
		return now
	}
	t := now
	for _, c := range r.conns {
		switch {
		case !c.behind:
		case c.closed || c.drained(now):
			// The reader waits for more: nothing is queued. Whether the
			// socket dropped packets while it was behind is known now,
			// not only from the next packet queued (its Meta.Drops): an
			// interval later, when the timers the lost advertisements
			// would have stopped have fired.
			r.readDrops(c, now)
			r.setBehind(c, false, time.Time{}, now)
		case c.holds(now) && c.seen.Before(t):
			t = c.seen
		}
	}
	return t
}

// checkQueued marks behind, when a timer is due at now that may be
// stopped by a packet (a backup's, or any that is readIdle late: the
// process was stopped or starved), every Conn whose socket holds packets
// its reader has not taken (transport.Queuer), or whose reader handed
// batches the owner has not taken yet. After a stop (SIGSTOP, a starved
// host), the owner's timer can wake before the reader has read anything:
// nothing looked behind, and every backup took over although its
// master's advertisements waited in the socket, in time (issue 12: a
// backup of 1,000 links at 100 ms stopped for 3 s). Owner goroutine.
func (r *Router) checkQueued(now time.Time) {
	due := r.raw.Deadline()
	if due.IsZero() || due.After(now) || (!r.raw.nextIsDown() && now.Sub(due) < readIdle) {
		return
	}
	for _, c := range r.conns {
		if c.closed || c.behind {
			continue
		}
		waiting := c.pending.Load() > 0
		if !waiting && c.q != nil {
			queued, err := c.q.Queued()
			waiting = err == nil && queued
		}
		if waiting {
			r.setBehind(c, true, time.Time{}, now)
		}
	}
}

// readIdle is how long a reader must have been waiting in a read for its
// Conn to count as drained: a read of what is queued takes microseconds.
const readIdle = 2 * time.Millisecond

// holds reports whether c holds the timers back at now (horizon): it is
// behind, for less than maxBehind, and its reader is not waiting in a read
// on an empty socket. Owner goroutine.
func (c *rxConn) holds(now time.Time) bool {
	return c.behind && !c.closed && now.Sub(c.since) < maxBehind && !c.drained(now)
}

// drained reports whether c's reader waits in a read on an empty socket at
// now: the Conn says nothing is queued (transport.Queuer), or, when it
// cannot tell, the reader has been in the read for readIdle.
func (c *rxConn) drained(now time.Time) bool {
	in := c.reading.Load()
	if in == 0 || c.pending.Load() > 0 {
		return false
	}
	if c.q != nil {
		if queued, err := c.q.Queued(); err == nil {
			return !queued
		}
	}
	return now.UnixNano()-in >= int64(readIdle)
}

// holdEnd returns when to look again at the Conns that hold the timers
// back (horizon): readIdle from now while one does, since a reader that
// has found its socket empty only shows it by waiting (the batches of
// one that reads wake the loop earlier); the zero Time when none does.
// Owner goroutine.
func (r *Router) holdEnd() time.Time {
	if r.behind == 0 {
		return time.Time{}
	}
	now := r.clk.Now()
	for _, c := range r.conns {
		if c.holds(now) {
			return now.Add(readIdle)
		}
	}
	return time.Time{}
}

// maxStampAge bounds the age of a kernel arrival stamp that arrival trusts;
// recentStamp is the bound when the clock stepped since the packet may have
// been stamped.
const (
	maxStampAge = 10 * time.Minute
	recentStamp = time.Second
)

// arrival returns when a packet arrived on the Router's clock: read is
// when its reader read it, kernel the arrival time the Conn reported (wall
// clock; zero if unknown), now the owner's current time. The kernel time
// is used with the real clock only, the one it can be compared with, and
// only up to maxStampAge old, or recentStamp when trusted is false (the
// wall clock stepped while the packet may have been queued): a packet
// queued for seconds behind a stalled reader is judged by when it arrived
// (see horizon).
func (r *Router) arrival(now, read, kernel time.Time, trusted bool) time.Time {
	at := read
	if r.precise && !kernel.IsZero() && !read.IsZero() {
		limit := maxStampAge
		if !trusted {
			limit = recentStamp
		}
		// read carries a monotonic reading; its wall part is what the
		// kernel's stamp compares with.
		if age := read.Round(0).Sub(kernel); age > 0 && age < limit {
			at = read.Add(-age)
		}
	}
	if at.IsZero() || at.After(now) {
		at = now
	}
	return at
}
