// Command vrrpd is a small keepalived-like VRRP daemon built on govrrp:
// one virtual router from flags, or many from a TOML file, with sync
// groups, interface and script tracking, notify commands, a JSON status
// endpoint and SIGHUP reload. See README.md beside this file and
// vrrpd.example.toml.
//
//	vrrpd -iface eth0 -vrid 51 -priority 150 10.0.0.100/24
//	vrrpd -config /etc/vrrpd.toml -status 127.0.0.1:8080
//	vrrpd -keepalived /etc/keepalived/keepalived.conf
//	vrrpd -keepalived /etc/keepalived/keepalived.conf -print-toml
//	vrrpd -t -config /etc/vrrpd.toml
//	vrrpd -build-version
//
// -keepalived runs the VRRP part of a keepalived configuration
// (global_defs, include, vrrp_script, vrrp_instance, vrrp_sync_group):
// what vrrpd cannot do as keepalived would is an error naming the file,
// line and keyword; what is harmless to leave out (LVS sections, e-mail,
// SNMP, gratuitous ARP timing, labels, ...) is a warning. -t checks a
// configuration without privileges or side effects: exit status 0 and a
// one-line summary when it is valid, 2 and the errors when not.
// -version is the VRRP version (-version 3); -build-version prints the
// build, and so does -version when it is the only argument (package flag
// cannot give a flag an optional value, so "-version" followed by other
// flags stays an error). Without arguments vrrpd prints its usage and
// exits with status 2.
//
// It needs CAP_NET_RAW and CAP_NET_ADMIN (root).
//
// -rt-priority N (rt_priority, keepalived's vrrp_rt_priority) runs every
// thread of vrrpd under SCHED_RR at priority N, the Go runtime's threads
// included (they fire the protocol's timers and read its sockets); notify
// commands and track scripts start under the normal policy. -lock-memory
// (lock_memory, keepalived's vrrp_no_swap) locks its memory (mlockall).
// They need CAP_SYS_NICE and CAP_IPC_LOCK (or LimitMEMLOCK=infinity; see
// vrrpd.service). BENCHMARKS.md, "Real-time scheduling under CPU hogs",
// has what they change on a loaded host.
//
// Memory: vrrpd runs the Go garbage collector with GOGC=25 (the heap
// grows to 1.25 times its live data between collections, not twice, at
// a little more GC CPU: vrrpd allocates little once running) and, once
// every instance has started, returns the start-up garbage to the
// operating system (debug.FreeOSMemory), then again once a minute (a
// collection that ran during a moment's peak, such as thousands of
// instances taking over at once, would otherwise hold the RSS above the
// live heap for minutes). GOGC and GOMEMLIMIT in the environment
// override the GC policy (for example Environment=GOGC=100 in
// vrrpd.service). BENCHMARKS.md, "Memory per instance (session 6)" and
// "RSS at 4,094 instances (session 6)", has the figures.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr, hup)
	stop()
	os.Exit(code)
}
