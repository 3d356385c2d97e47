//go:build unix

package vrrpdtest

import "syscall"

// processExists reports whether a process with this PID exists.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
