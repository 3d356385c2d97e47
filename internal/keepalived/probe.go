package keepalived

import (
	"fmt"
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

	// Processes watched (Watch): the time their threads spent waiting
	// for a CPU, sampled every waitEvery wake-ups.
	watched []*watchedProc
}

// A watchedProc is one process tree the probe samples: at each sample,
// the total time its threads (and its descendants') have spent runnable
// but waiting for a CPU, as the kernel counts it.
type watchedProc struct {
	pid     int
	name    string
	tree    []int // pid and its descendants, refreshed now and then
	samples []waitSample
}

type waitSample struct {
	at   time.Time
	wait time.Duration // cumulative
}

const waitEvery = 4 // wake-ups between samples of the watched processes

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
			if p.n%waitEvery == 0 {
				p.sampleWatched(now)
			}
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

// Watch adds the process pid and its descendants, called name in
// messages, to what the probe samples: the time their threads spent
// waiting for a CPU (Linux: /proc/PID/task/TID/schedstat). A daemon that
// was late by that much was late because the machine was busy.
func (p *SchedProbe) Watch(pid int, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watched = append(p.watched, &watchedProc{pid: pid, name: name})
}

// Waited returns the longest time one watched process tree spent
// waiting for a CPU within [from, to] (from the samples around them), and
// its name.
func (p *SchedProbe) Waited(from, to time.Time) (time.Duration, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var (
		m    time.Duration
		name string
	)
	for _, w := range p.watched {
		var a, b *waitSample
		for i := range w.samples {
			s := &w.samples[i]
			if !s.at.After(from) {
				a = s
			}
			if !s.at.Before(to) && b == nil {
				b = s
			}
		}
		if a == nil && len(w.samples) > 0 {
			a = &w.samples[0]
		}
		if b == nil && len(w.samples) > 0 {
			b = &w.samples[len(w.samples)-1]
		}
		if a == nil || b == nil {
			continue
		}
		if d := b.wait - a.wait; d > m {
			m, name = d, w.name
		}
	}
	return m, name
}

// Describe says what the probe saw in [from, to], for messages.
func (p *SchedProbe) Describe(from, to time.Time) string {
	s := fmt.Sprintf("worst scheduling delay %v", p.Late(from, to))
	if w, name := p.Waited(from, to); name != "" {
		s += fmt.Sprintf("; %s waited %v for a CPU", name, w)
	}
	return s
}

// LoadFactor is how many of the probe's worst wake-ups a daemon's late
// action may be made of: a takeover or a handover is a timer wake-up, a
// receive, a send and host work (netlink, a notify script), each of
// which can wait for a CPU as long as the probe did.
const LoadFactor = 4

// Loaded says whether the probe saw, within [from, to], that the machine,
// not the daemon, can explain a delay of excess beyond a bound: a wake-up
// of its own late by at least excess/LoadFactor, or a watched process
// tree that spent at least excess waiting for a CPU.
func (p *SchedProbe) Loaded(from, to time.Time, excess time.Duration) bool {
	if excess <= 0 || LoadFactor*p.Late(from, to) >= excess {
		return true
	}
	w, _ := p.Waited(from, to)
	return w >= excess
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
