// Package netlab builds throw-away LANs of network namespaces for
// integration tests, the Go form of /work/shared/lab/netlab.sh.
//
// A lab of N hosts is N+1 network namespaces: one holding a Linux bridge
// (br0) and, per host, a namespace whose eth0 is a veth pair attached to
// that bridge. Host i (1-based) gets
//
//	eth0  MAC 02:00:00:00:00:0i (02:00:00:00:00:ii for i > 9, in hex)
//	      10.99.0.i/24, fd99::i/64, link-local fe80::ff:fe00:i
//
// Everything lives inside namespaces the lab creates: nothing is added to
// the caller's own namespace, so two labs (or two test binaries) never
// collide, and traffic never leaves the lab. Names carry a per-lab unique
// prefix; t.Cleanup kills the processes the lab started and deletes every
// namespace, also when the test fails or panics.
//
// Labs of different processes never run at the same time: New waits for
// an exclusive lock (see lock_linux.go) that the last lab of its process
// releases, so the timing checks of one package's tests are not skewed by
// another package's flood. Labs of one process may overlap.
//
// Faults: BlockVRRP, LossVRRP, DropVRRPFrom and Partition drop VRRP with
// nftables inside the hosts; SetMcastFlood and SetLink act on the links.
// Host.Impair delays, jitters, duplicates, reorders and loses every frame
// of one host's link, both ways, through a user-space relay (see
// ImpairedLink): the lab's kernel has no sch_netem for `tc netem`.
//
// The privileged suite. Everything that needs root, namespaces, external
// programs (keepalived, tcpdump, tshark, nft) or wall-clock timing runs
// only when GOVRRP_PRIVILEGED=1 is set: the README's `go test ./...` skips
// it, on any machine, as root or not, so that command stays fast and
// deterministic. With the variable set a test that cannot run (not root, a
// missing tool) fails instead of skipping:
//
//	sudo GOVRRP_PRIVILEGED=1 go test -count=1 -timeout 40m ./...
//
// Tests call New (or RequirePriv), which does that check first.
//
// Nothing left behind: namespace names start with "gv-" followed by the
// owning test process's PID, so the first lab of every test process
// removes what a killed or timed-out run left (namespaces of processes
// that no longer exist, and every process still running in them; see
// reap_linux.go). Processes a lab starts die with the test process
// (PR_SET_PDEATHSIG), and shortly before the test binary's -timeout
// expires every lab still open is torn down, since a timed-out test
// binary runs no Cleanup.
package netlab

import (
	"os"
	"os/exec"
	"testing"
)

// EnvPrivileged is the environment variable that runs the privileged
// suite: set it to 1.
const EnvPrivileged = "GOVRRP_PRIVILEGED"

// MustRun reports whether the privileged suite was asked for
// (GOVRRP_PRIVILEGED=1): its tests then run, and fail rather than skip
// when something they need is missing.
func MustRun() bool { return os.Getenv(EnvPrivileged) == "1" }

// skipUnprivileged skips t unless the privileged suite was asked for.
func skipUnprivileged(t testing.TB) {
	t.Helper()
	if !MustRun() {
		t.Skipf("netlab: privileged suite (namespaces, raw sockets, external programs, wall-clock timing): run it as root with %s=1 go test ./... (see README, \"Tests\")", EnvPrivileged)
	}
}

// RequireRealTime skips t unless the privileged suite was asked for
// (GOVRRP_PRIVILEGED=1): for tests that need no privileges but are paced
// by the wall clock, and so have no place in the README's deterministic
// `go test ./...`.
func RequireRealTime(t testing.TB) {
	t.Helper()
	skipUnprivileged(t)
}

// SkipOrFail fails t with the given reason when the privileged suite was
// asked for (GOVRRP_PRIVILEGED=1), and skips it otherwise. Every test that
// needs privileges or tools it cannot install goes through it.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if MustRun() {
		t.Fatalf("netlab: "+format+" (%s=1: the privileged suite must run, not skip)", append(args, EnvPrivileged)...)
	}
	t.Skipf("netlab: "+format+" (skipping; with %s=1 this is a failure)", append(args, EnvPrivileged)...)
}

// RequireTool skips t, unless the privileged suite was asked for
// (GOVRRP_PRIVILEGED=1), and then fails it when the named program is not
// on PATH. netlab never installs anything: .ci/deps does.
func RequireTool(t testing.TB, name string) {
	t.Helper()
	skipUnprivileged(t)
	if _, err := exec.LookPath(name); err != nil {
		SkipOrFail(t, "%s not found on PATH: install it to run this test", name)
	}
}
