package vrrpdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
)

// skipOrFail skips t, or fails it when privileged tests must run.
var skipOrFail = netlab.SkipOrFail

// A build is one flavour of the vrrpd binary, built at most once.
type build struct {
	race bool
	once sync.Once
	dir  string // temporary directory holding the binary
	path string
	err  error
}

var plain, race = &build{}, &build{race: true}

// Build returns the path of examples/vrrpd, built with `go build` from the
// module root (found with `go env GOMOD`) into a temporary directory the
// first time a test of the process asks for it. When it does not build,
// Build skips t, or fails it under GOVRRP_PRIVILEGED=1. The
// package's TestMain calls Main, which removes the binary afterwards.
func Build(t testing.TB) string { return plain.get(t) }

// BuildRace is Build with the race detector compiled in (`go build -race`),
// a binary of its own, also built once.
func BuildRace(t testing.TB) string { return race.get(t) }

// Main is the TestMain of a package that uses Build: it runs the tests,
// removes the binaries Build and BuildRace made and exits with the tests'
// status.
//
//	func TestMain(m *testing.M) { vrrpdtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	for _, b := range []*build{plain, race} {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
	os.Exit(code)
}

func (b *build) get(t testing.TB) string {
	t.Helper()
	b.once.Do(b.build)
	if b.err != nil {
		skipOrFail(t, "examples/vrrpd does not build: %v", b.err)
	}
	return b.path
}

func (b *build) build() {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		b.err = fmt.Errorf("go env GOMOD: %v", err)
		return
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		b.err = errors.New("go env GOMOD: not inside the module")
		return
	}
	reapBuildDirs(os.TempDir())
	if b.dir, err = os.MkdirTemp("", fmt.Sprintf("%s%d-", buildDirPrefix, os.Getpid())); err != nil {
		b.err = err
		return
	}
	bin := filepath.Join(b.dir, "vrrpd")
	args := []string{"build", "-o", bin}
	if b.race {
		args = append(args, "-race")
	}
	c := exec.Command("go", append(args, "./examples/vrrpd")...)
	c.Dir = filepath.Dir(gomod)
	if out, err := c.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("%s (in %s): %v\n%s", strings.Join(c.Args, " "), c.Dir, err, bytes.TrimSpace(out))
		return
	}
	b.path = bin
}

// buildDirPrefix starts the name of the directory Build makes, followed by
// the PID of the test process that owns it.
const buildDirPrefix = "govrrp-vrrpd-"

// reapBuildDirs removes the build directories in dir that test processes
// killed before Main's clean-up left: those whose PID is gone.
func reapBuildDirs(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), buildDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || processExists(pid) {
			continue
		}
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
