// Command vrrpdump prints every VRRP advertisement in a capture file (pcap
// or pcapng, as tcpdump, tshark and dumpcap write them), or live from an
// interface, one line per packet:
//
//	vrrpdump -r capture.pcapng
//	vrrpdump -i eth0        (Linux, as root or with CAP_NET_RAW)
//	vrrpdump -v -vrid 51 -c 20 -r capture.pcap
//	vrrpdump -summary -q -r capture.pcap
//
// Flags:
//
//	-r FILE     read a pcap or pcapng file (several pcapng sections and
//	            interfaces, any timestamp resolution)
//	-i IFACE    capture live (Linux)
//	-c N        stop after N VRRP packets (0: no limit)
//	-vrid ID    only advertisements of virtual router ID (1-255); with -v,
//	            only the announcements of the addresses it advertised or
//	            from its virtual MAC
//	-v          add the fields below to each line, and print gratuitous ARP
//	            and unsolicited neighbor advertisement lines
//	-summary    at the end, a summary per virtual router
//	-q          no packet lines (with -summary: only the summary)
//
// Each line is key=value pairs: time src dst ttl ver vrid prio interval
// addrs checksum err. ver, vrid and prio come from the header bytes (- when
// the packet is too short for them); interval and addrs are - when the
// message does not decode.
//
// checksum is the verdict tshark gives, computed from the bytes whether or
// not the message is valid: over the whole VRRP payload as the IP header's
// length gives it (or as much of it as the frame holds). It is ok-v2
// (VRRPv2, the message alone, RFC 3768 section 5.3.8), ok-pseudo (VRRPv3
// with the IP pseudo-header, as keepalived and FRR send over IPv4 and
// everybody over IPv6), ok-message (VRRPv3 over IPv4 checksummed over the
// message alone, the RFC 9568 section 5.2.8 form; also any other version
// whose message-only sum verifies, as tshark checks those) or bad (it does
// not verify; a payload shorter than the 8-byte header, which tshark does
// not check; a frame cut short by the capture's snap length, which tshark
// calls unverified).
//
// err is truncated when the IP header claims more bytes than the frame
// holds; else the first validation failure of the packet package
// (short-header, short-addrs, short-auth, version, type, no-addrs,
// zero-interval, family, checksum); else ttl when the TTL / hop limit is
// not 255 (RFC 9568 section 7.1); else none. err=checksum is the
// library's verdict on the message, which may differ from checksum= when
// the IP payload holds bytes after the message. A malformed packet prints
// its error and the dump goes on.
//
// With -v a VRRP line goes on with smac dmac auth sum want errs:
//
//   - smac and dmac are the Ethernet source and destination (- where the
//     capture has none: raw IP; Linux cooked captures and live captures
//     have only the source).
//   - auth is the VRRPv2 authentication (RFC 3768 section 5.3.6, RFC 2338
//     section 5.3.6): none, pass:"PASSWORD" (the simple text password, its
//     zero padding dropped, a byte that is not printable ASCII, a space, a
//     quote or a backslash as \xNN; pass:- when the message is too short
//     to hold it), ah, or type-N; - for other versions.
//   - sum is the checksum field; want what it should be, computed like the
//     checksum= verdict: pseudo:0xXXXX for the pseudo-header form (VRRPv3),
//     message:0xXXXX for the message alone (VRRPv2, other versions), both
//     for VRRPv3 over IPv4 (tshark's "should be" with its
//     vrrp.v3_checksum_as_in_v2 preference off and on); - when the header
//     is missing or the capture cut the packet short.
//   - errs is every validation failure, not only the first, comma
//     separated, or none: truncated, short-header, version, type, vrid
//     (VRID 0, RFC 9568 section 5.2.3), no-addrs, zero-interval, then the
//     length and family checks (family, short-addrs, short-auth, made even
//     when the type or the interval is wrong; not for an unknown version or
//     no addresses, which leave the layout unknown), checksum (over the
//     message as the packet package checks it; over the payload in tshark's
//     way when the layout is unknown), ttl, and no-link-local-first (a
//     VRRPv3 IPv6 address list not starting with a link-local address, RFC
//     9568 section 5.2.9, which keepalived sends), and trailing (the IP
//     payload holds bytes after the message: an address count smaller
//     than the addresses sent, or junk; receivers ignore them). Its first
//     entry other than vrid, no-link-local-first and trailing is err's.
//
// and these lines appear between the VRRP lines:
//
//	time=T garp addr=IPV4 mac=SENDER-MAC op=request|reply smac=.. dmac=..
//	time=T na addr=IPV6 mac=TARGET-MAC flags=[R][S]O src=.. dst=ff02::1 ttl=.. smac=.. dmac=..
//
// for a gratuitous ARP (an ARP request or reply whose sender and target
// IPv4 addresses are the same, RFC 5227 section 3) and an unsolicited
// neighbor advertisement (ICMPv6 type 136 with the override flag to
// ff02::1, RFC 4861 section 7.2.6; mac is its target link-layer address
// option, - without one), which a new master sends for its addresses (RFC
// 9568 section 6.4.2).
//
// -summary prints, after the packets, for each virtual router (VRID and
// family, IPv4 first):
//
//	summary vrid=N family=ipv4|ipv6 adverts=N prio0=N invalid=N sources=N masters=N maxgap=D gapfrom=T gapto=T
//	summary vrid=N family=.. source=ADDR adverts=N prio0=N first=T last=T
//	summary vrid=N family=.. master=ADDR from=T to=T adverts=N end=taken|prio0|capture-end
//
// adverts counts the valid advertisements (err=none), invalid the others;
// maxgap is the longest time between two consecutive advertisements of
// the virtual router (from any source, in capture order; - with fewer than
// two), the master down time of a failover. A master line is a term: a run
// of advertisements from one source, which only the master sends (RFC 9568
// section 6.4.3); it ends when another source advertises (taken: in a
// split brain the terms alternate), with priority 0 (prio0: the master
// resigned), or with the capture.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
