package vrrp

import (
	"log/slog"
	"sync"
	"time"

	"github.com/govrrp/govrrp/clock"
)

// maxKeptQueue is the most host actions whose room the worker keeps
// between bursts.
const maxKeptQueue = 1024

// hostSuperseded marks a queued host action that a later one of the same
// virtual router made moot (hostWorker.push): skipped, and dropped from
// the queue when it is compacted.
const hostSuperseded HostKind = 255

// Backoff of the retries of a failed Take or Release.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 10 * time.Second
)

// hostWorker runs a Router's host work (the Hook's methods) on its own
// goroutine, in the order the RawRouter asked for it, so that no hook ever
// delays an advertisement; the protocol never waits for it.
//
// Its queue stays bounded however often a virtual router flaps while the
// hooks are behind (a takeover storm: 1,000 links at 100 ms, issue 12):
// of a virtual router's host work still waiting, only its last
// mastership's Take, Announce and Release run (pendingHost.queued; the
// host ends as the current state needs it: the addresses held iff
// master; Take must be idempotent, and so is a Release of addresses not
// held, as after a failed Take), at most three actions a virtual router
// besides its transitions. Each kept action stays where the
// RawRouter put it, after and before the same actions of the other
// virtual routers. Nothing is coalesced across a virtual router's Added
// or Removed, nor across a barrier (Remove). Transitions are queued only
// for a TransitionHook, every one of them: its queue grows with the
// transitions it has not yet been given, and with nothing else.
type hostWorker struct {
	hook  Hook
	trans TransitionHook // nil if the hook is not one
	reg   RegistryHook   // nil if the hook is not one
	clk   clock.Clock
	log   *slog.Logger

	mu   sync.Mutex
	q    []HostAction // waiting: q[head:], superseded ones among them
	head int
	dead int // superseded actions in q[head:]
	// pend is, by virtual router, where its Take, Announce and Release
	// still waiting are in q (pendingHost).
	pend    map[string]pendingHost
	started bool
	closing bool
	wake    chan struct{}
	done    chan struct{}

	// Worker goroutine only: the failed Takes and Releases, by virtual
	// router, until they succeed or the state changes.
	retries map[string]*retry
	timer   clock.Timer
}

// pendingHost is where a virtual router's waiting Take, Announce and
// Release are in hostWorker.q; -1 for none.
type pendingHost struct{ take, ann, rel int }

// noPending is a virtual router with nothing waiting.
var noPending = pendingHost{-1, -1, -1}

// queued returns p after an action of kind k queued at i, and calls
// supersede (if not nil) for the ones it makes moot. A Take starts a
// new mastership: the waiting host work of an earlier one (its Take,
// Announce, Release) is moot. A Release ends the current one, whose
// Take and Announce still run before it: the virtual router advertised
// as master on the wire, so its gratuitous ARP is due (RFC 9568 section
// 6.4.2), however briefly it was master. Of Announces only the last
// runs.
func (p pendingHost) queued(k HostKind, i int, supersede func(int)) pendingHost {
	if supersede == nil {
		supersede = func(int) {}
	}
	switch k {
	case HostTake:
		supersede(p.take)
		supersede(p.ann)
		supersede(p.rel)
		return pendingHost{take: i, ann: -1, rel: -1}
	case HostRelease:
		supersede(p.rel)
		p.rel = i
	case HostAnnounce:
		supersede(p.ann)
		p.ann = i
	}
	return p
}

// retry is a failed Take or Release to try again at due.
type retry struct {
	a     HostAction
	delay time.Duration
	due   time.Time
}

func newHostWorker(h Hook, clk clock.Clock, log *slog.Logger) *hostWorker {
	w := &hostWorker{hook: h, clk: clk, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}),
		retries: map[string]*retry{}, pend: map[string]pendingHost{}}
	if h == nil {
		w.hook = nopHook{}
	}
	w.trans, _ = h.(TransitionHook)
	w.reg, _ = h.(RegistryHook)
	return w
}

// idle reports whether the worker has nothing to call: a Router without
// a Hook.
func (w *hostWorker) idle() bool {
	_, nop := w.hook.(nopHook)
	return nop
}

