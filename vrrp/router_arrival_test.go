package vrrp

import (
	"testing"
	"time"
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
	}{
		{"kernel stamp 2ms before the read", true, read, wall.Add(-2 * time.Millisecond), read.Add(-2 * time.Millisecond)},
		{"no kernel stamp", true, read, time.Time{}, read},
		{"kernel stamp after the read (clock stepped)", true, read, wall.Add(time.Millisecond), read},
		{"kernel stamp implausibly old (clock stepped)", true, read, wall.Add(-time.Hour), read},
		{"fake clock: stamp not comparable", false, read, wall.Add(-2 * time.Millisecond), read},
		{"read after now", true, now.Add(time.Millisecond), time.Time{}, now},
		{"no read time", true, time.Time{}, time.Time{}, now},
	} {
		r := &Router{precise: c.precise}
		if got := r.arrival(now, c.read, c.kernel); !got.Equal(c.want) {
			t.Errorf("%s: arrival = %v, want %v", c.name, got, c.want)
		}
	}
}
