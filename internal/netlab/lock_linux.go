package netlab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Labs of different test processes take turns: `go test ./...` runs
// several packages' test binaries at once, and on a small machine one
// package's flood or chaos test would skew another's timing checks. The
// first lab of a process takes an exclusive flock on lockPath and the last
// one to be cleaned up releases it; labs within one process (parallel
// subtests of one package) share it.
const lockPath = "/tmp/govrrp-netlab.lock"

// envNoLock=1 makes this process's labs skip the lock (and so the reaping
// done under it): only for netlab's own child processes (TestTimedOutRun),
// whose one small lab measures nothing and must not wait behind other
// packages' labs with a -timeout of seconds.
const envNoLock = "GOVRRP_NETLAB_NOLOCK"

var procLock struct {
	mu   sync.Mutex
	refs int
	f    *os.File
}

// acquire takes the cross-process lab lock for t, released at cleanup.
func acquire(t testing.TB) {
	procLock.mu.Lock()
	defer procLock.mu.Unlock()
	if procLock.refs == 0 && os.Getenv(envNoLock) == "1" {
		procLock.refs++
		t.Cleanup(release)
		return
	}
	if procLock.refs == 0 {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("netlab: lab lock: %v", err)
		}
		if err := lockWait(t, f); err != nil {
			f.Close()
			t.Fatalf("netlab: lab lock %s: %v", lockPath, err)
		}
		// Name the holder for those who wait.
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		procLock.f = f
		// With the lock held, before this process's first lab: remove
		// what killed or timed-out runs left behind.
		removed, errs := reap()
		for _, ns := range removed {
			t.Logf("netlab: removed namespace %s, left by a test run that no longer exists", ns)
		}
		for _, err := range errs {
			t.Errorf("netlab: removing what an earlier run left: %v", err)
		}
	}
	procLock.refs++
	t.Cleanup(release)
}

// lockWait takes the exclusive lock on f, waiting for other test
// processes' labs. It gives up, with an error naming the holder, shortly
// before t's deadline (the test binary's -timeout), so that a long queue
// of labs fails one test with a reason instead of timing out the binary
// with a goroutine dump.
func lockWait(t testing.TB, f *os.File) error {
	var deadline time.Time
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		deadline, _ = d.Deadline()
	}
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if w := time.Since(start); w > time.Second {
				t.Logf("netlab: waited %v for other test processes' labs", w.Round(time.Second))
			}
			return nil
		}
		if err != syscall.EWOULDBLOCK {
			return err
		}
		if !deadline.IsZero() && time.Until(deadline) < 2*watchMargin {
			holder, _ := os.ReadFile(lockPath)
			return fmt.Errorf("waited %v for the labs of test process %s (still running); giving up before this binary's -timeout: run fewer packages at once or raise -timeout",
				time.Since(start).Round(time.Second), strings.TrimSpace(string(holder)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func release() {
	procLock.mu.Lock()
	defer procLock.mu.Unlock()
	procLock.refs--
	if procLock.refs == 0 && procLock.f != nil {
		procLock.f.Close() // releases the flock
		procLock.f = nil
	}
}
