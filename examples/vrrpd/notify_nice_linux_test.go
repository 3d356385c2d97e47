//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// shellRun runs a command at the niceness its context asks for, and its
// children inherit it; without, at the test's own. Both the direct start
// and /bin/sh.
func TestShellRunNice(t *testing.T) {
	own, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Linux's getpriority returns 20 - nice.
	ownNice := 20 - own
	for _, tc := range []struct {
		name string
		nice int
		want int
	}{
		{"asked", min(ownNice+5, 19), min(ownNice+5, 19)},
		{"none", 0, ownNice},
	} {
		for _, form := range []string{"direct", "shell"} {
			t.Run(tc.name+"/"+form, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "stat")
				// cat is the command's child in the shell form (a
				// pipeline), the command itself in the direct one.
				cmd := "/bin/cp /proc/self/stat " + out
				if form == "shell" {
					cmd = "cat /proc/self/stat > " + out
				}
				ctx := withNice(context.Background(), tc.nice)
				if err := shellRun(ctx, cmd, nil); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				// Field 19 of /proc/PID/stat is the niceness; the
				// fields after the command name (field 2, in
				// parentheses) start at 3.
				s := string(b)
				f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
				if len(f) < 17 {
					t.Fatalf("stat %q", s)
				}
				if got, _ := strconv.Atoi(f[16]); got != tc.want {
					t.Errorf("the command ran at niceness %d; want %d", got, tc.want)
				}
			})
		}
	}
}
