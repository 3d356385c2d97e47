//go:build linux

package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nsPrefix starts every namespace name a lab creates: "gv-PID-SEQ-prefix".
// The suite owns the prefix: reap removes any such namespace whose PID is
// no longer the process that created it.
const nsPrefix = "gv-"

var nsRE = regexp.MustCompile(`^gv-([0-9]+)-`)

// netnsDir is where `ip netns` keeps its namespace files.
const netnsDir = "/run/netns"

// reap removes what killed or timed-out test runs left: every namespace
// named by nsPrefix whose creating process is gone (the PID is free, or
// now belongs to a process started after the namespace was made), after
// killing every process still running inside it. It returns the names it
// removed. acquire calls it with the cross-process lab lock held, before
// the process's first lab.
func reap() (removed []string, errs []error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, []error{fmt.Errorf("ip netns list: %w", err)}
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		name := f[0]
		m := nsRE.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || ownerAlive(pid, name) {
			continue
		}
		killIn(name)
		if err := ipCmd("netns", "del", name); err != nil {
			if _, serr := os.Stat(filepath.Join(netnsDir, name)); os.IsNotExist(serr) {
				continue // gone meanwhile: someone reaped it without the lock
			}
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errs
}

// ownerAlive reports whether process pid exists and was started before the
// namespace ns was created (so it can be the namespace's creator; a PID
// reused by a later process cannot).
func ownerAlive(pid int, ns string) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	fi, err := os.Stat(filepath.Join(netnsDir, ns))
	if err != nil {
		return true // cannot tell: leave it alone
	}
	started, ok := procStart(pid)
	if !ok {
		return true
	}
	return !started.After(fi.ModTime().Add(time.Second))
}

// procStart returns when process pid started, from /proc/PID/stat's
// starttime (clock ticks since boot, USER_HZ = 100 on Linux) and
// /proc/stat's btime.
func procStart(pid int) (time.Time, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	// The command name is in parentheses and may hold spaces: fields
	// count from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return time.Time{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			const userHZ = 100
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ), true
		}
	}
	return time.Time{}, false
}

// The time-out watchdog. A test binary that exceeds -timeout panics
// without running any Cleanup, and one killed by SIGINT or SIGTERM runs
// none either: the watchdog tears down every open lab shortly before the
// deadline, and on those signals, so that nothing of this run outlives it.
// (SIGKILL cannot be caught: the next run's reap removes what it leaves.)
var watchdog struct {
	mu   sync.Mutex
	labs map[*Lab]struct{}
	// dirs are the directories of TempDir still in use.
	dirs  map[string]struct{}
	timer *time.Timer
	sigs  chan os.Signal
}

// watchMargin is how long before the test binary's deadline the watchdog
// removes the open labs.
const watchMargin = 20 * time.Second

// watch registers l with the watchdog, starting it with the first lab.
func watch(t testing.TB, l *Lab) {
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	startWatchLocked(t)
	watchdog.labs[l] = struct{}{}
}

// TempDir returns a new directory for t, as t.TempDir does, that is also
// removed when the test binary is killed by SIGINT or SIGTERM or runs
// into its -timeout, which run no Cleanup: the configuration files,
// sockets and records of the daemons a lab test runs do not outlive the
// run any more than its namespaces do. (After SIGKILL nothing can remove
// it.) Use it for what a test run with a lab writes.
func TempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	watchdog.mu.Lock()
	startWatchLocked(t)
	watchdog.dirs[dir] = struct{}{}
	watchdog.mu.Unlock()
	t.Cleanup(func() {
		watchdog.mu.Lock()
		delete(watchdog.dirs, dir)
		watchdog.mu.Unlock()
	})
	return dir
}

// startWatchLocked starts the watchdog, once. Called with watchdog.mu
// held.
func startWatchLocked(t testing.TB) {
	if watchdog.labs == nil {
		watchdog.labs = make(map[*Lab]struct{})
		watchdog.dirs = make(map[string]struct{})
		if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
			if deadline, ok := d.Deadline(); ok {
				watchdog.timer = time.AfterFunc(time.Until(deadline.Add(-watchMargin)), func() {
					tearDownAll("the test binary's -timeout expires in " + watchMargin.String())
				})
			}
		}
		watchdog.sigs = make(chan os.Signal, 1)
		signal.Notify(watchdog.sigs, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			sig, ok := <-watchdog.sigs
			if !ok {
				return
			}
			tearDownAll("received " + sig.String())
			signal.Reset(sig)
			_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		}()
	}
}

// unwatch removes l from the watchdog once its cleanup runs.
func unwatch(l *Lab) {
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	delete(watchdog.labs, l)
}

// tearDownAll removes every open lab, reporting on stderr (the tests'
// t is not usable from here).
func tearDownAll(why string) {
	watchdog.mu.Lock()
	labs := make([]*Lab, 0, len(watchdog.labs))
	for l := range watchdog.labs {
		labs = append(labs, l)
	}
	watchdog.mu.Unlock()
	for _, l := range labs {
		fmt.Fprintf(os.Stderr, "netlab: %s: removing lab %s\n", why, l.Prefix)
		l.teardown(func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "netlab: "+format+"\n", args...)
		})
	}
	// After the labs: their processes, which may still write there, are
	// gone.
	watchdog.mu.Lock()
	dirs := make([]string, 0, len(watchdog.dirs))
	for d := range watchdog.dirs {
		dirs = append(dirs, d)
	}
	watchdog.mu.Unlock()
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			fmt.Fprintf(os.Stderr, "netlab: %s: %v\n", why, err)
		}
		// t.TempDir's directory is one of a per-test parent, which the
		// testing package removes in a Cleanup that will not run: remove
		// it too once empty (Remove refuses a directory that is not).
		_ = os.Remove(filepath.Dir(d))
	}
}
