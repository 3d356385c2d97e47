//go:build !unix

package main

import "os/exec"

// setProcessGroup does nothing on this system.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the process itself: there are no process
// groups on this system.
func killProcessGroup(c *exec.Cmd) {
	if c.Process != nil {
		_ = c.Process.Kill()
	}
}
