// Package vrrpdtest runs the example daemon, examples/vrrpd, inside the
// network namespaces of an internal/netlab lab, for the integration tests
// of several packages (internal/interop, internal/chaos, examples/vrrpd).
//
// Build compiles the daemon once per test process; Start runs it on a lab
// host (`ip netns exec`, in its own process group) with a notify script
// (internal/keepalived.WriteNotifyScript: one "EPOCH INSTANCE NAME STATE
// PRIO" line per transition) and a JSON status endpoint on a unix socket,
// its standard output and error going to a log file. The returned Proc
// reads its state both ways (notify record: Transitions, LastState,
// WaitState; status endpoint: Status, State), stops it with SIGTERM (Stop:
// priority 0 advertisement, virtual addresses removed, exit status 0) or
// crashes it with SIGKILL by PID (Kill), and tells whether the host holds
// an address (HasVIP, through `ip -n`). A Cleanup kills whatever is left
// and logs the daemon's output and notify record when the test failed.
//
// The tests that use it need root: Build and Start skip without it (or
// when the daemon does not build), and fail instead under GOVRRP_PRIVILEGED=1. The process parts exist on Linux only; on other
// systems Start skips.
package vrrpdtest
