//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes c the leader of a new process group, so that
// killProcessGroup reaches its children too.
func setProcessGroup(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills every process of the group c leads (SIGKILL).
// A group already gone is not an error.
func killProcessGroup(c *exec.Cmd) {
	if c.Process != nil {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
}
