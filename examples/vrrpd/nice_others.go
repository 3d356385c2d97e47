//go:build !linux

package main

import "os/exec"

// startNiced starts c and sets its niceness just after (best effort).
func startNiced(c *exec.Cmd, nice int) error {
	if err := startCommand(c); err != nil {
		return err
	}
	_ = setNice(c.Process.Pid, nice)
	return nil
}