// push queues host actions, in order, superseding those of the same
// virtual routers that the new ones make moot (see hostWorker); cheap,
// never blocks.
func (w *hostWorker) push(as []HostAction) {
	if len(as) == 0 || w.idle() {
		return
	}
	w.mu.Lock()
	if need := len(w.q) + len(as); need > cap(w.q) {
		// Once, to what the burst needs (at least twice the room, so
		// that steady pushes copy rarely): appending thousands a quarter
		// at a time made several times the queue in garbage.
		w.q = grow(w.q, max(len(as), cap(w.q)))
	}
	for i := range as {
		w.pushLocked(&as[i])
	}
	w.compactLocked()
	w.mu.Unlock()
	w.signal()
}

// pushLocked queues a. Called with w.mu held.
func (w *hostWorker) pushLocked(a *HostAction) {
	name := a.VR.Name
	switch a.Kind {
	case HostTransition:
		if w.trans == nil {
			// Nothing to call: a failed Take's or Release's retry is
			// dropped by the Release or Take that follows the
			// transition.
			return
		}
	case HostAdded, HostRemoved:
		delete(w.pend, name) // nothing coalesced across them
	case HostTake, HostRelease, HostAnnounce:
		w.pend[name] = w.pendOr(name).queued(a.Kind, len(w.q), w.supersedeLocked)
	}
	w.q = append(w.q, *a)
}

// supersedeLocked marks the action at i in the queue superseded (i < 0:
// none).
func (w *hostWorker) supersedeLocked(i int) {
	if i < 0 {
		return
	}
	w.q[i] = HostAction{Kind: hostSuperseded}
	w.dead++
}

// compactLocked drops the superseded actions from the queue once they
// are as many as the others, and the room of those run once it is half
// the queue (a worker that is behind never empties it), moving what
// waits to the front: the queue holds at most about four times the
// actions still to run.
func (w *hostWorker) compactLocked() {
	waiting := len(w.q) - w.head
	if (w.dead < 64 || 2*w.dead < waiting) && (w.head < 64 || 2*w.head < len(w.q)) {
		return
	}
	clear(w.pend)
	n := 0
	for _, a := range w.q[w.head:] {
		if a.Kind == hostSuperseded {
			continue
		}
		switch a.Kind {
		case HostTake, HostRelease, HostAnnounce:
			// What is left was not superseded: nothing is now.
			w.pend[a.VR.Name] = w.pendOr(a.VR.Name).queued(a.Kind, n, nil)
		case HostAdded, HostRemoved:
			delete(w.pend, a.VR.Name)
		case 0:
			clear(w.pend)
		}
		w.q[n] = a
		n++
	}
	clear(w.q[n:])
	w.q, w.head, w.dead = w.q[:n], 0, 0
}

func (w *hostWorker) pendOr(name string) pendingHost {
	if p, ok := w.pend[name]; ok {
		return p
	}
	return noPending
}

// popLocked takes the next action to run off the queue; ok is false when
// none waits.
func (w *hostWorker) popLocked() (a HostAction, ok bool) {
	for w.head < len(w.q) {
		i := w.head
		a = w.q[i]
		w.q[i] = HostAction{}
		w.head++
		if a.Kind == hostSuperseded {
			w.dead--
			continue
		}
		if p, found := w.pend[a.VR.Name]; found && (p.take == i || p.ann == i || p.rel == i) {
			switch i {
			case p.take:
				p.take = -1
			case p.ann:
				p.ann = -1
			case p.rel:
				p.rel = -1
			}
			if p == noPending {
				delete(w.pend, a.VR.Name)
			} else {
				w.pend[a.VR.Name] = p
			}
		}
		return a, true
	}
	// Drained: start again at the front, and do not hold a burst's
	// memory for good: neither the queue's room nor the map's (clear
	// keeps a map's buckets; it never had more entries than the queue
	// had room for).
	if cap(w.q) > maxKeptQueue {
		w.q = nil
		w.pend = map[string]pendingHost{}
	} else {
		w.q = w.q[:0]
		clear(w.pend) // empty already: every entry was run or superseded
	}
	w.head, w.dead = 0, 0
	return HostAction{}, false
}

