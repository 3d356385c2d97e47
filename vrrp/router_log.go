package vrrp

import (
	"context"
	"log/slog"
	"time"
)

// logTransition logs a transition at Warn: transitions are the one thing
// an operator always wants in the log (keepalived logs every one), also
// with the log level at warn.
func (r *Router) logTransition(ev *Event) {
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
func (r *Router) logNote(n *Note) {
	if n.SecondMaster {
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
