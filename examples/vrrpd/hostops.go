package main

import (
	"fmt"
	"math"
	"sync"

	"github.com/govrrp/govrrp/vrrp"
)

// hostOp is a host operation that the Router retries when it fails.
type hostOp uint8

const (
	opNone hostOp = iota
	opTake
	opRelease
)

func (o hostOp) String() string {
	switch o {
	case opTake:
		return "take"
	case opRelease:
		return "release"
	}
	return ""
}

// hostState is what the daemon knows of an instance's host operations. A
// failed Take leaves a master holding nothing and a failed Release a
// backup holding the VIPs (with the fd limit reached, say): the Router
// retries either, with backoff, on its host-work goroutine (never on the
// protocol's), until it succeeds or the state changes, and announces
// after a retried Take succeeds (vrrp.Hook). hostState records the
// failing operation, its last error and the retries, for the status.
type hostState struct {
	mu      sync.Mutex
	pending hostOp // the failed operation the Router retries; opNone: none
	// retries counts the retries of failed operations, in total; it
	// stops at its maximum (retried with backoff, it never gets there).
	// 32 bits beside pending: the instance is 160 B, not 176 (issue 12).
	retries uint32
	err     string // the last error of the pending operation
}

// status returns the part of InstanceStatus about host operations.
func (h *hostState) status() (pending, err string, retries uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pending.String(), h.err, uint64(h.retries)
}

// hostDo runs op for the Router (a hook call, first or a retry) and
// records the outcome. It returns op's error: the Router logs it and
// retries.
func (d *daemon) hostDo(vr vrrp.VRInfo, op hostOp) error {
	v := d.lookup(vr.Name)
	if v == nil {
		return fmt.Errorf("unknown virtual router %q", vr.Name)
	}
	h := &v.host
	h.mu.Lock()
	if h.pending == op {
		if h.retries < math.MaxUint32 {
			h.retries++ // the Router retrying what failed
		}
	}
	h.mu.Unlock()
	var err error
	if op == opTake {
		in := *v.in
		in.GARP = *v.garp.Load() // changed in place by a reload
		err = d.sys.Take(&in, vr)
	} else {
		err = d.sys.Release(v.in, vr)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.pending, h.err = opNone, ""
		return nil
	}
	h.pending, h.err = op, err.Error()
	return err
}
