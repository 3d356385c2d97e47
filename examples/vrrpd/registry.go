package main

import (
	"slices"
	"sync"
)

// registry is the hook's view of the instances the Router runs, kept by
// the vrrp.RegistryHook calls: an instance is live from the Router's
// Added to its Removed, so that the hook calls of its last moments (the
// STOP transition and the Release of a removal) still find it, and
// nothing of it stays after. Only the Router's host-work goroutine
// changes live and the sync group states; addLocked (under daemon.mu)
// queues the instance it is about to Add in pending, which Added takes,
// first in first out by name (an instance a reload restarts is pending
// while its predecessor is still live).
type registry struct {
	mu      sync.Mutex
	live    map[string]*vrInst
	pending map[string][]*vrInst
	// states are the last notified states of live sync group members,
	// notified the last state notified per sync group (daemon's
	// Transition).
	states   map[string]string
	notified map[string]string
}

// expect queues v, about to be added to the Router.
func (r *registry) expect(v *vrInst) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = make(map[string][]*vrInst)
	}
	r.pending[v.in.Name] = append(r.pending[v.in.Name], v)
}

// unexpect takes back v, which the Router refused.
func (r *registry) unexpect(v *vrInst) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropPending(v.in.Name, slices.Index(r.pending[v.in.Name], v))
}

func (r *registry) dropPending(name string, i int) {
	q := r.pending[name]
	if i < 0 || i >= len(q) {
		return
	}
	q = slices.Delete(q, i, i+1)
	if len(q) == 0 {
		delete(r.pending, name)
		if len(r.pending) == 0 {
			// A map does not shrink: one that held the thousands of
			// instances of a start-up would keep their room (1.5 MB at
			// 4,094, issue 12).
			r.pending = nil
		}
		return
	}
	r.pending[name] = q
}

// added makes the first instance pending under name live; false if none
// is pending.
func (r *registry) added(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.pending[name]
	if len(q) == 0 {
		return false
	}
	if r.live == nil {
		r.live = make(map[string]*vrInst)
	}
	r.live[name] = q[0]
	r.dropPending(name, 0)
	return true
}

// removed forgets the live instance name and its sync group state; a
// group with no member left is forgotten too.
func (r *registry) removed(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.live[name]
	delete(r.live, name)
	delete(r.states, name)
	if v == nil || v.in.SyncGroup == "" {
		return
	}
	for _, o := range r.live {
		if o.in.SyncGroup == v.in.SyncGroup {
			return
		}
	}
	delete(r.notified, v.in.SyncGroup)
}

// get returns the live instance name, nil if none.
func (r *registry) get(name string) *vrInst {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[name]
}

// memberState records that member name of sync group group (whose
// members are members) is now in state, and returns the group's new
// state when it differs from the last one returned for the group, ""
// otherwise.
func (r *registry) memberState(name, group, state string, members []string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.states == nil {
		r.states = make(map[string]string)
		r.notified = make(map[string]string)
	}
	r.states[name] = state
	gs := groupState(members, r.states)
	if gs == "" || gs == r.notified[group] {
		return ""
	}
	r.notified[group] = gs
	return gs
}

// sizes returns how many instances are live and pending, and how many
// member and group states are kept (tests).
func (r *registry) sizes() (live, pending, states, groups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live), len(r.pending), len(r.states), len(r.notified)
}

// trackScriptsLocked returns the status of the scripts v tracks.
func (d *daemon) trackScriptsLocked(v *vrInst) []TrackStatus {
	var out []TrackStatus
	for _, name := range v.cur.TrackScripts {
		ts := TrackStatus{Name: name, Status: statusWord(statusUnknown)}
		if s := d.scripts[name]; s != nil {
			ts.Status = statusWord(s.status)
		}
		for _, s := range d.cfg.Scripts {
			if s.Name == name {
				ts.Weight = s.Weight
			}
		}
		out = append(out, ts)
	}
	return out
}
