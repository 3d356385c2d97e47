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
	cmds := []struct{ name, cmd string }{{"true", "true"}, {"script", script}}
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
	for _, c := range cmds {
		b.Run(c.name+"/notifier", func(b *testing.B) { notifierRun(b, c.cmd) })
		for _, par := range []int{8, 32, 0} {
			name := fmt.Sprintf("%s/exec-%d", c.name, par)
			if par == 0 {
				name = c.name + "/exec-all"
			}
			b.Run(name, func(b *testing.B) { execRun(b, c.cmd, par) })
		}
	}
	if err := startSpawner(); err != nil {
		b.Fatal(err)
	}
	for _, c := range cmds {
		b.Run(c.name+"/notifier-spawner", func(b *testing.B) { notifierRun(b, c.cmd) })
	}
}
