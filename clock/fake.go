package clock

import (
	"sync"
	"time"

	"github.com/govrrp/govrrp/internal/dheap"
)

// Fake is a Clock that only moves when told to: tests and deterministic
// simulations call Advance or AdvanceTo, which run the functions of every
// timer that falls due, in deadline order (timers with the same deadline
// in the order they were scheduled).
//
// Unlike Real, whose AfterFunc runs f in its own goroutine, Fake runs the
// timer functions synchronously, in the goroutine that calls Advance or
// AdvanceTo, one after the other, with no lock held: a function may call
// Now, AfterFunc, Stop and Reset, and timers it schedules at or before the
// target time run in the same Advance. Now returns each timer's deadline
// while its function runs, then the target time once Advance returns.
//
// Timers are scheduled relative to the time the Fake reads when AfterFunc
// or Reset is called. A goroutine that reads Now, computes a duration and
// arms a timer while another goroutine advances the clock gets a late
// timer; advance only when the clock's users are idle (a single-threaded
// simulation, or a test that waits for them, for example by checking
// NextDeadline).
//
// A Fake is safe for concurrent use. Its zero value is not usable; call
// NewFake.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers dheap.Heap[*fakeTimer] // by deadline, then by when set
}

var _ Clock = (*Fake)(nil)

// NewFake returns a Fake clock that reads start until it is advanced.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start}
}

// Now implements Clock.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements Clock: f runs in the goroutine that advances the
// clock to or past Now()+d. A d <= 0 makes f run at the next Advance or
// AdvanceTo (even Advance(0)), not at once.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, f: f, index: -1}
	c.schedule(t, d)
	return t
}

// Advance moves the clock forward by d, running due timers; see Fake.
func (c *Fake) Advance(d time.Duration) {
	c.AdvanceTo(c.Now().Add(d))
}

// AdvanceTo moves the clock to t, running every timer whose deadline is at
// or before t in deadline order. A t before Now does not move the clock
// back, but still runs the timers that are due.
func (c *Fake) AdvanceTo(t time.Time) {
	for {
		c.mu.Lock()
		if c.timers.Len() == 0 || c.timers.Min().when.After(t) {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		ft := c.timers.Pop()
		if ft.when.After(c.now) {
			c.now = ft.when
		}
		f := ft.f
		c.mu.Unlock()
		f()
	}
}

// NextDeadline returns the deadline of the earliest pending timer, and
// false if no timer is pending. Tests use it to jump straight to the next
// event: c.AdvanceTo(next).
func (c *Fake) NextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timers.Len() == 0 {
		return time.Time{}, false
	}
	return c.timers.Min().when, true
}

// Pending returns the number of timers that have not fired or been
// stopped.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timers.Len()
}

type fakeTimer struct {
	c     *Fake
	f     func()
	when  time.Time
	index int // position in c.timers, -1 when not pending
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	t.c.timers.Remove(t.index)
	return true
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	pending := t.index >= 0
	if pending {
		t.c.timers.Remove(t.index)
	}
	t.c.schedule(t, d)
	return pending
}

// schedule adds t to the heap to fire d after now, after the timers set
// for the same instant before it. c.mu is held.
func (c *Fake) schedule(t *fakeTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	t.when = c.now.Add(d)
	c.seq++
	c.timers.Push(t.when, c.seq, t, &t.index)
}
