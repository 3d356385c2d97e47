package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
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
// here on startCommand starts them from a thread of its own (spawnPool)
// that runs under SCHED_OTHER.
func setProcessRealtime(prio int) error {
	if prio < 1 || prio > 99 {
		return fmt.Errorf("%w: priority %d: allowed 1-99", errRealtime, prio)
	}
	if err := startSpawner(); err != nil {
		return err
	}
	attr := unix.SchedAttr{Policy: unix.SCHED_RR, Priority: uint32(prio)}
	skip := spawnerTIDs()
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
			if err != nil || slices.Contains(skip, tid) {
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

// spawnThreads is how many threads start commands once
// setProcessRealtime ran. Starting a command holds its thread until the
// child has run execve (vfork), and on a loaded host the child waits for
// a CPU first, so one thread makes every start wait for the one before.
// Measured, that is not what limits the notify commands a second: 8
// threads started no more than one, in three rounds on a loaded host
// (BenchmarkNotifyThroughput, notifier-spawner-1 and -8; BENCHMARKS.md,
// "Notify commands at scale"); the processes' own start is.
const spawnThreads = 1

// spawnPool starts commands from goroutines locked to threads that run
// under SCHED_OTHER for the life of the process: a child process
// inherits the policy of the thread that forks it. The Go runtime
// creates no threads from a locked one (it asks its template thread), so
// nothing else inherits these threads' policy either.
type spawnPool struct {
	reqs chan spawnReq
	tids []int // the threads', set before newSpawnPool returns
}

type spawnReq struct {
	c    *exec.Cmd
	errc chan error
}

// newSpawnPool starts n threads under SCHED_OTHER, each serving starts
// from reqs; they live as long as the process.
func newSpawnPool(n int) (*spawnPool, error) {
	p := &spawnPool{reqs: make(chan spawnReq)}
	ready := make(chan error)
	tids := make(chan int, n)
	for range n {
		go func() {
			runtime.LockOSThread() // never unlocked
			if err := unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_NORMAL}, 0); err != nil {
				ready <- fmt.Errorf("%w: command thread: SCHED_OTHER: %v", errRealtime, err)
				return // the thread exits with its goroutine
			}
			tids <- unix.Gettid()
			ready <- nil
			for r := range p.reqs {
				r.errc <- r.c.Start()
			}
		}()
	}
	var errs []error
	for range n {
		if err := <-ready; err != nil {
			errs = append(errs, err)
		}
	}
	close(tids)
	for tid := range tids {
		p.tids = append(p.tids, tid)
	}
	if len(errs) > 0 {
		close(p.reqs) // the threads that started end
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// start starts c from one of the pool's threads.
func (p *spawnPool) start(c *exec.Cmd) error {
	errc := make(chan error, 1)
	p.reqs <- spawnReq{c, errc}
	return <-errc
}

// spawner is the process's spawnPool once setProcessRealtime ran.
var spawner struct {
	once sync.Once
	err  error
	pool atomic.Pointer[spawnPool]
}

func startSpawner() error {
	spawner.once.Do(func() {
		var p *spawnPool
		if p, spawner.err = newSpawnPool(spawnThreads); spawner.err == nil {
			spawner.pool.Store(p)
		}
	})
	return spawner.err
}

// spawnerTIDs returns the threads of the spawner's pool; none before
// setProcessRealtime.
func spawnerTIDs() []int {
	if p := spawner.pool.Load(); p != nil {
		return p.tids
	}
	return nil
}

// startCommand starts c: from the spawner's SCHED_OTHER threads once
// setProcessRealtime ran, else as c.Start does.
func startCommand(c *exec.Cmd) error {
	if p := spawner.pool.Load(); p != nil {
		return p.start(c)
	}
	return c.Start()
}
