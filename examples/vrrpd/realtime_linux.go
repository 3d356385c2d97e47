package main

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Real-time scheduling and memory locking, keepalived's vrrp_rt_priority
// and vrrp_no_swap: on a loaded machine a master whose advertisements wait
// for a CPU looks dead to its backups (an operator saw one wait 4.8 s).

// errRealtime wraps every failure to set up real-time scheduling or to
// lock memory; the messages name the capability that is missing.
var errRealtime = errors.New("real-time setup")

// setThreadRealtime locks the calling goroutine to its OS thread and runs
// that thread under SCHED_RR at prio (1-99). SCHED_RESET_ON_FORK keeps
// it to this thread: threads and processes it creates (the Go runtime's
// new threads, notify commands) start with the normal policy. The
// goroutine must stay locked for the rest of its life (it never calls
// runtime.UnlockOSThread).
func setThreadRealtime(prio int) error {
	if prio < 1 || prio > 99 {
		return fmt.Errorf("%w: priority %d: allowed 1-99", errRealtime, prio)
	}
	runtime.LockOSThread()
	attr := unix.SchedAttr{
		Policy:   unix.SCHED_RR,
		Priority: uint32(prio),
		Flags:    unix.SCHED_FLAG_RESET_ON_FORK,
	}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%w: SCHED_RR priority %d: %v (needs CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least %d)", errRealtime, prio, err, prio)
		}
		return fmt.Errorf("%w: SCHED_RR priority %d: %v", errRealtime, prio, err)
	}
	return nil
}

// threadPolicy returns the calling thread's scheduling policy and
// real-time priority.
func threadPolicy() (policy uint32, prio uint32, err error) {
	a, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return 0, 0, err
	}
	return a.Policy, a.Priority, nil
}

// lockMemory locks the process's memory (mlockall), now and as it grows,
// so that the protocol never waits for a page to come back from swap.
// MCL_ONFAULT locks pages as they are touched, not the Go runtime's
// whole address-space reservation.
func lockMemory() error {
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOMEM) {
			return fmt.Errorf("%w: mlockall: %v (needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK: LimitMEMLOCK=infinity in the unit)", errRealtime, err)
		}
		return fmt.Errorf("%w: mlockall: %v", errRealtime, err)
	}
	return nil
}
