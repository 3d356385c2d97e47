package vrrp

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/govrrp/govrrp/clock"
)

// Warning lines the owner goroutine writes one by one in a burst: at most
// burstLines a burstPeriod, router-wide; beyond them each line is counted
// and one summary line a burstPeriod says how many were left out, by
// kind. A log line costs the protocol goroutine its time (formatting,
// the write to a pipe that journald empties); thousands of transitions at
// once (a takeover storm, 1,000 links at 100 ms: issue 12, scale run I)
// wrote thousands of lines, and the time they took made the backup miss
// advertisements and more backups take over (TestRouterTakeoverStormEnds).
// Every transition still reaches Events and a TransitionHook.
const (
	burstLines  = 32
	burstPeriod = time.Second
)

// lineLimiter is the Router-wide budget of burstLines a burstPeriod
// (the owner goroutine's transition and second-master lines), with the
// counts of the lines it left out and the timer of their summary.
type lineLimiter struct {
	mu     sync.Mutex
	start  time.Time // of the current period; zero before the first line
	logged int       // lines logged one by one in the period
	// Left out in the period: transitions by the state entered (index
	// State), second-master notes.
	to     [4]uint64
	second uint64
	timer  clock.Timer
}

// allow reports whether a line may be logged one by one now, the owner's
// clock reading (never an event's time: those go back and forth in a
// burst, and a period restarted at every step back capped nothing); if not,
// it calls count (with l.mu held) to count the line left out, and arms
// the summary's timer.
func (l *lineLimiter) allow(r *Router, now time.Time, count func(*lineLimiter)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() || now.Sub(l.start) >= burstPeriod {
		l.summaryLocked(r)
		l.start, l.logged = now, 0
	}
	if l.logged < burstLines {
		l.logged++
		return true
	}
	count(l)
	if l.timer == nil {
		l.timer = r.clk.AfterFunc(l.start.Add(burstPeriod).Sub(now), r.flushLines)
	}
	return false
}

// summaryLocked logs the summary of the lines left out, if any, and
// stops its timer.
func (l *lineLimiter) summaryLocked(r *Router) {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	n := l.second
	for _, c := range l.to {
		n += c
	}
	if n == 0 {
		return
	}
	r.log.Warn("vrrp log lines left out: too many at once", "left_out", n,
		"to_master", l.to[Master], "to_backup", l.to[Backup], "to_fault", l.to[Fault], "to_initialize", l.to[Initialize],
		"second_master", l.second, "period", burstPeriod, "limit", burstLines)
	l.to, l.second = [4]uint64{}, 0
}

// flushLines logs the summary of the lines left out (at the end of their
// period, and when Run returns).
func (r *Router) flushLines() {
	r.lines.mu.Lock()
	r.lines.summaryLocked(r)
	r.lines.mu.Unlock()
}

// logTransition logs a transition at Warn: transitions are the one thing
// an operator always wants in the log (keepalived logs every one), also
// with the log level at warn. Beyond burstLines a second (with the
// second-master lines) they are counted instead, by the state entered,
// and summarised once a second.
//
// now is the owner's clock reading, which the burst budget counts in.
func (r *Router) logTransition(ev *Event, now time.Time) {
	if !r.lines.allow(r, now, func(l *lineLimiter) {
		if int(ev.To) < len(l.to) {
			l.to[ev.To]++
		}
	}) {
		return
	}
	if ev.To == Master {
		r.log.Warn("vrrp transition", "vr", ev.Name, "vrid", ev.VRID, "family", ev.Family,
			"from", ev.From, "to", ev.To, "reason", ev.Reason, "master_reason", ev.MasterReason)
		return
	}
	if ev.Peer.IsValid() {
		r.log.Warn("vrrp transition", "vr", ev.Name, "vrid", ev.VRID, "family", ev.Family,
			"from", ev.From, "to", ev.To, "reason", ev.Reason, "peer", ev.Peer, "peer_priority", ev.PeerPriority)
		return
	}
	r.log.Warn("vrrp transition", "vr", ev.Name, "vrid", ev.VRID, "family", ev.Family,
		"from", ev.From, "to", ev.To, "reason", ev.Reason)
}

// logNote logs a dropped packet or an anomaly the RawRouter noted: the
// first of a virtual router, source and reason at Warn, then a summary of
// its repeats every SummaryPeriod while they go on (Note.Repeats), the
// message ending in "(repeated)" with repeats and period attributes.
func (r *Router) logNote(n *Note, now time.Time) {
	if n.SecondMaster {
		// One a takeover on the other side: within the transitions'
		// budget.
		if !r.lines.allow(r, now, func(l *lineLimiter) { l.second++ }) {
			return
		}
		r.log.Warn("vrrp second master: another router advertises this VRID while we are master",
			"vr", n.Name, "vrid", n.VRID, "src", n.Src, "priority", n.Priority)
		return
	}
	var (
		msg   string
		level = slog.LevelWarn
		args  []any
	)
	switch {
	case n.Name == "":
		if n.Debug {
			level = slog.LevelDebug
		}
		msg = "vrrp packet dropped"
		args = []any{"interface", n.Interface, "src", n.Src, "ttl", n.TTL, "reason", n.Why}
	case n.Kind == ActDrop:
		msg = "vrrp advertisement dropped"
		args = []any{"vr", n.Name, "vrid", n.VRID, "src", n.Src, "reason", n.Anomaly}
	case n.Kind == ActNotice:
		msg = "vrrp advertisement differs from the configuration"
		args = []any{"vr", n.Name, "vrid", n.VRID, "src", n.Src, "reason", n.Anomaly}
	case !n.Src.IsValid():
		msg = "vrrp marshal failed"
		args = []any{"vr", n.Name, "err", n.Err}
	default:
		msg = "vrrp packet dropped"
		args = []any{"vr", n.Name, "src", n.Src, "err", n.Err}
	}
	if n.Repeats > 0 {
		msg += " (repeated)"
		args = append(args, "repeats", n.Repeats, "period", n.Period.Round(time.Second))
	}
	r.log.Log(context.Background(), level, msg, args...)
}

// Discards returns the table of discarded advertisements, largest count
// first (RawRouter.Discards): the sources whose advertisements were
// dropped, by reason and virtual router, in at most DiscardTableLen rows,
// so that a second cluster on the same VRID or a host sending with TTL 64
// is named.
func (r *Router) Discards() []Discard {
	var d []Discard
	_ = r.do(true, func(time.Time) error {
		d = r.raw.Discards(make([]Discard, 0, DiscardTableLen))
		return nil
	})
	return d
}
