// Command vrrpdump prints every VRRP advertisement in a pcap file, or live
// from an interface, one line per packet:
//
//	vrrpdump -r capture.pcap
//	vrrpdump -i eth0        (Linux, as root or with CAP_NET_RAW)
//
// Each line is key=value pairs: time src dst ttl ver vrid prio interval
// addrs checksum err. checksum is ok-v2 (VRRPv2, RFC 3768 section 5.3.8),
// ok-message (VRRPv3 over IPv4 checksummed over the message alone, the RFC
// 9568 section 5.2.8 form), ok-pseudo (VRRPv3 with the IP pseudo-header,
// as keepalived and FRR send over IPv4 and everybody over IPv6), bad, or -
// when the packet is too malformed to check. err names the first
// validation failure of RFC 9568 section 7.1 (ttl, short-header,
// short-addrs, short-auth, version, type, no-addrs, zero-interval, family,
// checksum) or is none. A malformed packet prints its error and the dump
// goes on.
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
