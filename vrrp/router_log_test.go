package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/clock"
)

// lineCounter counts the log lines by message.
type lineCounter struct {
	mu sync.Mutex
	by map[string]int
}

func (h *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *lineCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.by[r.Message]++
	return nil
}
func (h *lineCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineCounter) WithGroup(string) slog.Handler      { return h }

// TestTransitionLinesCapped: a burst of transitions is logged at most
// burstLines a burstPeriod one by one, the rest summarised, whatever the
// events' own times. Events carry when their cause happened (a timer's
// deadline, a packet's arrival), not when the owner logs them, and in a
// burst those go back and forth: the limiter counted periods from them
// and started a new period at every step back, so in the scale lab's
// takeover storm (1,000 links at 100 ms) it let 600 lines a second
// through.
func TestTransitionLinesCapped(t *testing.T) {
	h := &lineCounter{by: map[string]int{}}
	fake := clock.NewFake(time.Unix(1e9, 0))
	r := NewRouter(RouterConfig{Clock: fake, Logger: slog.New(h)})
	const n = 1000
	for i := range n {
		now := fake.Now()
		ev := Event{Name: fmt.Sprint("vr", i), VRID: 1, From: Backup, To: Master,
			// Up to 0.6 s in the past, back and forth.
			Time: now.Add(-time.Duration(i%7) * 100 * time.Millisecond)}
		r.logTransition(&ev, now)
		if i%100 == 99 {
			fake.Advance(100 * time.Millisecond) // 1,000 in 1 s
		}
	}
	r.flushLines()
	h.mu.Lock()
	defer h.mu.Unlock()
	one, summaries := h.by["vrrp transition"], 0
	for msg, c := range h.by {
		if strings.HasPrefix(msg, "vrrp log lines left out") {
			summaries += c
		}
	}
	if one > burstLines {
		t.Errorf("%d transitions in 1 s logged one by one, want at most %d", one, burstLines)
	}
	if summaries == 0 || summaries > 2 {
		t.Errorf("%d summary lines, want 1 or 2", summaries)
	}
}
