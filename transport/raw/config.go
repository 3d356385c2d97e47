// Package raw is the Linux raw-socket VRRP transport: it implements
// transport.Conn with golang.org/x/net/ipv4 and ipv6 (IPv4 protocol 112 to
// 224.0.0.18, IPv6 next header 112 to ff02::12, or unicast peers), RFC 9568
// section 5.1. On other systems every constructor returns ErrUnsupported.
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
// # Receive ring
//
// By default a Conn receives on its protocol-112 socket, one recvmsg per
// packet through the Go runtime's poller, so every packet wakes the
// process. With Config.Ring, Listen and ListenMulti receive through a
// TPACKET_V3 ring instead: an AF_PACKET socket whose kernel filter keeps
// only VRRP packets, with a memory-mapped ring of blocks that the kernel
// fills and hands over a block at a time, when the block is full or 1 ms
// after its first packet. The reader is then woken about once per burst
// of advertisements (a master of 255 virtual routers sends them together)
// instead of once per packet, which is most of what receiving costs: see
// BENCHMARKS.md. Each packet carries its kernel arrival time
// (transport.Meta.Time, on the socket too), from which vrrp.Router counts
// the timers a packet restarts, so the hand-over delay does not move the
// protocol's timing; it only delays the reaction to a packet by up to
// 1 ms. The protocol-112 socket still sends and joins the multicast
// groups, with a socket filter that keeps the kernel from queueing
// received packets on it as well. The ring never sees the host's own
// packets; it sees IP packets before reassembly (a fragmented
// advertisement, IPv6 with more than about 90 addresses on a 1500-byte
// link, is dropped and counted in Stats.Truncated; an IPv6 atomic
// fragment, a Fragment header with offset 0 and M = 0, is a whole packet,
// RFC 8200 section 4.5 and RFC 6946, and is delivered as on the socket)
// and before the host firewall (netfilter's input hooks): rules that drop
// VRRP do not stop it, which is why it is not the default. Queued counts
// the blocks handed over and not yet read to their end, and QueueDrops
// the packets dropped when no block was free (PACKET_STATISTICS); a
// packet from the ring carries no drop count (transport.Meta.Drops 0).
//
// # Polled receive
//
// With Config.Poll, Listen and ListenMulti receive on a second
// protocol-112 socket that is not registered with the Go runtime's
// poller (epoll). The kernel wakes the poller's thread for every packet
// that arrives on a registered socket, whether or not a goroutine waits
// for it, unless the thread is busy already: a backup of 1,000 links at
// 100 ms receives 10,000 packets a second and switched context 2,100
// times a second, and waking up was about half of its CPU
// (BENCHMARKS.md). Polled, a ReadBatch that empties the socket is
// followed by a pause of Poll before the next look (a non-blocking
// recvmmsg; one that fills its batch looks again at once), so the
// packets of a busy socket are read in batches, about Poll⁻¹ times a
// second, and their arrival wakes nobody. A look that finds the socket
// empty waits for the next packet instead, through an epoll instance of
// the Conn's own in which the socket is registered one-shot
// (EPOLLONESHOT) and which the runtime's poller watches: a quiet socket
// costs no wake-up, the first packet after a quiet spell is read at
// once, and the registration stays disarmed while the reader paces its
// looks. The price is
// delay: a packet of a busy socket waits up to Poll. Its arrival time
// (transport.Meta.Time) is the kernel's, from which vrrp.Router counts
// the timers a packet restarts, so the protocol's timers do not move;
// only the reaction to a packet (a preemption, a priority-0
// advertisement) may come up to Poll later. The socket is an ordinary
// one: the host firewall applies, packets are reassembled, Queued and
// QueueDrops and transport.Meta.Drops work as without Poll. The first
// socket still sends and holds the multicast memberships, with a socket
// filter that keeps the kernel from queueing received packets on it.
//
// # Link-layer send
//
// By default a Conn sends on its protocol-112 socket, as keepalived does:
// for every packet the kernel looks the interface up by index (twice),
// routes the packet, runs the host firewall's output hooks and resolves
// the group's link-layer address through a neighbour entry per
// interface. On a host of thousands of links those costs grow with the
// number of links: the interfaces sit in a hash table of 256 chains, and
// the neighbour table holds at most gc_thresh3 (1,024 by default) entries
// for every namespace together, so with more interfaces than that each
// advertisement evicts another interface's entry and creates its own
// again. With Config.Send SendLink (or SendAuto from AutoLinkIfaces
// joined interfaces on), an IPv4 Conn sends its multicast advertisements
// on an AF_PACKET socket instead: it builds the IPv4 header itself, with
// the fields the socket path sends (TOS 0, Don't Fragment, Identification
// 0 as Linux sets it for such a datagram, TTL 255, the source address as
// on the socket path), and the kernel
// adds the Ethernet header (the interface's MAC to 01:00:5e:00:00:12)
// and queues the frame on the interface: one look-up of the interface, no
// route, no neighbour entry. The frames on the wire are the socket
// path's. What differs: the host firewall's output hooks (nftables or
// iptables OUTPUT and POSTROUTING) do not see these packets, and a
// packet sent on a down interface fails with ENETDOWN rather than
// ENETUNREACH. IPv6 keeps the socket (the kernel refuses a tentative
// source address there, RFC 4862), as do unicast peers (their link-layer
// addresses need the neighbour table), destinations other than the
// group, interfaces that are not Ethernet, and packets larger than the
// interface's MTU at Join. Stats.LinkSent counts what went on the link
// layer. A message that cannot be sent, on either path, does not keep
// the others of its batch from going (WriteBatch).
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
package raw

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/govrrp/govrrp/transport"
)

