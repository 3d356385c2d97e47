// Package interop holds the interoperability tests of the project's daemon,
// examples/vrrpd, against keepalived and against itself (project issue 6).
// It has no non-test code: the tests are in *_linux_test.go.
//
// # Running
//
// The tests need root (network namespaces, raw sockets), iproute2,
// keepalived, tcpdump, tshark and nft (Debian: apt-get install keepalived
// tcpdump tshark nftables; CI installs them in .ci/run), and, for the
// keepalived runs of the RFC 9568 checksum setup, a keepalived 2.2.8 or
// later named by GOVRRP_KEEPALIVED_RFC9568 (see "keepalived versions").
// Without them they skip with a message naming what is missing; with
// GOVRRP_PRIVILEGED=1 they fail instead. From the module root:
//
//	sudo internal/keepalived/build-keepalived.sh   # once: keepalived 2.3.3 in /opt/govrrp-keepalived-2.3.3
//	export GOVRRP_KEEPALIVED_RFC9568=/opt/govrrp-keepalived-2.3.3/sbin/keepalived
//	sudo -E go test ./internal/interop -v
//	sudo -E go test ./internal/interop -v -run '/v3-ipv4-rfc9568$'
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/interop -v
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/interop -v -run 'TestLifecycle/v3-ipv4$'
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/interop -v -run 'TestLifecycle|TestEqual' 2>&1 | grep MEASURED
//	sudo GOVRRP_INTEROP_BASELINE=1 go test ./internal/interop -v -run '/h1-keepalived_h2-keepalived'
//
// The first test builds vrrpd once (internal/vrrpdtest: `go build -o
// TMPDIR/vrrpd ./examples/vrrpd`, from the module root `go env GOMOD`
// names); if it does not build, the tests skip (fail under CI) with the
// compiler's output.
// The whole package takes about two and a half minutes: the VRRPv3 runs
// (100 ms intervals) one after the other, then the VRRPv2 runs (1 s, the
// protocol's minimum) side by side; TestMain raises -parallel to 8 for that unless the
// command line sets it.
//
// Every run builds a fresh 3-host netlab LAN (namespace prefix "iop",
// removed afterwards, also on failure): hosts 1 and 2 run vrrpd or
// keepalived, host 3 runs no VRRP and captures with tcpdump
// (keepalived.StartCapture). Timing is measured on that capture, not
// from the daemons' logs; each measured figure is logged as a line
// starting with MEASURED. Timing assertions allow the RFC figure plus or
// minus max(50 ms, 20%): they prove the behaviour, not the latency (that is
// what benchmarks are for). Sooner than that is always a failure; later
// is logged as LOADED instead when a scheduling probe
// (keepalived.SchedProbe: the test process's own wake-ups, and the time
// each daemon's threads waited for a CPU) saw the machine loaded enough
// in that window to explain it. When the new master preempts, the old one may still
// announce the VIP until it has read the new master's first
// advertisement (a burst it had scheduled can be on its way), which the
// test takes from the old master's own record of leaving MASTER (its log,
// else its notify script); an announcement after that fails. A run that
// go test's -timeout would interrupt fails before it starts
// (keepalived.RequireTime).
//
// BenchmarkCrashTakeover reports the crash takeover time (VRRPv3, IPv4,
// 100 ms) per pairing as ms/takeover, keepalived against itself included:
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/interop -run '^$' -bench CrashTakeover -benchtime 5x
//
// GOVRRP_INTEROP_BASELINE=1 adds keepalived against keepalived to every
// scenario: the reference that the tests' own expectations are checked
// against.
//
// # keepalived versions
//
// Two keepalived versions are tested, with tshark 4.0:
//
//   - Debian 12's keepalived package, 2.2.7 ("Keepalived v2.2.7
//     (01/16,2022)"), the keepalived on PATH, in every setup but the RFC
//     9568 checksum one. It has no v3_checksum_as_v2 keyword: it sends and
//     accepts only the pseudo-header form of the VRRPv3 IPv4 checksum, so
//     against it vrrpd runs with -checksum pseudo.
//   - keepalived 2.3.3 (Debian 13's version; v3_checksum_as_v2 came with
//     2.2.8), built from Debian's source tarball by
//     internal/keepalived/build-keepalived.sh (VRRP only, installed in
//     /opt/govrrp-keepalived-2.3.3, never over the system keepalived; about
//     20 s), in the v3-ipv4-rfc9568 setup only, with v3_checksum_as_v2 in
//     its vrrp_instance, against vrrpd -checksum rfc9568. The tests take it
//     from GOVRRP_KEEPALIVED_RFC9568; .ci/run builds it and sets that.
//     Without the variable those runs skip (fail in the privileged suite, GOVRRP_PRIVILEGED=1).
//     keepalived 2.3.3 with v3_checksum_as_v2 does not verify the checksum
//     of what it receives (it would accept either form), so what these runs
//     prove about the checksum is on the wire: keepalived sends the RFC
//     9568 form, vrrpd accepts it and sends it, in every role.
//
// tshark 4.0 checks the pseudo-header form unless given
// -o vrrp.v3_checksum_as_in_v2:TRUE; the tests ask it both ways and
// expect it to call each form good in exactly one of them.
//
// # What the tests prove
//
// Each scenario runs in every setup: VRRPv3 over IPv4 (pseudo-header
// checksum), VRRPv3 over IPv6, VRRPv3 over IPv4 with unicast peers (the
// observer is a third peer, so that it sees the unicast adverts),
// VRRPv2, VRRPv2 with simple text password authentication (RFC 2338
// auth_type PASS), VRRPv3 over IPv4 with the RFC 9568 message-only
// checksum on every side (keepalived 2.3.3 with v3_checksum_as_v2); and
// in every pairing: vrrpd on host 1 with keepalived on host 2, the
// reverse, and vrrpd on both. One setup runs vrrpd against vrrpd only:
// host 1 sending the RFC 9568 form while host 2 sends the pseudo-header
// form (each must accept the other's form in every role).
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
