//go:build unix

package main

import (
	"os"
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

// signalProcessGroup sends sig to every process of the group c leads.
func signalProcessGroup(c *exec.Cmd, sig syscall.Signal) {
	if c.Process != nil {
		_ = syscall.Kill(-c.Process.Pid, sig)
	}
}

// makeFIFO makes a named pipe; the error matches fs.ErrExist when path
// exists.
func makeFIFO(path string, mode uint32) error {
	if err := syscall.Mkfifo(path, mode); err != nil {
		return &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	return nil
}

// fifoOpenFlags open the notify FIFO without blocking (whether or not a
// reader is there; writes wait in the runtime's poller), never through a
// symbolic link.
const fifoOpenFlags = syscall.O_NONBLOCK | syscall.O_NOFOLLOW | syscall.O_CLOEXEC

// setNice sets the niceness of process pid (setpriority(2)): raising it
// needs no privilege.
func setNice(pid, nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, pid, nice)
}
