package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govrrp/govrrp/transport/memnet"
)

// logRecords keeps what a slog.Logger logs, as JSON records.
type logRecords struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logRecords) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logRecords) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// records returns the records logged with message msg.
func (l *logRecords) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// count returns the number of records logged with message msg.
func (l *logRecords) count(t testing.TB, msg string) int { return len(l.records(t, msg)) }

// Issue 12: at shutdown, the STOP commands of 4,094 virtual routers took
// minutes, 8 at a time, and vrrpd missed its stop deadline. close now
// runs what is queued shutdownWorkers at a time, for at most the notify
// timeout in all; then it kills what runs, runs nothing more and says so
// in one log line. Those of one virtual router still run in order. Time
// is the bubble's fake clock: before, close took 4,097 / 8 command times
// (512 s).
func TestNotifierShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			cmdTime = 1500 * time.Millisecond // none ends at the deadline itself
			timeout = 10 * time.Second
			vrs     = 4094
		)
		var mu sync.Mutex
		running, most, ran := 0, 0, 0
		perKey := map[string][]string{}
		n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			defer func() {
				mu.Lock()
				running--
				mu.Unlock()
			}()
			select {
			case <-time.After(cmdTime):
			case <-ctx.Done():
				return fmt.Errorf("killed with its process group: %w", ctx.Err())
			}
			mu.Lock()
			ran++
			perKey[args[1]] = append(perKey[args[1]], args[2])
			mu.Unlock()
			return nil
		}, timeout, (&logRecords{}).logger())
		var log logRecords
		n.log = log.logger()
		// Three of one virtual router first: they run one after another.
		for _, s := range []string{"BACKUP", "MASTER", "STOP"} {
			n.notify("notify", notifyArgs(false, "VI_0", s, 100))
		}
		for i := 1; i < vrs; i++ {
			n.notify("notify", notifyArgs(false, fmt.Sprintf("VI_%d", i), "STOP", 100))
		}
		start := time.Now()
		n.close()
		took := time.Since(start)
		if took > timeout {
			t.Errorf("close took %v with %d commands of %v queued; want at most the notify timeout, %v", took, vrs+2, cmdTime, timeout)
		}
		if most != shutdownWorkers {
			t.Errorf("at most %d commands ran at once at shutdown; want %d", most, shutdownWorkers)
		}
		if diff := cmp.Diff([]string{"BACKUP", "MASTER", "STOP"}, perKey["VI_0"]); diff != "" {
			t.Errorf("VI_0's commands (-want +got):\n%s", diff)
		}
		cut := log.records(t, "shutdown: notify commands cut at the deadline")
		if len(cut) != 1 {
			t.Fatalf("%d log lines of the commands cut; want 1", len(cut))
		}
		killed, notRun := int(cut[0]["killed"].(float64)), int(cut[0]["not_run"].(float64))
		if killed != shutdownWorkers || ran+killed+notRun != vrs+2 {
			t.Errorf("%d commands ran, %d killed, %d not run; want %d killed (those running) and %d in all", ran, killed, notRun, shutdownWorkers, vrs+2)
		}
		if c := log.count(t, "notify command failed"); c != 0 {
			t.Errorf("%d lines for single commands killed at the deadline; want only the one line", c)
		}
		if _, failed := n.figures(); failed != uint64(killed) {
			t.Errorf("%d commands counted failed; want the %d killed", failed, killed)
		}
	})
}

// The deadline cuts nothing that fits: commands queued at close that end
// within the notify timeout all run, as before, and nothing is logged.
func TestNotifierShutdownInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		got := map[string][]string{} // by virtual router
		var log logRecords
		n := newNotifier(func(ctx context.Context, cmd string, args []string) error {
			select {
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			got[args[1]] = append(got[args[1]], args[2])
			mu.Unlock()
			return nil
		}, 10*time.Second, log.logger())
		n.notify("notify", notifyArgs(false, "VI_1", "MASTER", 100))
		n.notify("notify", notifyArgs(false, "VI_1", "STOP", 100))
		n.notify("notify", notifyArgs(false, "VI_2", "STOP", 100))
		n.close()
		want := map[string][]string{"VI_1": {"MASTER", "STOP"}, "VI_2": {"STOP"}}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("commands run (-want +got):\n%s", diff)
		}
		if c := log.count(t, "shutdown: notify commands cut at the deadline"); c != 0 {
			t.Errorf("%d lines of commands cut; want none", c)
		}
	})
}

