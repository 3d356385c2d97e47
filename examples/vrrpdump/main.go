// Command vrrpdump prints every VRRP advertisement in a pcap file, or live
// from an interface, one line per packet:
//
//	vrrpdump -r capture.pcap
//	vrrpdump -i eth0        (Linux, as root or with CAP_NET_RAW)
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
