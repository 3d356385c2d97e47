package main

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// Who is master and why: the daemon's record of every virtual router's
// transitions, fed by the Router's vrrp.TransitionHook (hook.Transition
// calls observer.record) with every transition, in order and without
// loss, for the status document (Election), the metrics (GET /metrics,
// metrics.go) and the RFC 8347 state (GET /ietf-vrrp, ietf.go).
//
// The record is kept by name: an instance that a reload restarts keeps
// its counts by reason (while its vrrp.Stats start again from zero), and
// one that a reload removes is forgotten when the Router removes it
// (vrrp.RegistryHook; hook.Removed calls observer.forget).

// transitionKey is one kind of transition: from, to, why.
type transitionKey struct {
	From, To vrrp.State
	Reason   vrrp.Reason
}

// electionRecord is what observer keeps per virtual router.
type electionRecord struct {
	last lastEvent // the last transition; zero Time before any
	up   time.Time // the last transition out of Initialize (RFC 8347 up-datetime)
	// transitions counts them by kind: a few kinds per virtual router (2
	// for one that started and became master), so a slice, not a map of
	// several hundred bytes per virtual router (issue 12); in
	// compareTransitions order, the order of the metrics' samples.
	transitions []transitionCount
}

// lastEvent is a vrrp.Event without its Name, which the observer's map
// has: 16 B less, the record 112 B, not 128 (issue 12: one per instance).
type lastEvent struct {
	Time                 time.Time
	Peer                 netip.Addr
	VRID                 uint8
	Family               vrrp.Family
	From, To             vrrp.State
	Reason, MasterReason vrrp.Reason
	PeerPriority         uint8
}

func lastOf(ev *vrrp.Event) lastEvent {
	return lastEvent{Time: ev.Time, Peer: ev.Peer, VRID: ev.VRID, Family: ev.Family, From: ev.From, To: ev.To,
		Reason: ev.Reason, MasterReason: ev.MasterReason, PeerPriority: ev.PeerPriority}
}

// event returns e as the Event of the virtual router name; the zero
// Event for the zero e.
func (e *lastEvent) event(name string) vrrp.Event {
	if e.Time.IsZero() {
		return vrrp.Event{}
	}
	return vrrp.Event{Time: e.Time, Name: name, VRID: e.VRID, Family: e.Family, From: e.From, To: e.To,
		Reason: e.Reason, MasterReason: e.MasterReason, Peer: e.Peer, PeerPriority: e.PeerPriority}
}

// transitionCount is how many transitions of a kind were seen.
type transitionCount struct {
	key transitionKey
	n   uint64
}

// observer records the transitions of every virtual router. The zero
// value is ready to use; it is safe for concurrent use.
type observer struct {
	mu   sync.Mutex
	recs map[string]*electionRecord
}

// record notes one transition.
func (o *observer) record(ev vrrp.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.recs == nil {
		o.recs = make(map[string]*electionRecord)
	}
	r := o.recs[ev.Name]
	if r == nil {
		r = &electionRecord{}
		o.recs[ev.Name] = r
	}
	r.last = lastOf(&ev)
	if ev.From == vrrp.Initialize && ev.To != vrrp.Initialize {
		r.up = ev.Time
	}
	k := transitionKey{ev.From, ev.To, ev.Reason}
	if i, ok := slices.BinarySearchFunc(r.transitions, k, func(c transitionCount, k transitionKey) int {
		return compareTransitions(c.key, k)
	}); ok {
		r.transitions[i].n++
	} else {
		r.transitions = slices.Insert(r.transitions, i, transitionCount{k, 1})
	}
}

// compareTransitions orders transition kinds by from state, to state,
// then reason.
func compareTransitions(a, b transitionKey) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Reason, b.Reason))
}

// read returns a copy of the record of name (zero when it has none): the
// counts by kind in compareTransitions order, a slice of a few entries
// (not a map: a snapshot of 4,094 instances held 4 MB, mostly those
// maps, issue 12).
func (o *observer) read(name string) (last vrrp.Event, up time.Time, ts []transitionCount) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recs[name]
	if r == nil {
		return vrrp.Event{}, time.Time{}, nil
	}
	return r.last.event(name), r.up, slices.Clone(r.transitions)
}

// get returns a copy of the record of name (zero when it has none), the
// counts as a map (tests).
func (o *observer) get(name string) (last vrrp.Event, up time.Time, ts map[transitionKey]uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recs[name]
	if r == nil {
		return vrrp.Event{}, time.Time{}, nil
	}
	ts = make(map[transitionKey]uint64, len(r.transitions))
	for _, c := range r.transitions {
		ts[c.key] = c.n
	}
	return r.last.event(name), r.up, ts
}

// processStart is when vrrpd started: the discontinuity time of the
// Router-wide counters and of the interfaces in GET /ietf-vrrp.
var processStart = time.Now()

