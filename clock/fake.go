package clock

import (
	"sync"
	"time"
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
	timers []*fakeTimer // min-heap by (when, seq)
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
		if len(c.timers) == 0 || c.timers[0].when.After(t) {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		ft := c.pop()
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
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].when, true
}

// Pending returns the number of timers that have not fired or been
// stopped.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type fakeTimer struct {
	c     *Fake
	f     func()
	when  time.Time
	seq   uint64
	index int // position in c.timers, -1 when not pending
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	t.c.remove(t.index)
	return true
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	pending := t.index >= 0
	if pending {
		t.c.remove(t.index)
	}
	t.c.schedule(t, d)
	return pending
}

// schedule adds t to the heap to fire d after now. c.mu is held.
func (c *Fake) schedule(t *fakeTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	t.when = c.now.Add(d)
	c.seq++
	t.seq = c.seq
	t.index = len(c.timers)
	c.timers = append(c.timers, t)
	c.up(t.index)
}

func (c *Fake) less(i, j int) bool {
	a, b := c.timers[i], c.timers[j]
	if !a.when.Equal(b.when) {
		return a.when.Before(b.when)
	}
	return a.seq < b.seq
}

func (c *Fake) swap(i, j int) {
	c.timers[i], c.timers[j] = c.timers[j], c.timers[i]
	c.timers[i].index = i
	c.timers[j].index = j
}

func (c *Fake) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !c.less(i, p) {
			return
		}
		c.swap(i, p)
		i = p
	}
}

func (c *Fake) down(i int) {
	n := len(c.timers)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && c.less(r, l) {
			m = r
		}
		if !c.less(m, i) {
			return
		}
		c.swap(i, m)
		i = m
	}
}

func (c *Fake) remove(i int) {
	n := len(c.timers) - 1
	t := c.timers[i]
	if i != n {
		c.swap(i, n)
	}
	c.timers[n] = nil
	c.timers = c.timers[:n]
	if i != n {
		c.down(i)
		c.up(i)
	}
	t.index = -1
}

func (c *Fake) pop() *fakeTimer {
	t := c.timers[0]
	c.remove(0)
	return t
}