// barrier returns a channel closed once the host work queued so far is
// done; nil if there is nothing to wait for (no hook, or no worker yet).
// Nothing queued before it is superseded by what is queued after it.
func (w *hostWorker) barrier() chan struct{} {
	if w.idle() {
		return nil
	}
	w.mu.Lock()
	if !w.started || w.closing {
		w.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	clear(w.pend)
	w.q = append(w.q, HostAction{done: done})
	w.mu.Unlock()
	w.signal()
	return done
}

func (w *hostWorker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// start starts the worker goroutine.
func (w *hostWorker) start() {
	w.mu.Lock()
	w.started = true
	w.mu.Unlock()
	go w.run()
}

// close waits for the queued work to be done and stops the worker.
// Retries still pending are given up (and logged).
func (w *hostWorker) close() {
	w.mu.Lock()
	started := w.started
	w.closing = true
	w.mu.Unlock()
	if !started {
		return
	}
	w.signal()
	<-w.done
}

func (w *hostWorker) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		a, ok := w.popLocked()
		closing := w.closing
		w.mu.Unlock()
		if ok {
			w.do(&a)
			continue
		}
		if closing {
			for name, rt := range w.retries {
				w.log.Warn("vrrp hook not retried: the router stopped", "vr", name, "hook", rt.a.Kind)
			}
			clear(w.retries)
			if w.timer != nil {
				w.timer.Stop()
			}
			return
		}
		<-w.wake
		w.runRetries()
	}
}

// do runs one host action.
func (w *hostWorker) do(a *HostAction) {
	name := a.VR.Name
	switch a.Kind {
	case 0:
		close(a.done)
	case HostAdded:
		if w.reg != nil {
			w.reg.Added(a.VR)
		}
	case HostRemoved:
		delete(w.retries, name)
		if w.reg != nil {
			w.reg.Removed(a.VR)
		}
	case HostTransition:
		// A failed Take is moot once the router is no longer master, a
		// failed Release once it is master again. The RawRouter lists a
		// transition's Take after it and its Release before it, so a
		// retry that fits the new state is kept.
		if rt := w.retries[name]; rt != nil && (rt.a.Kind == HostTake) != (a.Event.To == Master) {
			delete(w.retries, name)
		}
		if w.trans != nil {
			w.trans.Transition(a.Event)
		}
	case HostTake, HostRelease:
		delete(w.retries, name)
		w.call(a)
	case HostAnnounce:
		if rt := w.retries[name]; rt != nil && rt.a.Kind == HostTake {
			// No announcement for addresses the host does not hold:
			// the retry announces when the Take succeeds.
			return
		}
		w.call(a)
	}
}

// call runs a's hook method, and schedules a retry of a failed Take or
// Release.
func (w *hostWorker) call(a *HostAction) bool {
	var err error
	switch a.Kind {
	case HostTake:
		err = w.hook.Take(a.VR)
	case HostRelease:
		err = w.hook.Release(a.VR)
	case HostAnnounce:
		err = w.hook.Announce(a.VR)
	}
	if err == nil {
		return true
	}
	if a.Kind == HostAnnounce {
		w.log.Warn("vrrp hook failed", "vr", a.VR.Name, "hook", a.Kind, "err", err)
		return false
	}
	rt := w.retries[a.VR.Name]
	if rt == nil {
		rt = &retry{a: *a, delay: retryFirst}
		w.retries[a.VR.Name] = rt
	} else {
		rt.delay = min(2*rt.delay, retryMax)
	}
	rt.due = w.clk.Now().Add(rt.delay)
	w.log.Warn("vrrp hook failed", "vr", a.VR.Name, "hook", a.Kind, "err", err, "retry_in", rt.delay)
	w.arm()
	return false
}

// runRetries runs the retries that are due.
func (w *hostWorker) runRetries() {
	if len(w.retries) == 0 {
		return
	}
	now := w.clk.Now()
	for name, rt := range w.retries {
		if rt.due.After(now) {
			continue
		}
		a := rt.a
		if w.call(&a) {
			delete(w.retries, name)
			w.log.Info("vrrp hook succeeded on retry", "vr", name, "hook", a.Kind)
			if a.Kind == HostTake {
				// The announcement held back while the Take failed.
				a.Kind = HostAnnounce
				w.call(&a)
			}
		}
	}
	w.arm()
}

// arm points the retry timer at the earliest retry.
func (w *hostWorker) arm() {
	var first time.Time
	for _, rt := range w.retries {
		if first.IsZero() || rt.due.Before(first) {
			first = rt.due
		}
	}
	if first.IsZero() {
		return
	}
	d := max(first.Sub(w.clk.Now()), 0)
	if w.timer == nil {
		w.timer = w.clk.AfterFunc(d, w.signal)
		return
	}
	w.timer.Reset(d)
}
