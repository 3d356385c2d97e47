//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"runtime"
)

var errRealtime = errors.New("real-time setup")

func setThreadRealtime(prio int) error {
	return errors.Join(errRealtime, errors.New("SCHED_RR is supported on Linux only, not "+runtime.GOOS))
}

func lockMemory() error {
	return errors.Join(errRealtime, errors.New("memory locking is supported on Linux only, not "+runtime.GOOS))
}

func setProcessRealtime(prio int) error { return setThreadRealtime(prio) }

func startCommand(c *exec.Cmd) error { return c.Start() }
