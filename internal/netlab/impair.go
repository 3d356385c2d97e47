package netlab

import (
	"fmt"
	"time"
)

// An Impairment is what an impaired link (Host.Impair) does to the frames
// that cross it in one direction: the faults `tc qdisc ... netem` would
// inject, for a kernel without sch_netem. The zero Impairment passes every
// frame through unchanged (after a goroutine hand-over, tens of
// microseconds).
//
// For each frame read from the link, in this order: it is lost with
// probability Loss; else it is sent once, or twice with probability
// Duplicate; each copy is delayed by Delay plus a uniform random amount in
// [-Jitter, +Jitter] (never below zero) and, with probability Reorder, by
// ReorderDelay more, so that the frames that follow it within ReorderDelay
// overtake it. As with netem, jitter alone also lets frames overtake one
// another. There is no correlation between successive draws.
type Impairment struct {
	Delay  time.Duration
	Jitter time.Duration
	// Loss, Duplicate and Reorder are probabilities, 0 to 1.
	Loss      float64
	Duplicate float64
	Reorder   float64
	// ReorderDelay is the extra delay of a reordered frame; it must be
	// positive when Reorder is.
	ReorderDelay time.Duration
	// Limit is the most frames of this direction the link holds at once;
	// frames beyond it are dropped (counted in Overflow). Zero means
	// 1000, netem's default.
	Limit int
}

// defaultLimit is Impairment.Limit when zero, as netem's.
const defaultLimit = 1000

func (im Impairment) limit() int {
	if im.Limit == 0 {
		return defaultLimit
	}
	return im.Limit
}

// Validate reports the first field out of range.
func (im Impairment) Validate() error {
	prob := func(name string, p float64) error {
		if !(p >= 0 && p <= 1) { // also rejects NaN
			return fmt.Errorf("netlab: impairment %s %v: must be 0 to 1", name, p)
		}
		return nil
	}
	switch {
	case im.Delay < 0:
		return fmt.Errorf("netlab: impairment delay %v: must not be negative", im.Delay)
	case im.Jitter < 0:
		return fmt.Errorf("netlab: impairment jitter %v: must not be negative", im.Jitter)
	case im.ReorderDelay < 0:
		return fmt.Errorf("netlab: impairment reorder delay %v: must not be negative", im.ReorderDelay)
	case im.Limit < 0:
		return fmt.Errorf("netlab: impairment limit %d: must not be negative", im.Limit)
	}
	if err := prob("loss", im.Loss); err != nil {
		return err
	}
	if err := prob("duplicate", im.Duplicate); err != nil {
		return err
	}
	if err := prob("reorder", im.Reorder); err != nil {
		return err
	}
	if im.Reorder > 0 && im.ReorderDelay == 0 {
		return fmt.Errorf("netlab: impairment reorder %v needs a positive ReorderDelay", im.Reorder)
	}
	return nil
}

// A Direction is one way across an impaired link.
type Direction int

// The two directions of an impaired link.
const (
	// FromHost is the host's transmissions, towards the bridge.
	FromHost Direction = iota
	// ToHost is what the bridge delivers to the host.
	ToHost
)

func (d Direction) String() string {
	switch d {
	case FromHost:
		return "from host"
	case ToHost:
		return "to host"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// ImpairStats counts what an impaired link did in one direction.
type ImpairStats struct {
	// Received counts frames read from the link.
	Received uint64
	// Lost counts frames dropped by Loss, Overflow those dropped because
	// Limit frames were already held.
	Lost, Overflow uint64
	// Duplicated counts frames sent twice; Reordered counts copies held
	// back by ReorderDelay.
	Duplicated, Reordered uint64
	// Sent counts copies written to the other side, WriteErrors those the
	// kernel refused.
	Sent, WriteErrors uint64
	// ReadErrors counts errors reading the link (other than its closing).
	ReadErrors uint64
	// Flushed counts copies still held when the link was removed: they
	// are dropped, as when a netem qdisc is deleted.
	Flushed uint64
}
