package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNotifyCommandNice: a notify command (shellRun with the notifier's
// withLowPriority) runs commandNice nicer than vrrpd, and so do the
// processes it starts; a track script (shellRun without it) runs at
// vrrpd's own. A takeover storm of thousands of transitions starts
// thousands of shells, which must take the CPU the protocol leaves, not
// the protocol's (issue 12). Fails before: the command ran at vrrpd's
// nice.
func TestNotifyCommandNice(t *testing.T) {
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	own := 20 - prio
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want int
	}{
		{"notify command", withLowPriority(context.Background()), min(own+commandNice, 19)},
		{"track script", context.Background(), own},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "nice")
			// cut is a child of the shell: its nice is what the shell had
			// when it started it. Field 19 of /proc/PID/stat is the nice
			// value ("cut" has no space in its name).
			if err := shellRun(tc.ctx, "cut -d' ' -f19 /proc/self/stat > "+out, nil); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("nice %q: %v", b, err)
			}
			if got != tc.want {
				t.Errorf("nice %d, want %d (vrrpd's is %d)", got, tc.want, own)
			}
		})
	}
}
