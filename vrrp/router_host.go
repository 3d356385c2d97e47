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

// Backoff of the retries of a failed Take or Release.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 10 * time.Second
)

// hostWorker runs a Router's host work (the Hook's methods) on its own
// goroutine, in the order the RawRouter asked for it, so that no hook ever
// delays an advertisement. Its queue is unbounded: the protocol never
// waits for it.
type hostWorker struct {
	hook  Hook
	trans TransitionHook // nil if the hook is not one
	reg   RegistryHook   // nil if the hook is not one
	clk   clock.Clock
	log   *slog.Logger

	mu      sync.Mutex
	q       []HostAction // waiting
	spare   []HostAction
	started bool
	closing bool
	wake    chan struct{}
	done    chan struct{}

	// Worker goroutine only: the failed Takes and Releases, by virtual
	// router, until they succeed or the state changes.
	retries map[string]*retry
	timer   clock.Timer
}

// retry is a failed Take or Release to try again at due.
type retry struct {
	a     HostAction
	delay time.Duration
	due   time.Time
}

func newHostWorker(h Hook, clk clock.Clock, log *slog.Logger) *hostWorker {
	w := &hostWorker{hook: h, clk: clk, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}), retries: map[string]*retry{}}
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

// push queues host actions, in order; as cheap as an append.
func (w *hostWorker) push(as []HostAction) {
	if len(as) == 0 || w.idle() {
		return
	}
	w.mu.Lock()
	w.q = append(w.q, as...)
	w.mu.Unlock()
	w.signal()
}

// barrier returns a channel closed once the host work queued so far is
// done; nil if there is nothing to wait for (no hook, or no worker yet).
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
		batch := w.q
		w.q = w.spare[:0]
		closing := w.closing
		w.mu.Unlock()
		for i := range batch {
			w.do(&batch[i])
		}
		clear(batch)
		w.spare = batch[:0]
		if cap(batch) > maxKeptQueue {
			// A burst (thousands of virtual routers changing state at
			// once) is over: do not hold its memory for good.
			w.spare = nil
		}
		if len(batch) > 0 {
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
