package vrrpdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestReapBuildDirs: the build directory of a test process that was
// killed (its PID gone) is removed by the next Build; one of a live
// process, and anything else, is left alone.
func TestReapBuildDirs(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no kill(2)")
	}
	dir := t.TempDir()
	c := exec.Command(os.Args[0], "-test.run=^$")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("%s%d-123", buildDirPrefix, c.Process.Pid)
	live := fmt.Sprintf("%s%d-456", buildDirPrefix, os.Getppid())
	for _, d := range []string{dead, live, "govrrp-vrrpd-123456", "other"} {
		if err := os.MkdirAll(filepath.Join(dir, d, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	reapBuildDirs(dir)
	for d, want := range map[string]bool{dead: false, live: true, "govrrp-vrrpd-123456": true, "other": true} {
		_, err := os.Stat(filepath.Join(dir, d))
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", d, got, want)
		}
	}
}
