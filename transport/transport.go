// Package transport carries VRRP advertisements between virtual routers:
// the Conn interface the runtime uses, and the Linux raw-socket
// implementation (IPv4 protocol 112 to 224.0.0.18, IPv6 next header 112 to
// ff02::12, or unicast peers), RFC 9568 section 5.1.
//
// The in-memory LAN for tests and simulations is transport/memnet.
//
// # The raw-socket transport
//
// Listen opens one raw socket for one interface, bound to it with
// SO_BINDTODEVICE so that a multi-homed host never sees another link's
// advertisements. ListenMulti opens one socket per family that serves
// several interfaces (Join, Leave): it joins the VRRP group on each and
// demultiplexes received packets by the interface index of their
// IP_PKTINFO / IPV6_PKTINFO control message.
//
// Every packet is sent with TTL / hop limit 255 (RFC 9568 section 5.1.1.3,
// 5.1.2.3), multicast and unicast alike. On receive, Meta.TTL is the TTL /
// hop limit the packet arrived with, taken from the IP_TTL /
// IPV6_HOPLIMIT control message; the transport does not drop packets with
// another value, so that the runtime can count them (RFC 6527
// vrrpv3StatisticsIpTtlErrors) before discarding them (RFC 9568 section
// 7.1). IPv6 packets leave from the interface's link-local address (RFC
// 9568 section 5.1.2.1). Multicast loopback is off and packets whose
// source is an address of the receiving interface are dropped, so a
// router never hears itself. With unicast peers (keepalived's
// unicast_peer), WriteTo sends a copy to each peer instead of the group
// and ReadFrom accepts packets only from the peers.
//
// # Checksums
//
// The transport neither computes nor verifies VRRP checksums, for either
// family: package packet does both in userspace, with the pseudo-header
// built from Meta.Src and Meta.Dst (Source tells the writer which source
// address the transport will use). In particular the kernel's IPv6
// checksum offload (IPV6_CHECKSUM) is deliberately left off: with it, the
// kernel would silently drop advertisements with a bad checksum before
// the runtime could count them (RFC 6527 vrrpRouterChecksumErrors), and
// IPv4 has no such offload anyway, so both families take the same path.
package transport

import (
	"errors"
	"net/netip"
)

// Meta is what travels beside a packet's bytes.
type Meta struct {
	// Src and Dst are the IP source and destination. On write, a zero Src
	// means the interface's primary address (IPv4) or link-local address
	// (IPv6), and a zero Dst the VRRP multicast group of the family.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit the packet arrived with. It is
	// ignored on write: every packet is sent with 255.
	TTL int
	// IfIndex is the interface the packet arrived on or leaves from; 0 on
	// write means the Conn's only interface.
	IfIndex int
}

// Conn sends and receives VRRP messages (the IP payload, without the IP
// header). Implementations are safe for one reader and concurrent writers.
type Conn interface {
	// ReadFrom reads one VRRP message into b and returns its length and
	// metadata. It blocks until a packet arrives or the Conn is closed,
	// when it returns an error that matches net.ErrClosed.
	ReadFrom(b []byte) (int, Meta, error)
	// WriteTo sends one VRRP message with TTL / hop limit 255.
	WriteTo(b []byte, m Meta) error
	// Close stops ReadFrom and releases the socket.
	Close() error
}

// Message is one packet of a batch.
type Message struct {
	Buf  []byte
	Meta Meta
}

// BatchWriter is implemented by Conns that can send several messages in
// one system call (sendmmsg on Linux). The runtime uses it when
// advertisements fall due at the same instant.
type BatchWriter interface {
	// WriteBatch sends ms and returns how many were sent.
	WriteBatch(ms []Message) (int, error)
}

// ErrUnsupported is returned by the raw-socket transport on systems other
// than Linux.
var ErrUnsupported = errors.New("transport: raw VRRP sockets are implemented on Linux only")

// Sourcer is implemented by Conns that choose the IP source address of the
// packets they send, as the raw-socket transport does. Writers need that
// address to compute a checksum over the pseudo-header (RFC 9568 section
// 5.2.8) before calling WriteTo with a zero Meta.Src.
type Sourcer interface {
	// Source returns the source address packets written with a zero
	// Meta.Src on interface ifIndex (0: the Conn's only interface) carry.
	Source(ifIndex int) (netip.Addr, error)
}
