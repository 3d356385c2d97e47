//go:build linux

package netlab

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listNS returns the names of the namespaces `ip netns list` shows.
func listNS(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// TestReap: a namespace named for a process that no longer exists is
// removed with the processes in it; one whose owner lives is kept.
func TestReap(t *testing.T) {
	RequirePriv(t)
	acquire(t) // other test processes reap only with the lab lock held
	dead := fmt.Sprintf("%s%d-t-reap", nsPrefix, deadPID(t))
	live := fmt.Sprintf("%s%d-t-keep", nsPrefix, os.Getppid()) // started before the namespace
	for _, ns := range []string{dead, live} {
		if err := ipCmd("netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ipCmd("netns", "del", ns) })
	}
	// A straggler in the dead run's namespace, not in our process group
	// and without a death signal, as a daemon that forked away would be.
	sleeper := exec.Command("ip", "netns", "exec", dead, "sleep", "1000")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	waitFor(t, func() bool {
		out, _ := exec.Command("ip", "netns", "pids", dead).Output()
		return len(strings.TrimSpace(string(out))) > 0
	})

	removed, errs := reap()
	if len(errs) > 0 {
		t.Fatalf("reap: %v", errors.Join(errs...))
	}
	if !slices.Contains(removed, dead) {
		t.Errorf("reap removed %q, want %s among them", removed, dead)
	}
	if slices.Contains(removed, live) {
		t.Errorf("reap removed %s, whose owner (PID %d) is alive", live, os.Getppid())
	}
	names := listNS(t)
	if slices.Contains(names, dead) {
		t.Errorf("namespace %s still there", dead)
	}
	if !slices.Contains(names, live) {
		t.Errorf("namespace %s removed", live)
	}
	_ = sleeper.Wait()
	if ws, ok := sleeper.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the process in %s ended with %v, want killed by reap", dead, sleeper.ProcessState)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// envChild makes the test binary run TestChildLab as a child of
// TestKilledRun: it builds a lab, starts a process in it, prints the
// lab's prefix and the process's PID, and waits to be killed.
const envChild = "GOVRRP_NETLAB_CHILD"

func TestChildLab(t *testing.T) {
	if os.Getenv(envChild) == "" {
		t.Skip("run by TestKilledRun and TestTimedOutRun")
	}
	lab := New(t, "kid", 1)
	c, err := lab.Host(1).Start("sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	dir := TempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "daemon.conf"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LAB %s %d %s\n", lab.Prefix, c.Process.Pid, dir)
	time.Sleep(time.Hour)
}

// startChild runs TestChildLab in a new test process with the given extra
// flags and returns it with the lab's prefix and the PID it started.
func startChild(t *testing.T, flags ...string) (*exec.Cmd, string, int) {
	t.Helper()
	c, prefix, pid, _ := startChildDir(t, flags...)
	return c, prefix, pid
}

// startChildDir is startChild, and returns the child's TempDir too.
func startChildDir(t *testing.T, flags ...string) (*exec.Cmd, string, int, string) {
	t.Helper()
	args := append([]string{"-test.run=^TestChildLab$", "-test.v"}, flags...)
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), envChild+"=1")
	var stderr strings.Builder
	c.Stderr = &stderr // the time-out's goroutine dump, shown only on failure
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child test process's stderr:\n%s", stderr.String())
		}
	})
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var prefix, dir string
		var pid int
		if _, err := fmt.Sscanf(sc.Text(), "LAB %s %d %s", &prefix, &pid, &dir); err == nil {
			go func() {
				for sc.Scan() {
				}
			}()
			// What a child killed by SIGKILL (TestKilledRun) cannot
			// remove; the tests check first what the others did.
			t.Cleanup(func() {
				_ = os.RemoveAll(dir)
				_ = os.Remove(filepath.Dir(dir))
			})
			return c, prefix, pid, dir
		}
	}
	t.Fatal("child test process ended without building its lab")
	return nil, "", 0, ""
}

// gone checks that the child's TempDir, and the per-test directory
// t.TempDir made it in, were removed.
func gone(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the child's temporary directory %s is left (stat: %v)", d, err)
			_ = os.RemoveAll(d)
		}
	}
}

// TestTerminatedRun: a test binary killed by SIGTERM (or SIGINT), which
// runs no Cleanup, tears down its labs and removes its TempDirs before it
// dies (the watchdog), so nothing is left even before the next run.
func TestTerminatedRun(t *testing.T) {
	RequirePriv(t)
	t.Setenv(envNoLock, "1") // no wait for the lab lock: the child reaps nothing
	c, prefix, pid, dir := startChildDir(t)
	if _, err := os.Stat(filepath.Join(dir, "daemon.conf")); err != nil {
		t.Fatalf("the child's TempDir: %v", err)
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	_ = c.Wait()
	waitFor(t, func() bool { return !alive(pid) })
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces of the terminated run left: %v", left)
	}
	gone(t, dir)
}

func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, ns := range listNS(t) {
		if strings.HasPrefix(ns, prefix) {
			out = append(out, ns)
		}
	}
	return out
}

// TestKilledRun: a test process killed with SIGKILL runs no Cleanup; the
// processes its lab started die with it (PR_SET_PDEATHSIG) and the next
// run's reap removes its namespaces.
func TestKilledRun(t *testing.T) {
	RequirePriv(t)
	c, prefix, pid := startChild(t)
	// The child holds the lab lock until it dies; then we take it, as
	// every reaper does.
	if len(labNamespaces(t, prefix)) == 0 {
		t.Fatalf("child's lab %s has no namespace", prefix)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	waitFor(t, func() bool { return !alive(pid) })
	acquire(t)
	if _, errs := reap(); len(errs) > 0 {
		t.Fatalf("reap: %v", errors.Join(errs...))
	}
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces of the killed run left after reap: %v", left)
	}
}

// TestTimedOutRun: a test binary that runs into its -timeout tears its
// labs down before the deadline (the watchdog), so nothing is left even
// before the next run.
func TestTimedOutRun(t *testing.T) {
	RequirePriv(t)
	t.Setenv(envNoLock, "1") // the child must not wait for the lab lock: its -timeout is seconds
	c, prefix, pid, dir := startChildDir(t, "-test.timeout="+(watchMargin+3*time.Second).String())
	err := c.Wait()
	if err == nil {
		t.Fatal("child test binary did not time out")
	}
	if alive(pid) {
		t.Errorf("process %d of the timed-out run still alive", pid)
	}
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces of the timed-out run left: %v", left)
	}
	gone(t, dir)
}

// TestStartSurvivesDo: processes a lab starts die with the test process
// (PR_SET_PDEATHSIG), but not before: Pdeathsig fires when the forking
// *thread* exits, and Host.Do ends threads (its goroutine is locked to
// one). Before StartProcess forked from a thread of its own, a process
// started from an ordinary goroutine died with SIGKILL when a later Do
// happened to use and end that thread.
func TestStartSurvivesDo(t *testing.T) {
	lab := New(t, "sd", 1)
	h := lab.Host(1)
	var cmds []*exec.Cmd
	for range 8 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := h.Start("sleep", "1000")
			if err != nil {
				t.Error(err)
				return
			}
			cmds = append(cmds, c)
		}()
		<-done
	}
	for range 200 {
		if err := h.Do(func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let a SIGKILL, if any, land
	for _, c := range cmds {
		if !alive(c.Process.Pid) {
			t.Errorf("process %d (sleep 1000) died when Host.Do ended threads", c.Process.Pid)
		}
	}
}
