package memnet

import (
	"math/rand/v2"
	"time"
)

// Link is the behaviour of the path from one endpoint to another. The
// zero Link delivers every packet at once, exactly once.
type Link struct {
	// Loss is the probability, 0 to 1, that a packet is lost.
	Loss float64
	// Dup is the probability, 0 to 1, that a packet that is not lost is
	// delivered twice (each copy with its own delay).
	Dup float64
	// Delay is how long a packet takes to arrive.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter) to each
	// copy. Packets whose delays differ arrive out of order: jitter is how
	// the LAN reorders.
	Jitter time.Duration
}

// Fate is what happens to one packet on one link: it arrives Copies times
// (0: lost, 1, or 2: duplicated), copy i after Delay[i].
type Fate struct {
	Copies int
	Delay  [2]time.Duration
}

// Decide draws the fate of one packet on link l from r. It is a pure
// function of l and r's state, so a single-threaded simulator that calls it
// for every (packet, receiver) in send order with a seeded r replays
// exactly. It draws from r only for the features l uses (a zero Link draws
// nothing): Loss one Float64, Dup one Float64, Jitter one Int64N per copy.
func Decide(r *rand.Rand, l Link) Fate {
	if l.Loss > 0 && r.Float64() < l.Loss {
		return Fate{}
	}
	f := Fate{Copies: 1, Delay: [2]time.Duration{l.Delay + jitter(r, l.Jitter)}}
	if l.Dup > 0 && r.Float64() < l.Dup {
		f.Copies = 2
		f.Delay[1] = l.Delay + jitter(r, l.Jitter)
	}
	return f
}

func jitter(r *rand.Rand, j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(j)))
}

// NewRand returns the random source a Network with this seed uses, for
// simulators that call Decide themselves.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
