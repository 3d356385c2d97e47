//go:build linux

package proc

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KillTree crashes pid and every descendant of it, by PID: pid is stopped
// first (SIGSTOP, so that it can neither start nor respawn children nor
// pass anything on), then its descendants, then every descendant and
// finally pid get SIGKILL. It returns the descendants it killed; SIGKILL
// is delivered asynchronously, so use WaitGone to know that they are
// gone. It does not reap pid: that is its parent's business (exec.Cmd.Wait).
func KillTree(pid int) []int {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	tree := Descendants(pid)
	for _, p := range tree {
		_ = syscall.Kill(p, syscall.SIGSTOP)
	}
	for _, p := range tree {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return tree
}

// WaitGone waits until none of pids can run any more (see Done), polling
// every millisecond for at most timeout. It returns 0, or the first PID
// that could still run when timeout passed.
func WaitGone(pids []int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for _, p := range pids {
		for !Done(p) {
			if time.Now().After(deadline) {
				return p
			}
			time.Sleep(time.Millisecond)
		}
	}
	return 0
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

// Done reports whether pid can never run its own code again: it is gone,
// a zombie, already exiting (PF_EXITING), or has SIGKILL pending. A
// killed process stays in the kernel for as long as its exit takes (on a
// busy host, closing sockets waits for the routing netlink lock, for
// seconds), or finishes the system call it sleeps in uninterruptibly
// first; either way it sends nothing more, which is what a crash test
// needs to know.
func Done(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return true
	}
	if statDone(stat) {
		return true
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return true
	}
	return killPending(status)
}

// pfExiting is the kernel's PF_EXITING task flag (include/linux/sched.h).
const pfExiting = 0x4

// statDone reads /proc/PID/stat: a zombie, or a task past the start of
// its exit.
func statDone(b []byte) bool {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	// After the command: state ppid pgrp session tty_nr tpgid flags ...
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return false
	}
	if f[0] == "Z" || f[0] == "X" || f[0] == "x" {
		return true
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfExiting != 0
}

// killPending reads /proc/PID/status: SIGKILL pending for the task
// (SigPnd) or its thread group (ShdPnd).
func killPending(b []byte) bool {
	const sigkill = uint64(1) << (syscall.SIGKILL - 1)
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "SigPnd" && k != "ShdPnd") {
			continue
		}
		m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err == nil && m&sigkill != 0 {
			return true
		}
	}
	return false
}

// Descendants returns the PIDs of every descendant of pid, parents before
// children, from the ppid field of /proc/PID/stat.
func Descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name (field 2) is in parentheses and may contain
		// spaces: the fields after its last ')' are state, ppid, ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
