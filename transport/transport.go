// Package transport carries VRRP advertisements between virtual routers:
// the Conn interface the runtime (vrrp.Router) uses, with the metadata a
// VRRP receiver needs (RFC 9568 section 5.1, section 7.1).
//
// Implementations: transport/raw, Linux raw sockets (IPv4 protocol 112 to
// 224.0.0.18, IPv6 next header 112 to ff02::12, or unicast peers); and
// transport/memnet, an in-memory LAN for tests and simulations. This
// package itself depends on the standard library only, so that the pure
// packages (vrrp) never pull in socket code.
package transport

import (
	"errors"
	"net/netip"
	"time"
)

// ErrClosed is matched (errors.Is) by the error a Conn's ReadFrom and
// ReadBatch return once the Conn is closed. The transports of this module
// return errors that match both ErrClosed and net.ErrClosed (see Closed):
// the runtime tests for ErrClosed, so that neither this package nor vrrp
// needs package net.
var ErrClosed = errors.New("use of closed connection")

// Closed returns an error that matches both err (for a socket, usually
// net.ErrClosed) and ErrClosed, and reads as err. Conn implementations
// return it once they are closed.
func Closed(err error) error { return closedError{err} }

type closedError struct{ err error }

func (e closedError) Error() string   { return e.err.Error() }
func (e closedError) Unwrap() []error { return []error{e.err, ErrClosed} }

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
	// Time is when the packet arrived, as the kernel stamped it, or zero
	// when the Conn does not know. The runtime restarts timers from it
	// (RFC 9568 section 6.4.2: the Master_Down_Timer counts from the
	// advertisement), however late it gets to the packet. Ignored on
	// write.
	Time time.Time
	// Drops is the receiving socket's count of the packets it dropped
	// because its receive queue was full, up to when this packet was
	// queued (Linux SO_RXQ_OVFL), or zero when the Conn does not report
	// it. An increase from one packet to the next means that packets
	// arriving between the two were lost on this host: the runtime does
	// not count that silence against the masters (RouterStats.LossHolds).
	// Ignored on write.
	Drops uint32
}

// Conn sends and receives VRRP messages (the IP payload, without the IP
// header). Implementations are safe for one reader and concurrent writers.
type Conn interface {
	// ReadFrom reads one VRRP message into b and returns its length and
	// metadata. It blocks until a packet arrives or the Conn is closed,
	// when it returns an error that matches ErrClosed (see Closed).
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

// BatchReader is implemented by Conns that can read several messages in
// one system call (recvmmsg on Linux). The runtime uses it so that a burst
// of advertisements (255 virtual routers whose timers fire together) costs
// one wake-up, not one per packet.
type BatchReader interface {
	// ReadBatch blocks until at least one message arrives, then reads it
	// and up to len(ms)-1 more that are already waiting, without blocking
	// again. On entry ms[i].Buf is the buffer for message i (its whole
	// length is usable); on return ms[:n] hold the messages read, each
	// Buf resliced to the message's length, and n >= 1. ReadBatch may
	// reorder the Bufs of ms, so the caller must not assume ms[i] keeps
	// its buffer, and must reslice each Buf to its capacity before the
	// next call. It returns an error that matches ErrClosed (see Closed)
	// once the Conn is closed.
	ReadBatch(ms []Message) (n int, err error)
}

// Queuer is implemented by Conns that can tell whether packets wait to be
// read, as the raw-socket transport does (the socket's receive queue).
// The runtime asks when it starts: a socket opened long before (vrrpd
// adding thousands of instances) may hold a full buffer of stale
// advertisements, which it reads and drops before starting the virtual
// routers.
type Queuer interface {
	// Queued reports whether at least one packet waits to be read.
	Queued() (bool, error)
}

// DropCounter is implemented by Conns that can tell how many packets
// their receive queue has dropped while full, as the raw-socket transport
// can (SO_MEMINFO). The count is the one Meta.Drops carries, read without
// waiting for a packet: a reader that caught up with its socket learns at
// once that it lost packets, not one advertisement interval later.
type DropCounter interface {
	// QueueDrops returns the packets dropped so far (wrapping at 2^32).
	QueueDrops() (uint32, error)
}

// Sourcer is implemented by Conns that choose the IP source address of the
// packets they send, as the raw-socket transport does. Writers need that
// address to compute a checksum over the pseudo-header (RFC 9568 section
// 5.2.8) before calling WriteTo with a zero Meta.Src.
type Sourcer interface {
	// Source returns the source address packets written with a zero
	// Meta.Src on interface ifIndex (0: the Conn's only interface) carry.
	Source(ifIndex int) (netip.Addr, error)
}

// PeerSetter is implemented by Conns that filter received packets by
// unicast peer (keepalived's unicast_peer), as the raw-socket transport
// does: SetPeers replaces the set of sources they admit, and the
// destinations of writes with a zero Meta.Dst, while they run. The
// runtime (vrrp.Router.SetPeers) calls it when a virtual router's peers
// change.
type PeerSetter interface {
	// SetPeers replaces the unicast peers with peers, safely against a
	// concurrent reader and writers: a packet is admitted or sent by the
	// old set or by the new one, never by a mix. It does not switch
	// between multicast (no peers) and unicast: a Conn opened for one
	// mode returns an error for a change to the other, and keeps its
	// peers.
	SetPeers(peers []netip.Addr) error
}
