package vrrp

import "errors"

// MultiHook returns a Hook that calls each of hs in order (nil entries are
// skipped). Take stops at the first hook that fails and returns its
// error: the hooks after it (such as package arpnd's, which starts
// answering ARP for the addresses) are not told about addresses the
// earlier ones (installing them) could not take, and the Router neither
// announces them nor calls Announce until a retried Take succeeds; a
// retry calls every hook's Take again, so Take must be idempotent.
// Release and Announce call every hook and join their errors with
// errors.Join. The result implements TransitionHook and RegistryHook,
// passing each call on to the hooks of hs that implement them.
func MultiHook(hs ...Hook) Hook {
	var list multiHook
	for _, h := range hs {
		if h != nil {
			list = append(list, h)
		}
	}
	return list
}

type multiHook []Hook

func (m multiHook) each(f func(Hook) error) error {
	var errs []error
	for _, h := range m {
		if err := f(h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m multiHook) Take(vr VRInfo) error {
	for _, h := range m {
		if err := h.Take(vr); err != nil {
			return err
		}
	}
	return nil
}

func (m multiHook) Release(vr VRInfo) error {
	return m.each(func(h Hook) error { return h.Release(vr) })
}

func (m multiHook) Announce(vr VRInfo) error {
	return m.each(func(h Hook) error { return h.Announce(vr) })
}

// Transition implements TransitionHook.
func (m multiHook) Transition(ev Event) {
	for _, h := range m {
		if t, ok := h.(TransitionHook); ok {
			t.Transition(ev)
		}
	}
}

// Added implements RegistryHook.
func (m multiHook) Added(vr VRInfo) {
	for _, h := range m {
		if r, ok := h.(RegistryHook); ok {
			r.Added(vr)
		}
	}
}

// Removed implements RegistryHook.
func (m multiHook) Removed(vr VRInfo) {
	for _, h := range m {
		if r, ok := h.(RegistryHook); ok {
			r.Removed(vr)
		}
	}
}

var (
	_ TransitionHook = multiHook(nil)
	_ RegistryHook   = multiHook(nil)
)

// nopHook is the Hook of a RouterConfig without one.
type nopHook struct{}

func (nopHook) Take(VRInfo) error     { return nil }
func (nopHook) Release(VRInfo) error  { return nil }
func (nopHook) Announce(VRInfo) error { return nil }
