//go:build linux

package main

import (
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// startNiced starts c at niceness nice under the normal scheduling
// policy, whatever vrrpd's threads run at (rt_priority): a child
// inherits both from the thread that forks it, so c is started from a
// thread of its own, set so first, which ends with the call (it is never
// unlocked: the thread cannot get its priority back without privilege).
// Where the thread cannot be set (a seccomp filter, say), c starts as
// startCommand starts it and is reniced just after (setNice).
func startNiced(c *exec.Cmd, nice int) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_NORMAL, Nice: int32(nice)}, 0) != nil {
			runtime.UnlockOSThread()
			err := startCommand(c)
			if err == nil {
				_ = setNice(c.Process.Pid, nice) // best effort
			}
			errc <- err
			return
		}
		errc <- c.Start()
	}()
	return <-errc
}
