package vrrp

import "net/netip"

// VRInfo describes a virtual router to a Hook.
type VRInfo struct {
	// Name is the name the virtual router was added with.
	Name string
	// Interface and IfIndex name the interface it runs on.
	Interface string
	IfIndex   int
	// VRID, Version and the family of Addrs identify it on the wire.
	VRID    uint8
	Version uint8
	// Addrs are the virtual addresses. Do not modify.
	Addrs []netip.Addr
	// Priority is the current priority.
	Priority uint8
	// AcceptMode is Config.AcceptMode.
	AcceptMode bool
}

// Hook is told about the actions of the virtual routers that touch the
// host: taking and releasing the virtual addresses, and announcing them
// (gratuitous ARP / unsolicited NA; package arpnd implements it). The
// Router calls the methods on its host-work goroutine, one at a time, in
// the order the Machines emit the actions, after the advertisements of
// the same step are written: a slow hook delays later host work, never an
// advertisement. An error is logged and does not stop the protocol; a
// failed Take or Release is retried with backoff (100 ms doubling up to
// 10 s) until it succeeds or the virtual router's state changes, and no
// Announce runs for a virtual router whose Take has not succeeded.
// A call still waiting when a later one of the same virtual router makes
// it moot is not made (a virtual router flapping faster than the hooks
// run, as in a takeover storm): a Take makes the waiting Take, Announce
// and Release of an earlier mastership moot, so only the last
// mastership's run, in order (its Take and Announce even when its
// Release is already queued: it advertised as master, so its
// gratuitous ARP is due, RFC 9568 section 6.4.2); of waiting Announces
// only the last runs. The host ends with the addresses held iff master
// (Take must be idempotent, and Release must accept addresses it does
// not hold). A TransitionHook still gets every transition.
// A Hook may also implement TransitionHook and RegistryHook.
type Hook interface {
	// Take: vr became master; start answering for its addresses. Called
	// after its first advertisement as master is written, so that a
	// slow address installation never delays the advertisement that ends
	// the election. Must be idempotent (a failed Take is retried).
	Take(vr VRInfo) error
	// Release: vr is no longer master. Called right after the priority-0
	// advertisement it sends on leaving is written; the next master takes
	// over Skew_Time after that advertisement, which leaves Release that
	// long to finish before the two overlap.
	Release(vr VRInfo) error
	// Announce: announce vr's addresses now (on becoming master, after
	// Take, and when a master hears a lower-priority advertisement). Called
	// after the advertisement is written.
	Announce(vr VRInfo) error
}

// HookFuncs adapts functions to a Hook; nil functions do nothing.
type HookFuncs struct {
	TakeFunc     func(VRInfo) error
	ReleaseFunc  func(VRInfo) error
	AnnounceFunc func(VRInfo) error
}

// Take implements Hook.
func (h HookFuncs) Take(vr VRInfo) error {
	if h.TakeFunc == nil {
		return nil
	}
	return h.TakeFunc(vr)
}

// Release implements Hook.
func (h HookFuncs) Release(vr VRInfo) error {
	if h.ReleaseFunc == nil {
		return nil
	}
	return h.ReleaseFunc(vr)
}

// Announce implements Hook.
func (h HookFuncs) Announce(vr VRInfo) error {
	if h.AnnounceFunc == nil {
		return nil
	}
	return h.AnnounceFunc(vr)
}

var _ Hook = HookFuncs{}

// TransitionHook is an optional interface of a Hook: the Router calls
// Transition with every transition of every virtual router, in order and
// without loss, on its host-work goroutine, in line with Take, Release and
// Announce (a transition to Master comes before its Take, one from Master
// after its Release, when they run: see Hook for those a later call makes
// moot). This is the path to fence work on (run a job only
// while Master): unlike Router.Events it never drops a transition, and
// the protocol never waits for it. It should still return promptly, as
// the host work of every virtual router waits behind it.
type TransitionHook interface {
	Transition(ev Event)
}

// RegistryHook is an optional interface of a Hook: the Router tells it
// when a virtual router is added (before any other call for it) and
// removed (after its last Release), on its host-work goroutine, so that
// a hook keeps what it needs per virtual router exactly as long as the
// virtual router exists.
type RegistryHook interface {
	Added(vr VRInfo)
	Removed(vr VRInfo)
}
