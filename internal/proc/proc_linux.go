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

// WaitGone waits until none of pids is alive (see Alive), polling every
// millisecond for at most timeout. It returns 0, or the first PID still
// alive when timeout passed.
func WaitGone(pids []int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for _, p := range pids {
		for Alive(p) {
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
