//go:build linux

package proc

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
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