// Config configures the raw-socket transport (Listen, ListenMulti, New).
// A nil *Config and the zero value are valid when the family can be
// inferred. A Config must not be modified after it has been passed.
type Config struct {
	// Family is 4 (IPv4, protocol 112 to 224.0.0.18) or 6 (IPv6, next
	// header 112 to ff02::12). If zero, it is inferred from Src, then from
	// Peers; Listen with neither falls back to 4.
	Family int
	// Peers, if not empty, switches to unicast (keepalived's
	// unicast_peer): WriteTo with a zero transport.Meta.Dst sends one copy to each
	// peer instead of the multicast group, the group is not joined, and
	// ReadFrom drops (and counts in Stats.NotPeer) packets whose source is
	// not a peer. All peers must be of Family. IPv6 link-local peers are
	// compared without their zone.
	Peers []netip.Addr
	// Src, if valid, is the source address of every packet sent. If zero,
	// IPv4 uses the interface's first IPv4 address and IPv6 its
	// link-local address (RFC 9568 section 5.1.2.1). Src must be of
	// Family.
	Src netip.Addr
	// NoBindToDevice, if true, leaves a Listen socket unbound
	// (no SO_BINDTODEVICE): packets are still filtered by interface index,
	// but the kernel does not isolate the socket from other links. The
	// zero value binds. ListenMulti sockets are never bound.
	NoBindToDevice bool
	// Ring, if true, makes Listen and ListenMulti receive through a
	// TPACKET_V3 ring instead of on the protocol-112 socket (see "Receive
	// ring" in the package documentation): about one wake-up per burst of
	// advertisements instead of one per packet, a quarter of the CPU or
	// less on a backup of many virtual routers, packets handed over up to
	// 1 ms late (with their arrival times), no reassembly, and no host
	// firewall: the ring sees packets before netfilter's input hooks, so
	// nftables or iptables rules that drop VRRP do not apply to it. The
	// zero value receives on the socket, as keepalived does. New never
	// uses a ring.
	Ring bool
	// Poll, if positive, makes Listen and ListenMulti receive on a
	// protocol-112 socket that the Go runtime's poller does not watch
	// (see "Polled receive" in the package documentation): while packets
	// keep coming, ReadBatch looks every Poll and takes what came
	// meanwhile, and a packet arriving wakes nobody, so a process that
	// receives many advertisements wakes about Poll⁻¹ times a second
	// instead of once per packet; on a socket found empty it waits for
	// the next packet, which is read at once.
	// (ReadFrom, a packet per call, never pauses: it gains nothing.)
	// A packet waits up to Poll in the socket (it carries its arrival
	// time); SetReadDeadline and Close take effect at once. Unlike Ring,
	// the host firewall applies. At most a second; not with Ring. The
	// zero value receives through the runtime's poller. New never polls.
	Poll time.Duration
	// Send chooses how IPv4 multicast advertisements leave (see "Link-layer
	// send" in the package documentation): on the protocol-112 socket
	// (SendSocket, the zero value, as keepalived does), on an AF_PACKET
	// socket that hands the finished frame to the interface (SendLink),
	// or on the AF_PACKET socket once the Conn serves AutoLinkIfaces
	// interfaces or more (SendAuto; only ListenMulti's can). IPv6,
	// unicast peers and interfaces that are not Ethernet always use the
	// socket. New never sends on the link layer: the link-layer socket
	// must be opened in the namespace of the protocol-112 socket, which
	// New's caller may have opened elsewhere.
	Send SendPath
	// Logger receives debug records about dropped packets. If nil,
	// nothing is logged.
	Logger *slog.Logger
}

// SendPath is how a Conn sends IPv4 multicast advertisements
// (Config.Send).
type SendPath int

const (
	// SendSocket sends on the protocol-112 socket: the kernel routes
	// each packet, resolves its link-layer address and runs the host
	// firewall's output hooks.
	SendSocket SendPath = iota
	// SendLink sends on an AF_PACKET socket with the IPv4 header built
	// by the Conn.
	SendLink
	// SendAuto is SendLink while the Conn serves AutoLinkIfaces
	// interfaces or more, SendSocket below.
	SendAuto
)

// AutoLinkIfaces is how many joined interfaces make SendAuto send on the
// link layer: well before the neighbour table's default limit of 1,024
// entries (shared by every namespace of the host) is reached, past which
// the socket path evicts and creates a neighbour entry for every
// advertisement. The socket path's other costs per packet (two look-ups
// of the interface in a hash table of 256 chains, a route) also grow
// with the number of interfaces. Measured: the link layer took 20% off a
// master's CPU at 1,000 links and 28% at 4,094 (BENCHMARKS.md,
// "Link-layer send").
const AutoLinkIfaces = 256

