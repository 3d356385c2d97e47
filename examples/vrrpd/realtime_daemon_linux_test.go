package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport/memnet"
)

const envRTDaemonChild = "GOVRRP_VRRPD_RT_DAEMON_CHILD"

// schedPolicies returns the scheduling policy of every thread of this
// process, from /proc/self/task/*/sched.
func schedPolicies() (map[string]string, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/sched")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "policy" {
				out[f] = strings.TrimSpace(v)
			}
		}
	}
	return out, nil
}

// TestDaemonRealtimeChild runs in a child process (TestDaemonRealtime): a
// daemon with rt_priority 10 on a fake system, whose notify command
// writes its own policy; it reports the threads' policies and the
// command's.
func TestDaemonRealtimeChild(t *testing.T) {
	if os.Getenv(envRTDaemonChild) == "" {
		t.Skip("run by TestDaemonRealtime")
	}
	outFile := os.Getenv(envRTDaemonChild)
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	in := inst("VI_1", 1, 150, "10.0.0.100")
	in.Notify = "grep -E '^policy' /proc/$$/sched >> " + outFile + "; true"
	cfg := cfgOf(in)
	cfg.RTPriority = 10
	d := newDaemon(cfg, newFakeSys(lan, 1), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, shellRun)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var notified []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if notified, _ = os.ReadFile(outFile); len(notified) > 0 {
			break
		}
	}
	pols, err := schedPolicies()
	cancel()
	if rerr := <-done; rerr != nil {
		fmt.Println("RESULT error", rerr)
		return
	}
	if err != nil {
		fmt.Println("RESULT error", err)
		return
	}
	rr, other := 0, 0
	for _, p := range pols {
		if p == "2" { // SCHED_RR
			rr++
		} else {
			other++
		}
	}
	f := strings.Fields(string(notified))
	fmt.Printf("RESULT rr %d other %d notify %s\n", rr, other, strings.Join(f[len(f)-1:], ""))
}

// Issue 14: with rt_priority set, the thread of the Router's protocol
// loop, and it alone, runs under SCHED_RR; the notify commands the daemon
// starts do not.
func TestDaemonRealtime(t *testing.T) {
	netlab.RequirePriv(t)
	outFile := filepath.Join(netlab.TempDir(t), "policy")
	c := exec.Command(os.Args[0], "-test.run=^TestDaemonRealtimeChild$", "-test.v")
	c.Env = append(os.Environ(), envRTDaemonChild+"="+outFile)
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
	if !strings.HasPrefix(res, "rr 1 other ") || !strings.HasSuffix(res, " notify 0") {
		t.Errorf("child: %q; want one SCHED_RR thread (the protocol loop's) and a notify command under SCHED_OTHER (policy 0)\n%s", res, out)
	}
}
