package clock

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeOrder(t *testing.T) {
	c := NewFake(epoch)
	var got []string
	rec := func(s string) func() {
		return func() { got = append(got, s+"@"+c.Now().Sub(epoch).String()) }
	}
	c.AfterFunc(3*time.Second, rec("c"))
	c.AfterFunc(time.Second, rec("a1"))
	c.AfterFunc(time.Second, rec("a2")) // same deadline: scheduling order
	stopped := c.AfterFunc(2*time.Second, rec("stopped"))
	c.AfterFunc(2*time.Second, func() {
		got = append(got, "b@"+c.Now().Sub(epoch).String())
		// Scheduled from a callback, due within this Advance.
		c.AfterFunc(500*time.Millisecond, rec("nested"))
	})
	if !stopped.Stop() {
		t.Error("Stop of a pending timer = false, want true")
	}
	if stopped.Stop() {
		t.Error("second Stop = true, want false")
	}
	if next, ok := c.NextDeadline(); !ok || !next.Equal(epoch.Add(time.Second)) {
		t.Errorf("NextDeadline = %v, %v; want %v, true", next, ok, epoch.Add(time.Second))
	}
	c.Advance(2500 * time.Millisecond)
	want := []string{"a1@1s", "a2@1s", "b@2s", "nested@2.5s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fired (-want +got):\n%s", diff)
	}
	if now := c.Now(); !now.Equal(epoch.Add(2500 * time.Millisecond)) {
		t.Errorf("Now = %v, want +2.5s", now)
	}
	if n := c.Pending(); n != 1 {
		t.Errorf("Pending = %d, want 1", n)
	}
	c.AdvanceTo(epoch.Add(10 * time.Second))
	if diff := cmp.Diff(append(want, "c@3s"), got); diff != "" {
		t.Errorf("fired (-want +got):\n%s", diff)
	}
	if _, ok := c.NextDeadline(); ok {
		t.Error("NextDeadline ok with no timers")
	}
}

func TestFakeReset(t *testing.T) {
	c := NewFake(epoch)
	n := 0
	tm := c.AfterFunc(time.Second, func() { n++ })
	if !tm.Reset(3 * time.Second) {
		t.Error("Reset of a pending timer = false")
	}
	c.Advance(2 * time.Second)
	if n != 0 {
		t.Fatalf("fired at 2s after Reset to 3s")
	}
	c.Advance(time.Second)
	if n != 1 {
		t.Fatalf("fired %d times at 3s, want 1", n)
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a fired timer = true")
	}
	c.Advance(time.Second)
	if n != 2 {
		t.Fatalf("fired %d times, want 2 after re-arming", n)
	}
	// AdvanceTo a past time does not move the clock back.
	before := c.Now()
	c.AdvanceTo(epoch)
	if !c.Now().Equal(before) {
		t.Errorf("AdvanceTo(past) moved clock to %v", c.Now())
	}
}

func TestRealClock(t *testing.T) {
	c := Real()
	done := make(chan struct{})
	tm := c.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if tm.Stop() {
		t.Error("Stop after firing = true")
	}
}
