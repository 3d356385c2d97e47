//go:build linux

package arpnd

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestSendRetriesNetDown: the ENETDOWN a packet socket reports once after
// its interface went down and came back does not cost an announcement;
// an interface that stays down still counts as a send error.
func TestSendRetriesNetDown(t *testing.T) {
	a, ac, _ := newTest(t, Config{MasterRepeat: 2, MasterDelay: -1})
	ac.err, ac.errs = unix.ENETDOWN, 1
	takeover(t, a, vr4("192.0.2.10"))
	if n, errs := len(ac.frames()), a.Stats().SendErrors; n != 2 || errs != 0 {
		t.Errorf("after one stale ENETDOWN: %d frames sent, %d send errors; want 2, 0", n, errs)
	}

	b, bc, _ := newTest(t, Config{MasterRepeat: 2, MasterDelay: -1})
	bc.err = unix.ENETDOWN // down for good
	takeover(t, b, vr4("192.0.2.10"))
	if n, errs := len(bc.frames()), b.Stats().SendErrors; n != 0 || errs != 2 {
		t.Errorf("interface down: %d frames sent, %d send errors; want 0, 2", n, errs)
	}
}
