// Command simulate runs VRRP routers on a simulated LAN, in memory and
// without root, and checks each step against RFC 9568:
//
//	go run ./examples/simulate
//	go run ./examples/simulate -routers 5 -interval 10ms
//	go run ./examples/simulate -loss 0.2 -seed 7
//	go run ./examples/simulate -realtime
//
// Three routers (priorities 200, 150 and 100; -routers N for more), each
// with a VRRPv3 IPv4 and a VRRPv3 IPv6 virtual router, go through:
//
//  1. an election: the highest priority becomes master after
//     Master_Down_Interval = 3 x interval + Skew_Time;
//  2. the master crashes: the next backup takes over exactly
//     Master_Down_Interval after the last advertisement it heard;
//  3. the old master returns and preempts;
//  4. a graceful shutdown of the master: its priority-0 advertisement
//     lets the next backup take over after Skew_Time;
//  5. the old master returns again;
//  6. a partition: each side elects a master (split brain);
//  7. the partition heals, timed so that the lower-priority side speaks
//     first: the master hears a lower priority and re-advertises at once
//     (RFC 9568 section 6.4.3), ending the split brain immediately.
//
// It prints a timeline (virtual time, router, virtual router, state
// change and reason, priority-0 advertisements and announcements), checks
// who is master and the exact takeover time at each step, prints PASS or
// FAIL for each check, and a summary table of the RFC 6527 counters. It
// exits 0 when every check passed.
//
// The simulator (internal/sim) drives the pure vrrp.Machine with virtual
// time; advertisements are marshalled and parsed with package packet.
// The run takes a moment of real time; -realtime paces the same event
// loop with real sleeps, to watch it live. With -loss, times that
// depend on a particular advertisement arriving become bounds, and are
// labelled so.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout))
}
