// Package chaos holds the project's integration and chaos tests on real
// raw sockets in network namespaces (project issues 4, "Integration tests
// as root", and 7, "Chaos on real sockets"). It has no API: everything is
// in its _test files, Linux only.
//
// # Running
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/chaos -v
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/chaos -run TestChaos -v
//	sudo GOVRRP_PRIVILEGED=1 GOVRRP_CHAOS_SEED=1795632975954668819 go test ./internal/chaos -run TestChaos -v
//
// The tests need root (network namespaces, raw sockets), iproute2, nft,
// tcpdump and tshark, and keepalived for TestChaos/keepalived (Debian:
// apt-get install iproute2 nftables tcpdump tshark keepalived). Without
// them they skip, and fail instead when GOVRRP_PRIVILEGED=1.
// TestChaos, TestFlood and TestImpairedLink build examples/vrrpd once
// into a temporary directory and run it with internal/vrrpdtest. Every
// test builds its own netlab LAN (namespace prefixes "crt", "cha", "cfl",
// "cim") and removes it, and kills every process it started, by PID, also
// on failure. The whole package takes a little over a minute on a 2-core
// machine (TestChaos 45 s, TestFlood 12 s, TestImpairedLink 11 s,
// TestRouter 9 s). All traffic stays inside the namespaces: 224.0.0.18
// and the lab's 10.99.0.0/24, fd99::/64 and link-local addresses.
//
// Assertions are behavioural; timing figures are logged (t.Logf). The
// only timing assertions are the RFC's bounds with a generous margin:
// a takeover within the taker's Master_Down_Interval plus max(100ms, 50%),
// measured on the wire, and advertisement gaps under flood below two
// intervals. On a loaded machine every process waits for a CPU, the
// daemons too: a scheduling probe (keepalived.SchedProbe) measures how
// late the test process wakes up and how long each daemon's threads
// waited for a CPU (/proc/PID/task/TID/schedstat), and a timing bound
// exceeded by no more than keepalived.LoadFactor times the probe's worst
// delay, or than a daemon's CPU wait, in that window is logged as LOADED
// instead of failed.
// Correctness (who is master, who holds the address, transitions,
// counters against what was sent) is always asserted. The flood's rate
// is reported; its checks use what was actually sent. Each test fails
// at once, before it starts anything, when less time is left before go
// test's -timeout than it can take on a loaded machine
// (keepalived.RequireTime), so that no test is cut short without its
// cleanups.
//
// # What each test proves
//
// TestRouter (library level, in process): vrrp.Router instances, one per
// lab host, on transport raw sockets opened inside each host's namespace
// (netlab.Host.Do) with 100 ms advertisements; IPv4 and IPv6, multicast
// and unicast peers, two and three routers. The highest priority starts
// first and becomes Master (Take and Announce hooks called, no one else
// took the addresses); the others, started then, stay Backup with only the Initialize->Backup
// event, receive the master's advertisements and send none. Then the
// masters are stopped one by one by cancelling Run's context: the stopped
// one ends with Master->Initialize (shutdown), released its addresses, sent
// exactly one priority-0 advertisement and counted no receive or send
// errors; every remaining router counted the priority-0 advertisement;
// the next highest becomes Master for masterNoResponse within the bound
// (in practice Skew_Time after the priority 0), and the rest stay Backup.
//
// TestChaos (three vrrpd; vrrpd with keepalived as the lowest priority
// peer; three vrrpd over IPv6): three speakers (priorities 200, 150, 100,
// VRRPv3, 100 ms; one IPv4 address, or a link-local and a global IPv6
// one) and an observer capturing the LAN, through a seeded
// sequence of eight faults drawn from: kill -9 of the master (and half the
// time of its successor too) then restart; carrier loss on the master
// (eth0 down, the master must go to FAULT and drop the address) then link
// up; 20-50% random loss of VRRP on one host (nftables) for 1-2.5 s; a
// partition of the master from the others (nftables on every host, links
// up); multicast flooding turned off on one host's bridge port. After each
// fault and after its repair the LAN must settle (within a 5 s hang guard)
// with the address on exactly one live host, in MASTER, the highest
// priority one, and the others in BACKUP without it; during a partition
// or a muted backup each side has one master. From the capture: every
// takeover came within the taker's Master_Down_Interval plus
// max(100ms, 50%) of the old master's last advertisement; every time a
// host started advertising as master (first advertisement after three
// silent intervals) it sent a gratuitous ARP (IPv6: an unsolicited NA)
// for the address within 1 s;
// a killed daemon sent nothing until restarted; while a master with
// multicast flooding off kept its role nobody else advertised and its
// advertisements kept their pace. After SIGTERM to all, nothing is left on
// the VRRP hosts: no virtual address, no process, no macvlan. A killed
// daemon leaves its address behind (nothing runs to remove it); the test
// removes it before the restart, as a reboot would. The seed is logged at
// the start and again on failure; GOVRRP_CHAOS_SEED replays it.
//
// TestFlood: a Go flooder on a third host sends up to 100,000 packets per
// second (sendmmsg batches on a plain ip4:112 socket, paced by the
// clock) of VRRPv3 advertisements for the LAN's VRID with a wrong
// checksum, packets of versions 1, 4 and 15, one-byte packets, random
// garbage and valid advertisements for other VRIDs, to 224.0.0.18
// ("multicast": master and backup both receive it) or to the backup's
// address ("unicast"), until 4 s after the election settled (about 5 s
// in all; never more than 30 s). vrrpd on host 1 (200) starts while the
// flood runs and becomes master alone, then vrrpd on host 2 (100): host 1
// must stay master and, until the flood ends, no
// transition happens on either host, host 1's advertisements keep their
// pace (largest gap below two intervals, on an observer's capture that
// leaves the flooder's frames out) and host 2 sends none. Host 2's
// router counters (status JSON) grow by what was sent in the window, per
// kind: ChecksumErrors, VersionErrors, ShortPackets, VRIDErrors, never by
// more; counted plus the kernel's drops (the raw socket's drops in
// /proc/net/raw, the input backlog's in /proc/net/softnet_stat) must
// account for at least 80% of the flood. The achieved rate is logged: on
// a 2-core machine the multicast flood, which the kernel delivers to three
// hosts, reaches 55,000-65,000 packets per second, the unicast one
// 70,000-100,000.
//
// TestImpairedLink: delay, jitter, duplication and reordering on a real
// link, which this kernel cannot make (no sch_netem): netlab's user-space
// relay (netlab.Host.Impair) sits between the master's eth0 and the
// bridge. "mild": vrrpd on three hosts (200, 150, 100; VRRPv3, 100 ms)
// and an observer; for 4 s the master's link delays frames 15 ms +- 5 ms,
// duplicates 30% and holds 25% back by 120 ms (so that a held
// advertisement arrives after the next one), both ways. Advertisements
// carry no sequence number, so a backup cannot tell a duplicate or a late
// one from a fresh one, and the longest silence the relay can cause
// (230 ms) stays below either backup's Master_Down_Interval: the RFC
// predicts no visible effect. Checked: no transition on any host, exactly
// one master and the address on it at every poll, the relay's counters
// and the capture show duplicates and reordering, each backup's
// RcvdAdvertisements grew by exactly the master's advertisements on the
// wire in the same time (duplicates included, plus or minus 3) and none
// of their error counters, MasterTransitions or SentAdvertisements moved.
// "delay-over-master-down": vrrpd on two hosts (200, 100) and an
// observer. A 1 s delay on the master's link makes the backup take over
// after its Master_Down_Interval (measured on the wire: between 3
// intervals and the bound above) while the master stays master (split
// brain, both holding the address: the master hears the other's
// lower-priority adverts late and discards them); about 1 s in, the
// delayed adverts of priority 200 arrive and the backup returns to Backup
// with the delay still on (RFC 9568 section 6.4.3), after which a
// constant delay changes nothing, nor does its removal. Then a 3 s delay,
// removed as soon as the split brain shows: the master's next
// advertisement, within an interval plus max(100ms, 50%) of the removal
// on the wire, ends the split at once. Host 1 never leaves Master, host
// 2's record is Backup, Master, Backup, Master, Backup, and the address
// ends on host 1 only.
package chaos