func TestDirectArgv(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string // nil: through /bin/sh
	}{
		{"/etc/keepalived/notify.sh", []string{"/etc/keepalived/notify.sh"}},
		{" /usr/bin/notify --verbose\tx=1 a,b:c@d%e+f ", []string{"/usr/bin/notify", "--verbose", "x=1", "a,b:c@d%e+f"}},
		{"./notify.sh", []string{"./notify.sh"}},
		{"true", nil},                      // a builtin
		{"notify.sh", nil},                 // looked up in PATH by the shell
		{"A=/bin/x /bin/notify", nil},      // an assignment
		{"/bin/notify $HOME", nil},         // an expansion
		{"/bin/notify 'a b'", nil},         // quoting
		{"/bin/notify; /bin/other", nil},   // a separator
		{"/bin/notify\n/bin/other", nil},   // a newline separates commands
		{"/bin/notify >/tmp/x", nil},       // a redirection
		{"/bin/notify *", nil},             // a glob
		{"/bin/notify # comment", nil},     // a comment
		{"~/notify", nil},                  // a tilde
		{"/bin/notify && /bin/other", nil}, // a list
		{"", nil},
	}
	for _, tc := range tests {
		got, ok := directArgv(tc.cmd)
		if ok != (tc.want != nil) || !cmp.Equal(got, tc.want) {
			t.Errorf("directArgv(%q) = %q, %v; want %q", tc.cmd, got, ok, tc.want)
		}
	}
}

// Issue 12, the daemon: 500 virtual routers whose STOP notify command
// takes 2 s. vrrpd's shutdown (Run returning after ctx is cancelled)
// takes at most the notify timeout more than the Router's own; before,
// it ran every STOP command, 8 at a time: 125 s. Time is the bubble's
// fake clock.
func TestDaemonShutdownSlowStopNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const vrs = 500
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		var c Config
		for i := range vrs {
			vrid := uint8(i%250 + 1)
			vip := fmt.Sprintf("10.0.1.%d", vrid)
			if i >= 250 {
				vip = fmt.Sprintf("fd00::%d", vrid)
			}
			c.Instances = append(c.Instances, inst(fmt.Sprintf("VI_%d", i), vrid, 150, vip))
		}
		c.NotifyTimeout = 10 * time.Second
		var mu sync.Mutex
		stops := 0
		run := func(ctx context.Context, cmd string, args []string) error {
			if len(args) < 3 || args[2] != "STOP" {
				return nil
			}
			select {
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
				return fmt.Errorf("killed with its process group: %w", ctx.Err())
			}
			mu.Lock()
			stops++
			mu.Unlock()
			return nil
		}
		var log logRecords
		d := newDaemon(c, newFakeSys(lan, 1), log.logger(), nil, run)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		masters := 0
		for _, is := range d.status().Instances {
			if is.State == "MASTER" {
				masters++
			}
		}
		if masters != vrs {
			t.Fatalf("%d of %d instances MASTER before the shutdown", masters, vrs)
		}
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if limit := c.NotifyTimeout + time.Second; took > limit {
			t.Errorf("shutdown with %d STOP commands of 2 s took %v; want at most %v (the notify timeout and some slack)", vrs, took, limit)
		}
		cut := log.records(t, "shutdown: notify commands cut at the deadline")
		if len(cut) != 1 {
			t.Fatalf("%d log lines of the commands cut; want 1", len(cut))
		}
		killed, notRun := int(cut[0]["killed"].(float64)), int(cut[0]["not_run"].(float64))
		mu.Lock()
		defer mu.Unlock()
		if stops+killed+notRun != vrs || stops == 0 {
			t.Errorf("%d STOP commands ran, %d killed, %d not run; want some run and %d in all", stops, killed, notRun, vrs)
		}
	})
}
