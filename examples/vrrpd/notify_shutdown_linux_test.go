//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Issue 12, with real processes: slow STOP commands (sleep 100) queued at
// shutdown are cut at the notify timeout: close returns, every command
// it started is killed with its process group (none left behind), the
// others are not run, and one log line counts both. (Before, close ran
// them all, 8 at a time, each to its 2 s timeout: 26 s.)
func TestNotifierShutdownDeadlineKills(t *testing.T) {
	const cmds = 100
	pidFile := filepath.Join(t.TempDir(), "pids")
	var log logRecords
	n := newNotifier(shellRun, 2*time.Second, log.logger())
	for i := range cmds {
		// The shell records its PID (its group's ID), its child sleeps.
		n.notify("echo $$ >>"+pidFile+"; sleep 100; true", notifyArgs(false, "VI_"+strconv.Itoa(i), "STOP", 100))
	}
	closed := make(chan struct{})
	go func() { n.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute): // a hang guard, not a timing bound
		t.Fatal("notifier close did not return")
	}
	pids := readPids(pidFile)
	if len(pids) == 0 {
		t.Fatal("no command started within the 2s notify timeout")
	}
	for _, p := range pids {
		waitGone(t, p, []int{p})
	}
	cut := log.records(t, "shutdown: notify commands cut at the deadline")
	if len(cut) != 1 {
		t.Fatalf("%d log lines of the commands cut; want 1", len(cut))
	}
	// A command started before close reaches its own timeout before
	// close's deadline: it fails alone, with a line of its own.
	killed, notRun := int(cut[0]["killed"].(float64)), int(cut[0]["not_run"].(float64))
	timedOut := log.count(t, "notify command failed")
	if killed+timedOut < len(pids) || killed > shutdownWorkers || killed+timedOut+notRun != cmds {
		t.Errorf("%d killed, %d timed out, %d not run, %d started; want every one started killed or timed out, at most %d killed, and %d in all",
			killed, timedOut, notRun, len(pids), shutdownWorkers, cmds)
	}
}

// A command that is a path and plain words is started without /bin/sh
// (directArgv) and gets the same arguments; a script without "#!" still
// runs as a shell script; one that needs the shell gets it.
func TestShellRunDirect(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	withHash := filepath.Join(dir, "with-hash.sh")
	noHash := filepath.Join(dir, "no-hash.sh")
	body := "echo \"$(basename $0) $*\" >>" + out + "\n"
	if err := os.WriteFile(withHash, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noHash, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	args := notifyArgs(false, "VI_1", "MASTER", 100)
	for _, cmd := range []string{withHash + " -v", noHash + " -v", "cd / && " + withHash + " -v"} {
		if err := shellRun(context.Background(), cmd, args); err != nil {
			t.Errorf("%q: %v", cmd, err)
		}
	}
	if err := shellRun(context.Background(), filepath.Join(dir, "missing.sh"), args); err == nil {
		t.Error("a missing program ran")
	}
	b, _ := os.ReadFile(out)
	want := "with-hash.sh -v INSTANCE VI_1 MASTER 100\nno-hash.sh -v INSTANCE VI_1 MASTER 100\nwith-hash.sh -v INSTANCE VI_1 MASTER 100\n"
	if string(b) != want {
		t.Errorf("recorded %q; want %q", b, want)
	}
}