func (p SendPath) String() string {
	switch p {
	case SendSocket:
		return "socket"
	case SendLink:
		return "link"
	case SendAuto:
		return "auto"
	}
	return "SendPath(" + strconv.Itoa(int(p)) + ")"
}

// family returns the address family of cfg: Family, or inferred, or def.
func (cfg *Config) family(def int) (int, error) {
	fam := cfg.Family
	if fam == 0 {
		switch {
		case cfg.Src.IsValid():
			fam = addrFamily(cfg.Src)
		case len(cfg.Peers) > 0:
			fam = addrFamily(cfg.Peers[0])
		default:
			fam = def
		}
	}
	if fam != 4 && fam != 6 {
		return 0, fmt.Errorf("transport: Config.Family %d: must be 4 or 6", cfg.Family)
	}
	if cfg.Poll < 0 || cfg.Poll > time.Second {
		return 0, fmt.Errorf("transport: Config.Poll %v: must be 0 (off) or at most 1s", cfg.Poll)
	}
	if cfg.Poll > 0 && cfg.Ring {
		return 0, errors.New("transport: Config.Poll and Config.Ring: choose one way to receive")
	}
	if cfg.Send < SendSocket || cfg.Send > SendAuto {
		return 0, fmt.Errorf("transport: Config.Send %v: must be SendSocket, SendLink or SendAuto", cfg.Send)
	}
	if cfg.Src.IsValid() && addrFamily(cfg.Src) != fam {
		return 0, fmt.Errorf("transport: Config.Src %v: must be an IPv%d address", cfg.Src, fam)
	}
	for i, p := range cfg.Peers {
		if !p.IsValid() || addrFamily(p) != fam {
			return 0, fmt.Errorf("transport: Config.Peers[%d] %v: must be an IPv%d address", i, p, fam)
		}
		if p.IsMulticast() || p.IsUnspecified() {
			return 0, fmt.Errorf("transport: Config.Peers[%d] %v: must be a unicast address", i, p)
		}
	}
	return fam, nil
}

func addrFamily(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return 4
	}
	return 6
}

// Error is the error of a raw-socket operation. It names the interface
// and, for permission failures, the capability the process lacks:
//
//	transport: eth0: raw socket: operation not permitted (needs CAP_NET_RAW)
//
// It unwraps to the underlying error, so errors.Is(err, os.ErrPermission)
// and, once the Conn is closed, errors.Is(err, net.ErrClosed) and
// errors.Is(err, transport.ErrClosed) work.
type Error struct {
	// Iface is the interface name, or empty for a socket not tied to one.
	Iface string
	// Op is the failed operation: "raw socket", "bind to device", "join
	// group", "read", "write", ...
	Op string
	// Cap is the capability that would have allowed the operation, set
	// only when Err is a permission error.
	Cap string
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	s := "transport: "
	if e.Iface != "" {
		s += e.Iface + ": "
	}
	s += e.Op + ": "
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		s += errno.Error()
	} else {
		s += e.Err.Error()
	}
	if e.Cap != "" {
		s += " (needs " + e.Cap + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// opCaps names the capability each privileged operation needs.
var opCaps = map[string]string{
	"raw socket":     "CAP_NET_RAW",
	"bind to device": "CAP_NET_RAW",
	"join group":     "CAP_NET_RAW",
	"socket option":  "CAP_NET_RAW",
}

// opError wraps err as an *Error for iface and op, naming the missing
// capability when err is a permission error, and making a closed socket's
// error match transport.ErrClosed too. A nil err stays nil.
func opError(iface, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, net.ErrClosed) && !errors.Is(err, transport.ErrClosed) {
		err = transport.Closed(err)
	}
	e := &Error{Iface: iface, Op: op, Err: err}
	if errors.Is(err, os.ErrPermission) {
		e.Cap = opCaps[op]
	}
	return e
}

// Stats counts packets the raw-socket transport received and dropped
// itself, before the caller saw them.
type Stats struct {
	// Received is the number of packets ReadFrom and ReadBatch returned.
	Received uint64
	// Own counts packets whose source is an address of the receiving
	// interface (our own advertisements heard back).
	Own uint64
	// NotPeer counts packets from a source that is not a configured
	// unicast peer.
	NotPeer uint64
	// OtherIface counts packets that arrived on an interface the transport.Conn has
	// not joined.
	OtherIface uint64
	// Truncated counts packets larger than the caller's buffer, and
	// malformed packets (short IPv4 header, missing control messages); on
	// the receive ring (Config.Ring), fragments too (not atomic ones).
	Truncated uint64
	// LinkSent counts the packets sent on the link layer (Config.Send);
	// the others went out on the protocol-112 socket.
	LinkSent uint64
}

// ErrUnsupported is returned on systems other than Linux, where raw VRRP
// sockets are not implemented.
var ErrUnsupported = errors.New("transport/raw: raw VRRP sockets are implemented on Linux only")
