package keepalived

import (
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
