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
// Tests call New, which skips the test when the process cannot create
// namespaces (not root, no iproute2) — or fails it when the environment
// says privileged tests must run (CI=true or GOVRRP_REQUIRE_PRIV=1).
package netlab

import (
	"os"
	"os/exec"
	"testing"
)

// MustRun reports whether privileged tests must run rather than skip:
// CI=true or GOVRRP_REQUIRE_PRIV=1.
func MustRun() bool {
	return os.Getenv("CI") == "true" || os.Getenv("GOVRRP_REQUIRE_PRIV") == "1"
}

// SkipOrFail skips t with the given reason, or fails it when privileged
// tests are required (CI=true or GOVRRP_REQUIRE_PRIV=1). Every test that
// needs privileges or tools it cannot install goes through it.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if MustRun() {
		t.Fatalf("netlab: "+format+" (CI=true or GOVRRP_REQUIRE_PRIV=1: privileged tests must run)", args...)
	}
	t.Skipf("netlab: "+format+" (skipping; set GOVRRP_REQUIRE_PRIV=1 to make this a failure)", args...)
}

// RequireTool skips t (or fails it under CI=true / GOVRRP_REQUIRE_PRIV=1)
// when the named program is not on PATH. netlab never installs anything.
func RequireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		SkipOrFail(t, "%s not found on PATH: install it to run this test", name)
	}
}
