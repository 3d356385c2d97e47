package vrrp

import "errors"

// MultiHook returns a Hook that calls each of hs in order (nil entries are
// skipped) and joins their errors with errors.Join. Every hook is called
// even if an earlier one fails.
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
	return m.each(func(h Hook) error { return h.Take(vr) })
}

func (m multiHook) Release(vr VRInfo) error {
	return m.each(func(h Hook) error { return h.Release(vr) })
}

func (m multiHook) Announce(vr VRInfo) error {
	return m.each(func(h Hook) error { return h.Announce(vr) })
}

// nopHook is the Hook of a RouterConfig without one.
type nopHook struct{}

func (nopHook) Take(VRInfo) error     { return nil }
func (nopHook) Release(VRInfo) error  { return nil }
func (nopHook) Announce(VRInfo) error { return nil }
