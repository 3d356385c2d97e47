package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// Backoff of the retries of a failed Take or Release.
const (
	hostRetryMin = 250 * time.Millisecond
	hostRetryMax = 10 * time.Second
)

// hostOp is a host operation that is retried when it fails.
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

// hostState is what the daemon knows of an instance's host operations:
// the last Take or Release the Router asked for, and, when it failed, the
// error and the retries so far. A failed Take leaves a master holding
// nothing and a failed Release a backup holding the VIPs (with the fd
// limit reached, say), so both are retried, with backoff, on a goroutine
// of their own (never on the Router's), until one succeeds or the Router
// asks for the other (the state changed).
type hostState struct {
	// opMu serialises the instance's operations: the Router's hook calls
	// and the retries. A retry never runs concurrently with a hook call,
	// so a late retry cannot undo a later Release or Take.
	opMu sync.Mutex

	mu       sync.Mutex // guards the fields below; held only briefly
	gen      uint64     // counts the Router's Take / Release calls
	pending  hostOp     // the failed operation to retry; opNone: none
	pendGen  uint64     // gen of the call that failed
	vr       vrrp.VRInfo
	err      string // the last error of the pending operation
	retries  uint64 // retries of failed operations, in total
	retrying bool   // a retry goroutine runs
}

// status returns the part of InstanceStatus about host operations.
func (h *hostState) status() (pending, err string, retries uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pending.String(), h.err, h.retries
}

// hostDo runs op for the Router (a hook call): it supersedes a pending
// retry, and when it fails, becomes the one retried. It returns op's
// error for the Router to log.
func (d *daemon) hostDo(vr vrrp.VRInfo, op hostOp) error {
	v := d.lookup(vr.Name)
	if v == nil {
		return fmt.Errorf("unknown virtual router %q", vr.Name)
	}
	h := &v.host
	h.opMu.Lock()
	defer h.opMu.Unlock()
	h.mu.Lock()
	h.gen++
	gen := h.gen
	h.pending, h.err = opNone, ""
	h.mu.Unlock()

	err := d.hostApply(v, op, vr)
	if err == nil {
		return nil
	}
	h.mu.Lock()
	h.pending, h.pendGen, h.err = op, gen, err.Error()
	h.vr = vr
	h.vr.Addrs = slices.Clone(vr.Addrs)
	start := !h.retrying
	h.retrying = true
	h.mu.Unlock()
	if start {
		d.startRetry(v)
	}
	return fmt.Errorf("%w (retried in the background until it succeeds or the state changes)", err)
}

func (d *daemon) hostApply(v *vrInst, op hostOp, vr vrrp.VRInfo) error {
	if op == opTake {
		return d.sys.Take(&v.in, vr)
	}
	return d.sys.Release(&v.in, vr)
}

// startRetry runs v's retries on a goroutine of their own, unless the
// daemon is shutting down (the system's Close removes what it added).
func (d *daemon) startRetry(v *vrInst) {
	d.retryMu.Lock()
	defer d.retryMu.Unlock()
	if d.retryCtx.Err() != nil {
		v.host.mu.Lock()
		v.host.retrying = false
		v.host.mu.Unlock()
		return
	}
	d.retryWG.Add(1)
	go d.retryLoop(d.retryCtx, v)
}

// retryLoop retries v's pending operation with backoff until it
// succeeds, another operation supersedes it, v is replaced (a reload
// re-added it) or ctx is done.
func (d *daemon) retryLoop(ctx context.Context, v *vrInst) {
	defer d.retryWG.Done()
	h := &v.host
	delay := hostRetryMin
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.retrying = false
			h.mu.Unlock()
			return
		case <-t.C:
		}
		h.opMu.Lock()
		h.mu.Lock()
		op, gen, vr := h.pending, h.pendGen, h.vr
		if op == opNone || gen != h.gen || d.lookup(v.in.Name) != v {
			h.pending, h.err = opNone, ""
			h.retrying = false
			h.mu.Unlock()
			h.opMu.Unlock()
			return
		}
		h.retries++
		n := h.retries
		h.mu.Unlock()
		err := d.hostApply(v, op, vr)
		if err == nil && op == opTake {
			// The addresses are there only now: announce them.
			if aerr := d.sys.Announce(&v.in, vr); aerr != nil {
				d.log.Warn("announcing after a retried take", "vr", v.in.Name, "err", aerr)
			}
		}
		h.mu.Lock()
		if err == nil {
			h.pending, h.err = opNone, ""
			h.retrying = false
			h.mu.Unlock()
			h.opMu.Unlock()
			d.log.Info("host operation succeeded on retry", "vr", v.in.Name, "hook", op.String(), "retries", n)
			return
		}
		h.err = err.Error()
		h.mu.Unlock()
		h.opMu.Unlock()
		delay = min(2*delay, hostRetryMax)
		d.log.Warn("host operation failed again, retrying", "vr", v.in.Name, "hook", op.String(),
			"retries", n, "next_in", delay, "err", err)
		t.Reset(delay)
	}
}

// stopRetries stops the retry goroutines and waits for them.
func (d *daemon) stopRetries() {
	d.retryMu.Lock()
	d.stopRetry()
	d.retryMu.Unlock()
	d.retryWG.Wait()
}
