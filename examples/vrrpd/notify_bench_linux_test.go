//go:build linux

package main

import (
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
)

// BenchmarkNotifyThroughput runs b.N notify commands, one per virtual
// router (as the STOP commands at shutdown, or the BACKUP ones at
// start-up of b.N instances), through vrrpd's notifier, and the same
// commands through os/exec directly as the baseline, in one run:
//
//	go test ./examples/vrrpd -run XXX -bench BenchmarkNotifyThroughput -benchtime 4094x
//
// The commands: "true" (/bin/sh -c 'true "$@"'), and the notify script of
// the scale harness (internal/keepalived.WriteNotifyScript: one line with
// $(date) appended to a file). cmds/s is the figure; "spawner" starts the
// commands as vrrpd does with rt_priority (startCommand from SCHED_OTHER
// threads), once started it stays for the rest of the process, so it
// runs last.
func BenchmarkNotifyThroughput(b *testing.B) {
	script, err := keepalived.WriteNotifyScript(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cmds := []struct{ name, cmd string }{{"true", "/bin/true"}, {"script", script}}
	args := func(i int) []string { return notifyArgs(false, fmt.Sprintf("VI_%d", i), "STOP", 100) }
	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cmds/s")
	}
	notifierRun := func(b *testing.B, cmd string) {
		n := newNotifier(shellRun, time.Minute, discard())
		start := time.Now()
		for i := range b.N {
			n.notify(cmd, args(i))
		}
		n.close()
		report(b, start)
		if _, f := n.figures(); f != 0 {
			b.Fatalf("%d commands failed", f)
		}
	}
	// execRun runs the commands as shellRun's /bin/sh does, with plain
	// os/exec (Run: no process group, no output pipe), at most par at a
	// time; 0: all at once.
	execRun := func(b *testing.B, cmd string, par int) {
		if par == 0 {
			par = b.N
		}
		sem := make(chan struct{}, par)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		start := time.Now()
		for i := range b.N {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				c := exec.Command("/bin/sh", append([]string{"-c", cmd + ` "$@"`, "vrrpd-notify"}, args(i)...)...)
				if err := c.Run(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		report(b, start)
		if firstErr != nil {
			b.Fatal(firstErr)
		}
	}
	// withSpawner runs f with commands started from a pool of n
	// SCHED_OTHER threads, as with rt_priority (spawnThreads).
	withSpawner := func(b *testing.B, n int, f func()) {
		if spawner.pool.Load() != nil {
			b.Skip("the process's spawner is started")
		}
		p, err := newSpawnPool(n)
		if err != nil {
			b.Fatal(err)
		}
		spawner.pool.Store(p)
		defer func() { spawner.pool.Store(nil); close(p.reqs) }()
		f()
	}
	for _, c := range cmds {
		b.Run(c.name+"/notifier", func(b *testing.B) { notifierRun(b, c.cmd) })
		// "exec CMD" is not a plain path: /bin/sh runs it, as every
		// command before issue 12.
		b.Run(c.name+"/notifier-sh", func(b *testing.B) { notifierRun(b, "exec "+c.cmd) })
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/notifier-spawner-%d", c.name, n), func(b *testing.B) {
				withSpawner(b, n, func() { notifierRun(b, c.cmd) })
			})
		}
		for _, par := range []int{8, 64, 0} {
			name := fmt.Sprintf("%s/exec-sh-%d", c.name, par)
			if par == 0 {
				name = c.name + "/exec-sh-all"
			}
			b.Run(name, func(b *testing.B) { execRun(b, c.cmd, par) })
		}
	}
}

// BenchmarkNotifyShutdown: the notifier's close with b.N STOP commands of
// the scale harness's notify script queued (4,094 virtual routers shut
// down), notify timeout 10 s (the default): how long close takes, how
// many commands ran, were killed at the deadline or not run.
//
//	go test ./examples/vrrpd -run XXX -bench BenchmarkNotifyShutdown -benchtime 4094x
func BenchmarkNotifyShutdown(b *testing.B) {
	script, err := keepalived.WriteNotifyScript(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	var log logRecords
	n := newNotifier(shellRun, defaultNotifyTimeout, log.logger())
	for i := range b.N {
		n.notify(script, notifyArgs(false, fmt.Sprintf("VI_%d", i), "STOP", 100))
	}
	start := time.Now()
	n.close()
	b.ReportMetric(time.Since(start).Seconds(), "s/close")
	killed, notRun := 0, 0
	if cut := log.records(b, "shutdown: notify commands cut at the deadline"); len(cut) == 1 {
		killed, notRun = int(cut[0]["killed"].(float64)), int(cut[0]["not_run"].(float64))
	}
	b.ReportMetric(float64(killed), "killed")
	b.ReportMetric(float64(notRun), "not-run")
	b.ReportMetric(float64(b.N-killed-notRun), "ran")
}
