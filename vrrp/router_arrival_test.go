package vrrp

import (
	"testing"
	"time"

	"github.com/govrrp/govrrp/transport"
)

// TestArrival: timers restarted by a packet count from the kernel's
// arrival stamp (transport.Meta.Time) when the Router runs on the real
// clock, from the reader's read otherwise, and never from the future.
func TestArrival(t *testing.T) {
	read := time.Now() // with a monotonic reading, as the real clock gives
	now := read.Add(3 * time.Millisecond)
	wall := read.Round(0)
	for _, c := range []struct {
		name    string
		precise bool
		read    time.Time
		kernel  time.Time
		want    time.Time
		unsure  bool // the wall clock stepped while it may have been queued
	}{
		{"kernel stamp 2ms before the read", true, read, wall.Add(-2 * time.Millisecond), read.Add(-2 * time.Millisecond), false},
		{"no kernel stamp", true, read, time.Time{}, read, false},
		{"kernel stamp after the read (clock stepped)", true, read, wall.Add(time.Millisecond), read, false},
		{"kernel stamp implausibly old (clock stepped)", true, read, wall.Add(-time.Hour), read, false},
		{"queued 5s behind a stalled reader", true, read, wall.Add(-5 * time.Second), read.Add(-5 * time.Second), false},
		{"queued 5s, the clock stepped meanwhile", true, read, wall.Add(-5 * time.Second), read, true},
		{"queued 2ms, the clock stepped meanwhile", true, read, wall.Add(-2 * time.Millisecond), read.Add(-2 * time.Millisecond), true},
		{"fake clock: stamp not comparable", false, read, wall.Add(-2 * time.Millisecond), read, false},
		{"read after now", true, now.Add(time.Millisecond), time.Time{}, now, false},
		{"no read time", true, time.Time{}, time.Time{}, now, false},
	} {
		r := &Router{precise: c.precise}
		if got := r.arrival(now, c.read, c.kernel, !c.unsure); !got.Equal(c.want) {
			t.Errorf("%s: arrival = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestBacklogDrop: the reader drops what was stamped before it started,
// keeps the rest in order with every buffer still in the batch, and stops
// looking at the first fresh or unstamped packet or at a short read.
func TestBacklogDrop(t *testing.T) {
	start := time.Now().Round(0)
	msgs := func(stamps ...time.Time) []transport.Message {
		ms := make([]transport.Message, 4)
		for i := range ms {
			ms[i].Buf = []byte{byte(i)}
		}
		for i, s := range stamps {
			ms[i].Meta.Time = s
		}
		return ms
	}
	old, fresh := start.Add(-time.Second), start.Add(time.Millisecond)

	bl := backlog{on: true, start: start}
	ms := msgs(old, fresh, old, fresh)
	if n := bl.drop(ms, 4, 4); n != 3 || ms[0].Buf[0] != 1 || ms[1].Buf[0] != 2 || ms[2].Buf[0] != 3 || bl.on || bl.dropped != 1 || bl.oldest != time.Second {
		t.Errorf("old, fresh, old, fresh: kept %d (%v %v %v), on %v, dropped %d, oldest %v; want 3 (1 2 3: after the first fresh one nothing is dropped), off, 1, 1s", n, ms[0].Buf, ms[1].Buf, ms[2].Buf, bl.on, bl.dropped, bl.oldest)
	}
	seen := map[byte]bool{}
	for _, m := range ms {
		seen[m.Buf[0]] = true
	}
	if len(seen) != 4 {
		t.Errorf("buffers after drop: %v, want all 4 still in the batch", ms)
	}

	bl = backlog{on: true, start: start}
	if n := bl.drop(msgs(old, old, old, old), 4, 4); n != 0 || !bl.on {
		t.Errorf("a whole batch of old ones: kept %d, on %v; want 0, still on (more may be queued)", n, bl.on)
	}
	if n := bl.drop(msgs(old, old), 2, 4); n != 0 || bl.on || bl.dropped != 6 {
		t.Errorf("a short read of old ones: kept %d, on %v, dropped %d; want 0, off (the socket is empty), 6", n, bl.on, bl.dropped)
	}
	if n := bl.drop(msgs(old), 1, 4); n != 1 {
		t.Errorf("after the backlog: an old stamp (a clock step) kept %d, want 1", n)
	}

	for _, none := range []time.Time{{}, time.Unix(0, 0)} {
		bl = backlog{on: true, start: start}
		if n := bl.drop(msgs(none, old), 2, 2); n != 2 || bl.on {
			t.Errorf("unstamped (%v) first: kept %d, on %v; want 2, off", none, n, bl.on)
		}
	}
}

// TestClockStepped: a step of the wall clock between two readings of the
// real clock shows as wall and monotonic differences that disagree; NTP's
// slewing (at most 500 ppm) does not.
func TestClockStepped(t *testing.T) {
	prev := time.Now()
	if clockStepped(prev, prev.Add(time.Second)) {
		t.Errorf("two readings 1s apart, no step: stepped")
	}
	// Package time cannot build a reading whose wall part moved and
	// monotonic part did not: check the arithmetic on the differences.
	for _, c := range []struct {
		mono, wall time.Duration
		want       bool
	}{
		{time.Second, time.Second, false},
		{time.Second, time.Second + 50*time.Millisecond, true},
		{time.Second, time.Second - 50*time.Millisecond, true},
		{10 * time.Second, 10*time.Second + 5*time.Millisecond, false}, // 500 ppm
		{10 * time.Second, 10*time.Second - 5*time.Millisecond, false},
		{time.Millisecond, time.Hour, true},
	} {
		if got := stepped(c.mono, c.wall); got != c.want {
			t.Errorf("stepped(monotonic %v, wall %v) = %v, want %v", c.mono, c.wall, got, c.want)
		}
	}
}
