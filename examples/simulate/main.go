// Command simulate runs VRRP routers on a simulated LAN, in memory and
// without root, and checks each step against RFC 9568:
//
//	go run ./examples/simulate
//	go run ./examples/simulate -routers 5 -interval 10ms
//	go run ./examples/simulate -loss 0.2 -seed 5
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
// who is master and the exact time of every takeover, step-down and
// re-advertisement of each step, prints PASS or FAIL for each check, and
// a summary table of the RFC 6527 counters. Finally it replays the whole
// trace against an independent model of RFC 9568 sections 6.4.1 to 6.4.3:
// every transition, advertisement and announcement of every router must
// be what the advertisements that router accepted make it do, at the
// instant they make it.
//
// With -loss, nothing becomes a bound: each time is still checked exactly,
// from the advertisements the router actually accepted (the simulator
// records them). A backup takes over Master_Down_Interval after the last
// advertisement it accepted, which under loss may be while its master is
// still alive; such a takeover is RFC behaviour, and is printed as a note,
// not as a step of the scenario. When loss keeps a step from happening
// (the priority-0 advertisement is lost, so there is no Skew_Time
// handover; the backup was master already before the crash; a third
// router is master when the step should have settled; the master heard
// none of the lower-priority advertisements after the heal, so there was
// no re-advertisement), the check is reported as LOSS instead of PASS,
// provided the replay finds the routers concerned right, and the run is
// inconclusive. At high loss (for example -loss 0.99) most steps are.
// Step 8 then sets the loss to 0 and checks that one master remains.
//
// Exit status: 0 when every check passed, so every step happened as RFC
// 9568 says; 1 when a check failed; 2 for bad flags; 3 when no check
// failed but loss kept a step from happening (inconclusive).
//
// The simulator (internal/sim) is the in-memory LAN of this program: each
// router is one vrrp.RawRouter, the synchronous core of vrrp.Router (the
// same demultiplexing, deadline heap and sync groups, with every input
// given its virtual time and every output collected in its Ready), driven
// on one goroutine with virtual time. Advertisements are marshalled with
// package packet and parsed by each receiver's RawRouter, and losses are
// drawn with transport/memnet's fault model (memnet.Decide), seeded by
// -seed, so a run is a pure function of its flags. The Router itself adds
// only goroutines, sockets and a clock around the RawRouter; its own
// tests run it over memnet in a testing/synctest bubble. The run takes a
// moment of real time; -realtime paces the same event loop with real
// sleeps, to watch it live.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout))
}
