//go:build !linux

package vipaddr

// RemoveStale returns ErrUnsupported.
func (f *Filter) RemoveStale(string, uint8, bool) (bool, error) { return false, ErrUnsupported }

// Prepare returns ErrUnsupported.
func (f *Filter) Prepare() error { return ErrUnsupported }
