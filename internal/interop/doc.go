// Package interop holds the interoperability tests of the project's daemon,
// examples/vrrpd, against keepalived and against itself (project issue 6).
// It has no non-test code: the tests are in *_linux_test.go.
//
// # Running
//
// The tests need root (network namespaces, raw sockets), iproute2,
// keepalived, tcpdump, tshark and nft (Debian: apt-get install keepalived
// tcpdump tshark nftables; CI installs them in .ci/run). Without them they
// skip with a message naming what is missing; with CI=true or
// GOVRRP_REQUIRE_PRIV=1 they fail instead. From the module root:
//
//	sudo go test ./internal/interop -v
//	sudo go test ./internal/interop -v -run 'TestLifecycle/v3-ipv4$'
//	sudo go test ./internal/interop -v -run 'TestLifecycle|TestEqual' 2>&1 | grep MEASURED
//	sudo GOVRRP_INTEROP_BASELINE=1 go test ./internal/interop -v -run '/h1-keepalived_h2-keepalived'
//
// The first test builds vrrpd once (internal/vrrpdtest: `go build -o
// TMPDIR/vrrpd ./examples/vrrpd`, from the module root `go env GOMOD`
// names); if it does not build, the tests skip (fail under CI) with the
// compiler's output.
// The whole package takes about two minutes: the VRRPv3 runs (100 ms
// intervals) one after the other, then the VRRPv2 runs (1 s, the protocol's
// minimum) side by side; TestMain raises -parallel to 8 for that unless the
// command line sets it.
//
// Every run builds a fresh 3-host netlab LAN (namespace prefix "iop",
// removed afterwards, also on failure): hosts 1 and 2 run vrrpd or
// keepalived, host 3 runs no VRRP and captures with tcpdump
// (keepalived.StartCapture). Timing is measured on that capture, not
// from the daemons' logs; each measured figure is logged as a line
// starting with MEASURED. Timing assertions allow the RFC figure plus or
// minus max(50 ms, 20%): they prove the behaviour, not the latency (that is
// what benchmarks are for).
//
// BenchmarkCrashTakeover reports the crash takeover time (VRRPv3, IPv4,
// 100 ms) per pairing as ms/takeover, keepalived against itself included:
//
//	sudo go test ./internal/interop -run '^$' -bench CrashTakeover -benchtime 5x
//
// GOVRRP_INTEROP_BASELINE=1 adds keepalived against keepalived to every
// scenario: the reference that the tests' own expectations are checked
// against.
//
// # keepalived version
//
// Tested with Debian 12's keepalived 2.2.7 ("Keepalived v2.2.7
// (01/16,2022)") and tshark 4.0. keepalived 2.2.7 has no
// v3_checksum_as_v2 keyword: it sends and accepts only the pseudo-header
// form of the VRRPv3 IPv4 checksum, so against it vrrpd runs with
// -checksum pseudo, and the RFC 9568 message-only form is tested vrrpd
// against vrrpd. tshark 4.0 checks the pseudo-header form unless given
// -o vrrp.v3_checksum_as_in_v2:TRUE; the tests ask it both ways and
// expect it to call each form good in exactly one of them.
//
// # What the tests prove
//
// Each scenario runs in every setup: VRRPv3 over IPv4 (pseudo-header
// checksum), VRRPv3 over IPv6, VRRPv3 over IPv4 with unicast peers (the
// observer is a third peer, so that it sees the unicast adverts),
// VRRPv2, VRRPv2 with simple text password authentication (RFC 2338
// auth_type PASS); and in every pairing: vrrpd on host 1 with keepalived
// on host 2, the reverse, and vrrpd on both. Two setups run vrrpd
// against vrrpd only: both sending the RFC 9568 message-only checksum,
// and host 1 sending it while host 2 sends the pseudo-header form (each
// must accept the other's form in every role).
//
// TestLifecycle, host 1 at priority 150 and host 2 at 100:
//
//   - Election: host 1 starts first and becomes master; host 2 starts
//     later and stays backup for longer than its Master_Down_Interval,
//     sending nothing; the VIP is on host 1 only.
//   - Crash: host 1 is killed with SIGKILL. Host 2 takes over within
//     Master_Down_Interval = 3 * Master_Adv_Interval + Skew_Time (RFC
//     9568 Section 6.1; RFC 3768 Section 6.1), measured from host 1's
//     last advert to host 2's first, and the observer sees a gratuitous
//     ARP / unsolicited NA for the VIP from host 2. The killed daemon
//     sends nothing more.
//   - Preemption (RFC 9568 Section 6.4.2): host 1 starts again, takes
//     over with priority 150 and announces the VIP; host 2 stops
//     advertising and drops the VIP.
//   - Priority 0 (RFC 9568 Section 6.4.3): SIGTERM to host 1; it sends a
//     priority 0 advert, removes the VIP and exits (vrrpd with status 0);
//     host 2 takes over within Skew_Time of that advert and announces the
//     VIP.
//   - No preemption: host 1 starts again with nopreempt and stays backup,
//     silent, for longer than its Master_Down_Interval.
//   - Every advert on the wire, decoded by package packet and by tshark:
//     TTL / hop limit 255, version, VRID, interval, the VIP as the address
//     list, the multicast group (or the unicast peers) as destination, the
//     authentication data, and the checksum form each sender must use.
//
// TestEqualPriority: both hosts at priority 100 become master while VRRP
// is blocked between them (nftables); when it is unblocked, host 2, the
// higher primary address, stays master and host 1 becomes backup within
// about one advertisement interval (RFC 9568 Section 6.4.3, RFC 3768
// Section 6.4.3); the VIP ends up on host 2 only.
package interop
