package netlab

import (
	"os"
	"sync"
	"syscall"
	"testing"
)

// Labs of different test processes take turns: `go test ./...` runs
// several packages' test binaries at once, and on a small machine one
// package's flood or chaos test would skew another's timing checks. The
// first lab of a process takes an exclusive flock on lockPath and the last
// one to be cleaned up releases it; labs within one process (parallel
// subtests of one package) share it.
const lockPath = "/tmp/govrrp-netlab.lock"

var procLock struct {
	mu   sync.Mutex
	refs int
	f    *os.File
}

// acquire takes the cross-process lab lock for t, released at cleanup.
func acquire(t testing.TB) {
	procLock.mu.Lock()
	defer procLock.mu.Unlock()
	if procLock.refs == 0 {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("netlab: lab lock: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			t.Fatalf("netlab: lab lock %s: %v", lockPath, err)
		}
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

func release() {
	procLock.mu.Lock()
	defer procLock.mu.Unlock()
	procLock.refs--
	if procLock.refs == 0 {
		procLock.f.Close() // releases the flock
		procLock.f = nil
	}
}