// forget forgets the record of name.
func (o *observer) forget(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.recs, name)
}

// size returns how many records are kept (tests).
func (o *observer) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.recs)
}

// prune forgets the virtual routers not in keep (removed by a reload), so
// that the record stays as large as the configuration.
// keep holds no name twice (the daemon's order). Linear in len(keep):
// it runs on every GET /metrics and /ietf-vrrp.
func (o *observer) prune(keep []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, name := range keep {
		if _, ok := o.recs[name]; ok {
			n++
		}
	}
	if n == len(o.recs) {
		return // every record is of a name in keep: the usual case
	}
	set := make(map[string]struct{}, len(keep))
	for _, name := range keep {
		set[name] = struct{}{}
	}
	for name := range o.recs {
		if _, ok := set[name]; !ok {
			delete(o.recs, name)
		}
	}
}

// Election says who is master of a virtual router and why, as this
// router sees it: the "election" object of an instance in the status
// document.
type Election struct {
	// Master is the current master's primary address: this router's own
	// while master, the source of the last accepted advertisement
	// (RFC 8347 last-adv-source) otherwise; empty when unknown.
	Master string `json:"master,omitempty"`
	// SelfMaster is whether this router is the master.
	SelfMaster bool `json:"self_master"`
	// NewMasterReason is why this router last became master (RFC 6527
	// vrrpv3StatisticsNewMasterReason: none, priority, preempted,
	// masterNoResponse).
	NewMasterReason string `json:"new_master_reason"`
	// LastEvent is the last transition ("" before any): its states, its
	// reason (vrrp.Reason by name), for a transition to Master its RFC
	// 6527 reason, and the RFC 8347 vrrp-event-type identity it maps to.
	LastEvent *ElectionEvent `json:"last_event,omitempty"`
	// SinceLastTransitionMs is how long ago the last transition was, in
	// milliseconds.
	SinceLastTransitionMs int64 `json:"since_last_transition_ms,omitempty"`
	// Transitions counts the transitions seen, "FROM->TO reason" (as
	// "BACKUP->MASTER masterNoResponse").
	Transitions map[string]uint64 `json:"transitions,omitempty"`
}

// ElectionEvent is a transition in Election.
type ElectionEvent struct {
	Time         time.Time `json:"time"`
	From         string    `json:"from"`
	To           string    `json:"to"`
	Reason       string    `json:"reason"`
	MasterReason string    `json:"master_reason,omitempty"`
	// IETFEvent is the RFC 8347 vrrp-event-type identity of the
	// transition ("ietf-vrrp:vrrp-event-master-timeout", ...).
	IETFEvent string `json:"ietf_event"`
}

// election builds the Election of a virtual router from whether it is
// master, the master address the Router knows and its new-master reason
// (the status document's master, state and new_master_reason).
func (o *observer) election(name string, self bool, master, nmr string, now time.Time) Election {
	e := Election{Master: master, SelfMaster: self, NewMasterReason: nmr}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.recs[name]
	if r == nil {
		return e
	}
	// Read in place (get copies the counts for a caller without the
	// lock): the status document reads every instance's.
	last, ts := r.last, r.transitions
	if !last.Time.IsZero() {
		ev := &ElectionEvent{Time: last.Time, From: stateName(last.From), To: stateName(last.To),
			Reason: last.Reason.String(), IETFEvent: "ietf-vrrp:" + ietfEvent(last.Reason)}
		if last.To == vrrp.Master {
			ev.MasterReason = last.MasterReason.String()
		}
		e.LastEvent = ev
		e.SinceLastTransitionMs = max(now.Sub(last.Time).Milliseconds(), 0)
	}
	if len(ts) > 0 {
		e.Transitions = make(map[string]uint64, len(ts))
		for _, c := range ts {
			k := c.key
			e.Transitions[stateName(k.From)+"->"+stateName(k.To)+" "+k.Reason.String()] = c.n
		}
	}
	return e
}

// ietfEvent is the RFC 8347 vrrp-event-type identity (without prefix) of
// a transition for reason r. A sync group move has none of its own:
// vrrp-event-none.
func ietfEvent(r vrrp.Reason) string {
	switch r {
	case vrrp.ReasonStart:
		return "vrrp-event-startup"
	case vrrp.ReasonShutdown:
		return "vrrp-event-shutdown"
	case vrrp.ReasonHigherPriority:
		return "vrrp-event-higher-priority-backup"
	case vrrp.ReasonMasterNoResponse:
		return "vrrp-event-master-timeout"
	case vrrp.ReasonPreempted:
		return "vrrp-event-lower-priority-master"
	case vrrp.ReasonInterfaceUp:
		return "vrrp-event-interface-up"
	case vrrp.ReasonInterfaceDown:
		return "vrrp-event-interface-down"
	}
	return "vrrp-event-none"
}
