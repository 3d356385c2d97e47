package main

import (
	"context"
	"time"
)

// Tracking (keepalived's track_interface and track_script): pure
// functions, driven by the daemon.

// Status of a tracked interface or script.
const (
	statusUnknown int8 = 0  // not known yet: neither adds nor subtracts
	statusUp      int8 = 1  // interface up / script succeeding
	statusDown    int8 = -1 // interface down or missing / script failing
)

// tracked is one tracked object's weight and current status.
type tracked struct {
	weight int
	status int8
}

// effectivePriority applies the tracked objects to base, as keepalived
// does: a positive weight is added while the object is up, a negative one
// while it is down; a weight of 0 puts the instance in Fault while the
// object is down. The result stays within 1-254; the address owner (255)
// is never adjusted, but can still be put in Fault.
func effectivePriority(base uint8, ts []tracked) (prio uint8, fault bool) {
	sum := 0
	for _, t := range ts {
		switch {
		case t.weight == 0 && t.status == statusDown:
			fault = true
		case t.weight > 0 && t.status == statusUp, t.weight < 0 && t.status == statusDown:
			sum += t.weight
		}
	}
	if base == 255 {
		return 255, fault
	}
	p := int(base) + sum
	return uint8(min(max(p, 1), 254)), fault
}

// scriptState is the rise / fall counter of one check script, and the
// goroutine that runs it.
type scriptState struct {
	status    int8
	okRun     int // successes in a row
	failRun   int // failures in a row
	completed bool

	def    Script             // the definition being run
	run    int                // the goroutine's number: older results are ignored
	cancel context.CancelFunc // stops the goroutine

	// Log rate limit (daemon.scriptLogLocked).
	changes       int         // status changes so far
	timeouts      int         // runs killed at their timeout so far
	logged        time.Time   // when a line about it was last logged
	quiet         int         // lines left out since
	quietFrom     int         // changes when the first was left out
	quietTimeouts int         // timeouts when the first was left out
	summary       *time.Timer // logs the summary of the lines left out
}

// stopSummary cancels a pending summary line.
func (s *scriptState) stopSummary() {
	if s.summary != nil {
		s.summary.Stop()
		s.summary = nil
	}
}

// restart forgets the results but keeps the status: the next result
// decides it at once, as the first one does.
func (s *scriptState) restart() {
	s.okRun, s.failRun, s.completed = 0, 0, false
}

// record adds one result and reports whether the status changed. The
// first result decides the status at once; after that Rise successes or
// Fall failures in a row are needed to change it.
func (s *scriptState) record(ok bool, rise, fall int) bool {
	if ok {
		s.okRun++
		s.failRun = 0
	} else {
		s.failRun++
		s.okRun = 0
	}
	old := s.status
	switch {
	case !s.completed:
		s.completed = true
		s.status = statusDown
		if ok {
			s.status = statusUp
		}
	case ok && s.status != statusUp && s.okRun >= rise:
		s.status = statusUp
	case !ok && s.status != statusDown && s.failRun >= fall:
		s.status = statusDown
	}
	return s.status != old
}
