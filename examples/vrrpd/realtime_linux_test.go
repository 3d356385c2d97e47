package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"golang.org/x/sys/unix"
)

const envRTChild = "GOVRRP_VRRPD_RT_CHILD"

// TestRealtimeChild runs in a child process (TestRealtime): it puts one
// goroutine's thread under SCHED_RR, locks memory, then reports the
// policy of that thread, of a process it starts and of a thread the
// runtime creates from it.
func TestRealtimeChild(t *testing.T) {
	if os.Getenv(envRTChild) == "" {
		t.Skip("run by TestRealtime")
	}
	done := make(chan string)
	go func() {
		if err := setThreadRealtime(10); err != nil {
			done <- "error " + err.Error()
			return
		}
		if err := lockMemory(); err != nil {
			done <- "error " + err.Error()
			return
		}
		pol, prio, err := threadPolicy()
		if err != nil {
			done <- "error " + err.Error()
			return
		}
		// A process started from the real-time thread: chrt -p prints
		// its own policy.
		out, err := exec.Command("sh", "-c", "chrt -p $$").CombinedOutput()
		if err != nil {
			done <- "error chrt: " + err.Error()
			return
		}
		// A goroutine started here runs on another thread, which the
		// runtime may create from this one.
		other := make(chan uint32)
		go func() { p, _, _ := threadPolicy(); other <- p }()
		done <- fmt.Sprintf("thread %d %d; child %s; other %d", pol, prio, strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", " / "), <-other)
	}()
	fmt.Println("RESULT", <-done)
}

// TestRealtime: the protocol thread runs under SCHED_RR at the
// configured priority, memory is locked, and neither the policy nor the
// priority leaks into commands the daemon starts or other threads.
func TestRealtime(t *testing.T) {
	netlab.RequirePriv(t)
	netlab.RequireTool(t, "chrt")
	c := exec.Command(os.Args[0], "-test.run=^TestRealtimeChild$", "-test.v")
	c.Env = append(os.Environ(), envRTChild+"=1")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var res string
	for _, l := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(l, "RESULT "); ok {
			res = r
		}
	}
	if strings.HasPrefix(res, "error") || res == "" {
		t.Fatalf("child: %q\n%s", res, out)
	}
	want := fmt.Sprintf("thread %d 10; child ", unix.SCHED_RR)
	if !strings.HasPrefix(res, want) {
		t.Errorf("child reported %q, want it to start with %q", res, want)
	}
	if !strings.Contains(res, "SCHED_OTHER") {
		t.Errorf("a command started by the real-time thread is not SCHED_OTHER: %q", res)
	}
	if !strings.HasSuffix(res, fmt.Sprintf("other %d", unix.SCHED_NORMAL)) {
		t.Errorf("another thread is not SCHED_OTHER: %q", res)
	}
}

func TestRealtimeErrors(t *testing.T) {
	for _, p := range []int{0, 100, -1} {
		if err := setThreadRealtime(p); !errors.Is(err, errRealtime) || !strings.Contains(err.Error(), "1-99") {
			t.Errorf("setThreadRealtime(%d) = %v, want an errRealtime naming 1-99", p, err)
		}
	}
}
