package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// setProcessRealtime runs every thread of the process under SCHED_RR at
// prio (1-99), without SCHED_RESET_ON_FORK, so that the threads the Go
// runtime creates later inherit the policy.
//
// The protocol loop's thread alone (setThreadRealtime) is not the
// protocol's whole path in a Go program: the runtime fires the loop's
// timer (the wake-up that sends an advertisement or declares the master
// down), polls the sockets and runs the reader goroutines (a backup's
// receive path) on whichever thread holds a P, and under load a
// SCHED_OTHER thread waits for a CPU like every other process. Measured
// under CPU hogs (issue 14, BENCHMARKS.md) those threads waited for a
// CPU hundreds of milliseconds per minute while the loop's thread waited
// about one. keepalived runs its whole VRRP process under SCHED_RR the
// same way.
//
// Commands (notify, track scripts) must not inherit the policy: from
// here on startCommand starts them from a thread of its own that runs
// under SCHED_OTHER.
func setProcessRealtime(prio int) error {
	if prio < 1 || prio > 99 {
		return fmt.Errorf("%w: priority %d: allowed 1-99", errRealtime, prio)
	}
	if err := startSpawner(); err != nil {
		return err
	}
	attr := unix.SchedAttr{Policy: unix.SCHED_RR, Priority: uint32(prio)}
	skip := int(spawner.tid.Load())
	// Threads the runtime creates meanwhile from a thread not yet
	// changed start SCHED_OTHER: go round until a pass changes none.
	for range 20 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("%w: %v", errRealtime, err)
		}
		changed := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || tid == skip {
				continue
			}
			a, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				continue // the thread exited
			}
			if a.Policy == unix.SCHED_RR && a.Priority == uint32(prio) && a.Flags&unix.SCHED_FLAG_RESET_ON_FORK == 0 {
				continue
			}
			if err := unix.SchedSetAttr(tid, &attr, 0); err != nil {
				if errors.Is(err, unix.ESRCH) {
					continue
				}
				if errors.Is(err, unix.EPERM) {
					return fmt.Errorf("%w: SCHED_RR priority %d: %v (needs CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least %d)", errRealtime, prio, err, prio)
				}
				return fmt.Errorf("%w: SCHED_RR priority %d: thread %d: %v", errRealtime, prio, tid, err)
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: SCHED_RR priority %d: new threads kept appearing", errRealtime, prio)
}

// spawner starts commands from one goroutine locked to a thread that
// runs under SCHED_OTHER for the life of the process: a child process
// inherits the policy of the thread that forks it. The Go runtime
// creates no threads from a locked one (it asks its template thread), so
// nothing else inherits this thread's policy either.
var spawner struct {
	once sync.Once
	err  error
	tid  atomic.Int32
	reqs atomic.Pointer[chan spawnReq]
}

type spawnReq struct {
	c    *exec.Cmd
	errc chan error
}

func startSpawner() error {
	spawner.once.Do(func() {
		reqs := make(chan spawnReq)
		ready := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked
			if err := unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_NORMAL}, 0); err != nil {
				ready <- fmt.Errorf("%w: command thread: SCHED_OTHER: %v", errRealtime, err)
				return
			}
			spawner.tid.Store(int32(unix.Gettid()))
			ready <- nil
			for r := range reqs {
				r.errc <- r.c.Start()
			}
		}()
		if spawner.err = <-ready; spawner.err == nil {
			spawner.reqs.Store(&reqs)
		}
	})
	return spawner.err
}

// startCommand starts c: from the spawner's SCHED_OTHER thread once
// setProcessRealtime ran, else as c.Start does.
func startCommand(c *exec.Cmd) error {
	reqs := spawner.reqs.Load()
	if reqs == nil {
		return c.Start()
	}
	errc := make(chan error, 1)
	*reqs <- spawnReq{c, errc}
	return <-errc
}
