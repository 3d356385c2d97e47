//go:build !unix

package main

import (
	"errors"
	"os/exec"
	"syscall"
)

// setProcessGroup does nothing on this system.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the process itself: there are no process
// groups on this system.
func killProcessGroup(c *exec.Cmd) {
	if c.Process != nil {
		_ = c.Process.Kill()
	}
}

// signalProcessGroup kills the process itself: there are no signals to
// send on this system.
func signalProcessGroup(c *exec.Cmd, _ syscall.Signal) { killProcessGroup(c) }

// makeFIFO: no named pipes on this system.
func makeFIFO(string, uint32) error { return errors.ErrUnsupported }

const fifoOpenFlags = 0

// setNice does nothing on this system.
func setNice(pid, nice int) error { return nil }
