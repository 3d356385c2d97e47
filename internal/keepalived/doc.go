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
//     a notify script in a per-instance temporary directory. The returned
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
// CI=true or GOVRRP_REQUIRE_PRIV=1:
//
//	sudo go test ./internal/keepalived/ -run Keepalived -v
//	sudo go test ./internal/keepalived/ -run TestKeepalivedV3IPv4 -v
//	sudo go test ./internal/keepalived/ -run '^$' -bench Takeover -benchtime 5x
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
//   - It has no v3_checksum_as_v2: VRRPv3 over IPv4 uses the checksum with
//     the IPv4 pseudo-header only.
//   - Without vrrp_garp_master_delay 0 it repeats the gratuitous ARP / NA
//     burst 5 s after a takeover; the tests turn that off.
//   - Notify scripts get TYPE NAME STATE PRIORITY (TYPE INSTANCE or
//     GROUP; STATE MASTER, BACKUP, FAULT or STOP).
package keepalived
