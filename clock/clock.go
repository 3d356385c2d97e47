// Package clock is the time source of the govrrp runtime: the real clock by
// default, and a fake clock that tests and simulations advance by hand.
//
// The pure parts of govrrp (packet, vrrp.Machine) never read a clock: time
// is passed to them. Only the runtime (vrrp.Router) and the in-memory LAN
// (transport/memnet) take a Clock.
package clock

import "time"

// Clock tells the time and schedules functions.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed, like
	// time.AfterFunc.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call, like *time.Timer.
type Timer interface {
	// Stop prevents the call if it has not run yet; it reports whether it
	// did so.
	Stop() bool
	// Reset reschedules the call to run after d; it reports whether the
	// call was still pending.
	Reset(d time.Duration) bool
}

// Real returns the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}
