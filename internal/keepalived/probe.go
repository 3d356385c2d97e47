package keepalived

import (
	"sync"
	"testing"
	"time"
)

// A SchedProbe measures how late this process gets the CPU: a goroutine
// that sleeps probeTick at a time and records by how much each wake-up
// overshot. On a loaded machine every process on it, the daemons under
// test included, waits about as long for a CPU; a timing test uses the
// probe's figure to tell a daemon that was late because the machine was
// loaded from one that was late on its own (a bug), and reports the
// former instead of failing. Correctness checks (who is master, who
// holds an address, counters) never depend on it.
//
// Create it with StartSchedProbe; its methods may be called from any
// goroutine.
type SchedProbe struct {
	mu    sync.Mutex
	lates []lateWake // wake-ups later than probeReport, in time order
	max   time.Duration
	n     int
	stop  chan struct{}
	done  chan struct{}
}

// lateWake is one wake-up of a SchedProbe that came late: at is when the
// probe woke, late by how much after it was due.
type lateWake struct {
	at   time.Time
	late time.Duration
}

const (
	// probeTick is how long the probe sleeps each time.
	probeTick = 5 * time.Millisecond
	// probeReport is the lateness from which a wake-up is recorded.
	probeReport = 2 * time.Millisecond
	// probeKeep bounds the wake-ups kept (the oldest go first).
	probeKeep = 1 << 16
)

// StartSchedProbe starts a SchedProbe. Stop ends it.
func StartSchedProbe() *SchedProbe {
	p := &SchedProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// StartSchedProbeT starts a SchedProbe that a Cleanup on t stops, and
// logs its worst wake-up then.
func StartSchedProbeT(t testing.TB) *SchedProbe {
	p := StartSchedProbe()
	t.Cleanup(func() {
		p.Stop()
		m, n := p.Max()
		t.Logf("scheduling probe: worst wake-up %v late of %d", m.Round(time.Microsecond), n)
	})
	return p
}

func (p *SchedProbe) run() {
	defer close(p.done)
	t := time.NewTimer(probeTick)
	defer t.Stop()
	due := time.Now().Add(probeTick)
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			late := now.Sub(due)
			// The timer's own channel send can be late too; time.Now is
			// what the goroutine saw when it finally ran.
			if l := time.Since(due); l > late {
				late = l
			}
			p.mu.Lock()
			p.n++
			p.max = max(p.max, late)
			if late >= probeReport {
				if len(p.lates) == probeKeep {
					p.lates = append(p.lates[:0], p.lates[probeKeep/2:]...)
				}
				p.lates = append(p.lates, lateWake{now, late})
			}
			p.mu.Unlock()
			due = time.Now().Add(probeTick)
			t.Reset(probeTick)
		}
	}
}

// Stop ends the probe; its figures stay readable.
func (p *SchedProbe) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// Late returns the largest lateness of a wake-up that fell in [from, to]
// (a wake-up late by d at time w covers [w-d, w]: the probe was waiting
// for a CPU all along).
func (p *SchedProbe) Late(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var m time.Duration
	for _, w := range p.lates {
		if w.at.Before(from) || w.at.Add(-w.late).After(to) {
			continue
		}
		m = max(m, w.late)
	}
	return m
}

// Max returns the largest lateness seen so far and the number of
// wake-ups.
func (p *SchedProbe) Max() (time.Duration, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max, p.n
}

// LoadFactor is how many of the probe's worst wake-ups a daemon's late
// action may be made of: a takeover or a handover is a timer wake-up, a
// receive, a send and host work (netlink, a notify script), each of
// which can wait for a CPU as long as the probe did.
const LoadFactor = 4

// Loaded says whether the probe saw, within [from, to], a wake-up late
// enough that the machine, not the daemon, can explain a delay of excess
// beyond a bound: late by at least excess/LoadFactor.
func (p *SchedProbe) Loaded(from, to time.Time, excess time.Duration) bool {
	return excess <= 0 || LoadFactor*p.Late(from, to) >= excess
}

// RequireTime fails t at once, before it starts anything, when less than
// need is left before go test's -timeout (testing.T.Deadline): a test
// that the timeout interrupts panics without running its cleanups, and
// leaves namespaces and processes behind. need is the longest the test
// can take on a loaded machine, its hang guards included.
func RequireTime(t testing.TB, need time.Duration) {
	t.Helper()
	dt, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return // a benchmark: no deadline
	}
	d, ok := dt.Deadline()
	if !ok {
		return
	}
	if left := time.Until(d); left < need {
		t.Fatalf("not started: %v left before go test's -timeout, and this test can take up to %v on a loaded machine; run the package alone or with a longer -timeout",
			left.Round(time.Second), need)
	}
}
