// Package keepalived runs keepalived beside the project's own daemon in
// network namespaces, for interoperability tests (project issue 6).
//
// It has three parts:
//
//   - Config, VRRPInstance and SyncGroup describe a keepalived.conf
//     (global_defs, vrrp_instance, vrrp_sync_group); Render turns one into
//     the configuration text. Render is a pure function, tested against
//     golden files in testdata/*.conf, which a privileged test also feeds to
//     `keepalived --config-test`.
//   - Start runs keepalived in a netlab host's namespace (`ip netns exec`,
//     never keepalived's own --namespace) as
//     `keepalived --dont-fork --log-console --log-detail --no-syslog --vrrp
//     --use-file CONF --pid ... --vrrp_pid ...` with its pid files, log and
//     a notify script in a per-instance temporary directory (--vrrp and the
//     checker and BFD pid files only when `keepalived --help` lists them: a
//     VRRP-only build has none). StartBinary does the same with another
//     keepalived program, such as the one RFC9568Binary returns. The returned
//     Instance reports its state (from keepalived's "Entering X STATE" log
//     lines), its notify transitions with times, and whether the host holds
//     the virtual addresses; Stop ends it with SIGTERM (keepalived then
//     sends priority 0 and removes its addresses), Kill crashes it with
//     SIGKILL by PID, parent and VRRP child alike, so nothing more is sent.
//   - StartCapture runs tcpdump on a lab host (an observer) and Capture.Stop
//     decodes the file with tshark into Packets, with helpers to find the
//     adverts and gratuitous ARPs / unsolicited NAs around an event.
//
// # Running the tests
//
// The unit tests (Render, the tshark decoder on a stored capture) run
// anywhere tshark is installed. The interoperability tests need root,
// iproute2, keepalived, tcpdump and tshark (Debian: apt-get install
// keepalived tcpdump tshark); they skip without them, and fail instead when
// GOVRRP_PRIVILEGED=1:
//
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/keepalived/ -run Keepalived -v
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/keepalived/ -run TestKeepalivedV3IPv4 -v
//	sudo GOVRRP_PRIVILEGED=1 go test ./internal/keepalived/ -run '^$' -bench Takeover -benchtime 5x
//
// Each test builds its own netlab LAN (namespace prefix "kat"), hosts 1
// and 2 running keepalived and host 3 capturing, and removes it afterwards;
// the whole package takes about 20 s.
//
// # keepalived version
//
// Tested with the Debian 12 package, `keepalived --version`:
// "Keepalived v2.2.7 (01/16,2022)". Things this version does that the
// tests rely on or work around:
//
//   - advert_int takes fractional seconds for VRRPv3 (0.01 s steps);
//     VRRPv2 wants whole seconds (it rounds, with a warning).
//   - An instance runs over IPv6 when its virtual addresses are IPv6; it
//     warns unless the first one is link-local, and with vrrp_strict that
//     is an error. native_ipv6 is accepted too.
//   - It has no v3_checksum_as_v2 (it calls the keyword unknown): VRRPv3
//     over IPv4 uses the checksum with the IPv4 pseudo-header only.
//   - Without vrrp_garp_master_delay 0 it repeats the gratuitous ARP / NA
//     burst 5 s after a takeover; the tests turn that off.
//   - Notify scripts get TYPE NAME STATE PRIORITY (TYPE INSTANCE or
//     GROUP; STATE MASTER, BACKUP, FAULT or STOP).
//
// # keepalived 2.3.3, for the RFC 9568 checksum form
//
// VRRPInstance.V3ChecksumAsV2 (v3_checksum_as_v2, keepalived 2.2.8 and
// later) makes keepalived send the RFC 9568 message-only VRRPv3 IPv4
// checksum. To test it, build-keepalived.sh (in this directory) builds
// keepalived 2.3.3 from Debian's source tarball (Debian 13's version,
// keepalived_2.3.3.orig.tar.gz from deb.debian.org, SHA-256 checked), VRRP
// only, into /opt/govrrp-keepalived-2.3.3, in about 20 s on two CPUs; the
// system keepalived is left alone. The tests find it through
// GOVRRP_KEEPALIVED_RFC9568 (EnvRFC9568), which RFC9568Binary reads; without
// it those tests skip, or fail under GOVRRP_PRIVILEGED=1. .ci/run
// builds it and sets the variable:
//
//	sudo internal/keepalived/build-keepalived.sh
//	sudo GOVRRP_PRIVILEGED=1 GOVRRP_KEEPALIVED_RFC9568=/opt/govrrp-keepalived-2.3.3/sbin/keepalived \
//		go test ./internal/keepalived/ -run TestRenderAcceptedByKeepalived -v
//
// keepalived 2.3.3 with v3_checksum_as_v2 sends the message-only form but
// does not verify the checksum of the VRRPv3 adverts it receives (vrrp.c,
// vrrp_check_packet: the VRRPv3 checksum error is raised only without the
// flag), so it accepts either form.
package keepalived
