//go:build linux

package proc

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A shell with two children and a grandchild: KillTree finds and kills
// all of them, and WaitGone sees them gone.
func TestKillTree(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH")
	}
	c := exec.Command("sh", "-c", "sleep 300 & sh -c 'sleep 300 & wait' & wait")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	t.Cleanup(func() {
		_ = c.Process.Kill()
		<-done
	})
	pid := c.Process.Pid
	// Wait (a hang guard, not a timing check) until the shells have
	// started their children and the children have exec'd: sleep, sh,
	// and the inner sh's sleep. A child forked but not yet exec'd is
	// still called sh: under load the names lag the count.
	var tree []int
	var names []string
	want := []string{"sh", "sleep", "sleep"}
	for deadline := time.Now().Add(10 * time.Second); ; {
		tree = Descendants(pid)
		names = names[:0]
		for _, p := range tree {
			names = append(names, commOf(p))
		}
		slices.Sort(names)
		if slices.Equal(names, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("descendants of %d: %v %q, want %q", pid, tree, names, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !Alive(pid) {
		t.Fatalf("Alive(%d) = false for a running shell", pid)
	}

	if got := KillTree(pid); !slices.Equal(got, tree) {
		t.Errorf("KillTree(%d) = %v, want %v", pid, got, tree)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("shell exit: %v, want signal: killed", err)
	}
	done <- nil // for the Cleanup
	if p := WaitGone(tree, 10*time.Second); p != 0 {
		t.Errorf("WaitGone: process %d still alive", p)
	}
	if Alive(pid) {
		t.Errorf("Alive(%d) = true after the shell was reaped", pid)
	}
}

// commOf returns pid's command name, or "" once it is gone.
func commOf(pid int) string {
	out, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// A process killed while its exit is slow (closing sockets waits for the
// routing netlink lock on a busy host) is still in /proc, not a zombie,
// for seconds: a crash test flagged keepalived's VRRP child "still alive
// 10s after SIGKILL". It can run nothing more once exiting or once
// SIGKILL is pending, and Done says so; a running or stopped task is not
// done.
func TestDoneParsesStatAndStatus(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty_nr tpgid flags.
	stat := func(state string, flags uint64) []byte {
		return []byte("9128 (keepalived (x)) " + state + " 1 9127 9127 0 -1 " + strconv.FormatUint(flags, 10) + " 100 0 0 0")
	}
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"running", stat("R", 0x400140), false},
		{"sleeping", stat("S", 0x400140), false},
		{"stopped", stat("T", 0x400140), false},
		{"uninterruptible, exiting", stat("D", 0x400144), true},
		{"running, exiting", stat("R", 0x404044), true},
		{"zombie", stat("Z", 0x40040c), true},
		{"dead", stat("X", 0), true},
		{"truncated", []byte("9128 (keepalived) R 1"), false},
		{"garbage", []byte("no parenthesis"), false},
	} {
		if got := statDone(c.b); got != c.want {
			t.Errorf("%s: statDone(%q) = %v, want %v", c.name, c.b, got, c.want)
		}
	}
	status := func(sigpnd, shdpnd string) []byte {
		return []byte("Name:\tkeepalived\nState:\tD (disk sleep)\nSigQ:\t1/63000\nSigPnd:\t" + sigpnd + "\nShdPnd:\t" + shdpnd + "\nSigBlk:\t0000000000000100\n")
	}
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"nothing pending", status("0000000000000000", "0000000000000000"), false},
		{"SIGKILL to the group", status("0000000000000000", "0000000000000100"), true},
		{"SIGKILL to the task", status("0000000000000100", "0000000000000000"), true},
		{"SIGTERM only", status("0000000000004000", "0000000000004000"), false},
		{"SIGKILL among others", status("0000000000000000", "0000000000014103"), true},
		{"blocked SIGKILL is not pending", []byte("SigBlk:\t0000000000000100\n"), false},
	} {
		if got := killPending(c.b); got != c.want {
			t.Errorf("%s: killPending = %v, want %v", c.name, got, c.want)
		}
	}
}

// Done on real processes: a sleeping or stopped child is not done; after
// SIGKILL, before and after the reap, it is.
func TestDoneOnProcesses(t *testing.T) {
	c := exec.Command("sleep", "300")
	if err := c.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	t.Cleanup(func() { _ = c.Process.Kill(); <-done })
	pid := c.Process.Pid
	if Done(pid) {
		t.Fatalf("Done(%d) = true for a sleeping child", pid)
	}
	if err := c.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(must(os.ReadFile("/proc/"+strconv.Itoa(pid)+"/stat"))), ") T "); {
		if time.Now().After(deadline) {
			t.Fatal("sleep did not stop") // a hang guard
		}
		time.Sleep(time.Millisecond)
	}
	if Done(pid) {
		t.Fatalf("Done(%d) = true for a stopped child", pid)
	}
	if err := c.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if p := WaitGone([]int{pid}, 10*time.Second); p != 0 {
		t.Fatalf("WaitGone: %d still running after SIGKILL", p)
	}
	<-done
	done <- nil
	if !Done(pid) {
		t.Errorf("Done(%d) = false for a reaped child", pid)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
