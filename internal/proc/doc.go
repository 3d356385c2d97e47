// Package proc holds the process helpers the integration test harnesses
// share (internal/keepalived, internal/vrrpdtest): crashing a process
// together with everything it started, by PID, and waiting until none of
// it can run any more. They read /proc, so they exist on Linux only.
package proc
