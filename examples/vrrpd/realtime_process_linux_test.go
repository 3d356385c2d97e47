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
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport/memnet"
	"golang.org/x/sys/unix"
)

const envRTProcessChild = "GOVRRP_VRRPD_RT_PROCESS_CHILD"

// TestDaemonRealtimeProcessChild runs in a child process
// (TestDaemonRealtimeProcess): the daemon as vrrpd's command line runs it
// (runDaemon) with rt_priority 10 on a fake system, whose notify command
// writes its own policy. Once the instance is master it makes the Go
// runtime create threads (goroutines blocked in system calls), then
// reports how many of the process's threads run under SCHED_RR, which
// others there are besides the command starters' (spawnPool), how many of
// those run under SCHED_OTHER, and the notify command's policy.
func TestDaemonRealtimeProcessChild(t *testing.T) {
	if os.Getenv(envRTProcessChild) == "" {
		t.Skip("run by TestDaemonRealtimeProcess")
	}
	outFile := os.Getenv(envRTProcessChild)
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	in := inst("VI_1", 1, 150, "10.0.0.100")
	in.Notify = "grep -E '^policy' /proc/$$/sched >> " + outFile + "; true"
	cfg := cfgOf(in)
	cfg.RTPriority = 10
	// The notify FIFO's reader is a command vrrpd starts too: it writes
	// its policy first (then drains the FIFO).
	fifoOut := outFile + ".fifo"
	cfg.NotifyFIFO = outFile + ".pipe"
	cfg.NotifyFIFOScript = "grep -E '^policy' /proc/$$/sched > " + fifoOut + "; cat"
	cfg.LogLevel = slog.LevelError
	sys := newFakeSys(lan, 1)
	env := hostEnv{
		newSystem: func(*slog.Logger) (system, error) { return sys, nil },
		getenv:    func(string) string { return "" },
		pid:       os.Getpid(),
		run:       shellRun,
	}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- runDaemon(ctx, cfg, func() (Config, error) { return cfg, nil }, io.Discard, make(chan os.Signal), env)
	}()
	var notified []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if notified, _ = os.ReadFile(outFile); len(notified) > 0 {
			break
		}
	}
	// Goroutines blocked in system calls make the runtime start threads
	// (sysmon hands their Ps to new ones): they must inherit SCHED_RR.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := unix.NsecToTimespec(int64(200 * time.Millisecond))
			_ = unix.Nanosleep(&ts, nil)
		}()
	}
	wg.Wait()
	pols, err := schedPolicies()
	cancel()
	if c := <-code; c != 0 {
		fmt.Println("RESULT error: exit status", c)
		return
	}
	if err != nil {
		fmt.Println("RESULT error", err)
		return
	}
	// The command starters' threads (spawnPool) apart: they are the
	// only ones that must run under SCHED_OTHER.
	starters := map[string]bool{}
	for _, tid := range spawnerTIDs() {
		starters[fmt.Sprintf("/proc/self/task/%d/sched", tid)] = true
	}
	rr, other, starterOther := 0, 0, 0
	for task, p := range pols {
		switch {
		case starters[task] && p == "0": // SCHED_OTHER
			starterOther++
		case p == "2": // SCHED_RR
			rr++
		default:
			other++
		}
	}
	f := strings.Fields(string(notified))
	if len(f) == 0 {
		fmt.Println("RESULT error: no notify command ran")
		return
	}
	fb, _ := os.ReadFile(fifoOut)
	ff := strings.Fields(string(fb))
	if len(ff) == 0 {
		fmt.Println("RESULT error: the notify_fifo_script did not run")
		return
	}
	fmt.Printf("RESULT rr %d other %d starters %d of %d notify %s fifo %s\n", rr, other, starterOther, len(starters), f[len(f)-1], ff[len(ff)-1])
}

// Issue 14: with rt_priority, every thread of vrrpd runs under SCHED_RR,
// the ones the Go runtime creates later included (they fire the protocol
// loop's timers, poll the sockets and run the readers), except the
// threads that start commands (spawnThreads of them); the notify
// commands run under SCHED_OTHER.
// Before, only the protocol loop's thread did, and under CPU hogs the
// others waited for a CPU (internal/measure TestRealtimeLoad).
func TestDaemonRealtimeProcess(t *testing.T) {
	netlab.RequirePriv(t)
	outFile := filepath.Join(netlab.TempDir(t), "policy")
	c := exec.Command(os.Args[0], "-test.run=^TestDaemonRealtimeProcessChild$", "-test.v")
	c.Env = append(os.Environ(), envRTProcessChild+"="+outFile)
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
	var rr, other, starters, startersAll int
	var notify, fifo string
	if _, err := fmt.Sscanf(res, "rr %d other %d starters %d of %d notify %s fifo %s", &rr, &other, &starters, &startersAll, &notify, &fifo); err != nil {
		t.Fatalf("child: %q: %v\n%s", res, err, out)
	}
	t.Logf("child: %s", res)
	if other != 0 || starters != spawnThreads || startersAll != spawnThreads || rr < 2 || notify != "0" || fifo != "0" {
		t.Errorf("child: %q; want every thread under SCHED_RR (other 0) but the %d command starters', all under SCHED_OTHER (starters %d of %d), and the notify command and the notify_fifo_script under SCHED_OTHER (notify 0, fifo 0)\n%s",
			res, spawnThreads, spawnThreads, spawnThreads, out)
	}
}
