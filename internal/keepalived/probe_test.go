package keepalived

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestSchedProbeWindow checks which late wake-ups count for a window and
// the LoadFactor rule, on synthetic wake-ups.
func TestSchedProbeWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	p := &SchedProbe{lates: []lateWake{
		{at(100), 10 * time.Millisecond},  // waiting 90..100
		{at(500), 300 * time.Millisecond}, // waiting 200..500
		{at(900), 3 * time.Millisecond},
	}}
	for _, tt := range []struct {
		from, to int
		want     time.Duration
	}{
		{0, 50, 0},
		{95, 99, 10 * time.Millisecond}, // inside a long wait
		{0, 1000, 300 * time.Millisecond},
		{250, 260, 300 * time.Millisecond},
		{600, 1000, 3 * time.Millisecond},
		{501, 896, 0},
	} {
		if got := p.Late(at(tt.from), at(tt.to)); got != tt.want {
			t.Errorf("Late(%d ms, %d ms) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if !p.Loaded(at(0), at(1000), LoadFactor*300*time.Millisecond) {
		t.Error("a 1.2 s excess with a 300 ms late wake-up: not explained by load")
	}
	if p.Loaded(at(0), at(1000), LoadFactor*300*time.Millisecond+time.Millisecond) {
		t.Error("an excess over LoadFactor times the worst wake-up: explained by load")
	}
	if p.Loaded(at(600), at(1000), 100*time.Millisecond) {
		t.Error("a 100 ms excess with a 3 ms late wake-up: explained by load")
	}
}

// TestSchedProbeRuns checks that a running probe wakes up and stops.
func TestSchedProbeRuns(t *testing.T) {
	p := StartSchedProbe()
	time.Sleep(50 * time.Millisecond)
	p.Stop()
	p.Stop() // twice is fine
	if _, n := p.Max(); n == 0 {
		t.Error("the probe never woke up in 50 ms")
	}
}

// TestSchedProbeWaited checks the CPU wait of watched processes over a
// window, on synthetic samples.
func TestSchedProbeWaited(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	p := &SchedProbe{watched: []*watchedProc{
		{name: "a", samples: []waitSample{{at(0), 0}, {at(20), 5 * time.Millisecond}, {at(40), 105 * time.Millisecond}, {at(60), 106 * time.Millisecond}}},
		{name: "b", samples: []waitSample{{at(0), 0}, {at(60), 30 * time.Millisecond}}},
	}}
	if w, name := p.Waited(at(25), at(35)); w != 100*time.Millisecond || name != "a" {
		t.Errorf("Waited(25, 35) = %v %s, want 100ms a", w, name)
	}
	if w, name := p.Waited(at(40), at(60)); w != 30*time.Millisecond || name != "b" {
		t.Errorf("Waited(40, 60) = %v %s, want 30ms b", w, name)
	}
	if !p.Loaded(at(25), at(35), 100*time.Millisecond) || p.Loaded(at(25), at(35), 101*time.Millisecond) {
		t.Error("Loaded does not follow the watched processes' CPU wait")
	}
}

// TestSchedProbeWatchSelf checks that a watched process's CPU wait is
// sampled (this process, which exists and has threads).
func TestSchedProbeWatchSelf(t *testing.T) {
	p := StartSchedProbe()
	p.Watch(os.Getpid(), "self")
	time.Sleep(100 * time.Millisecond)
	p.Stop()
	p.mu.Lock()
	n := len(p.watched[0].samples)
	p.mu.Unlock()
	if runtime.GOOS == "linux" && n == 0 {
		t.Error("no sample of a watched process in 100 ms")
	}
}
