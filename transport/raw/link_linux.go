//go:build linux

package raw

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// groupMACv4 is the Ethernet address of 224.0.0.18 (RFC 1112 section
// 6.4: 01:00:5e and the group's low 23 bits).
var groupMACv4 = [8]byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}

// linkSender is the link-layer send path of an IPv4 Conn (Config.Send):
// an AF_PACKET SOCK_DGRAM socket of protocol 0, so that it receives
// nothing, on which the kernel puts the Ethernet header (the interface's
// own MAC, the group's MAC given here) before each frame and hands it to
// the interface's queue; the Conn builds the IPv4 header. Its arrays hold
// one sendmmsg's messages, each with two iovecs (header, payload), as
// many as the largest batch so far (at most writeChunk: about 34 kB for
// a shared socket of many interfaces, 136 bytes for a Conn that sends
// one message at a time): once grown, sending allocates nothing. Used
// under Conn.wmu.
type linkSender struct {
	f  *os.File
	rc syscall.RawConn

	msgs []mmsghdr
	iovs [][2]unix.Iovec
	hdrs [][ipv4.HeaderLen]byte
	sas  []unix.RawSockaddrLinklayer
	sts  []*ifaceState // the interface of each message, for errors

	// One sendmmsg of msgs[from:n]: how many it sent, or its error.
	from, n, sent int
	err           error
	fn            func(fd uintptr) bool
}

// openLink opens the link-layer send socket.
func openLink() (*linkSender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket AF_PACKET", err)
	}
	f := os.NewFile(uintptr(fd), "raw-link-send")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &linkSender{f: f, rc: rc}
	l.fn = l.sendmmsg
	return l, nil
}

// grow makes room for at least n messages (at most writeChunk), and
// points every message at its own address, iovecs and header. Called
// before a batch's first add: growing forgets the messages made.
func (l *linkSender) grow(n int) {
	if n <= len(l.msgs) {
		return
	}
	n = min(max(n, 2*len(l.msgs)), writeChunk)
	l.msgs = make([]mmsghdr, n)
	l.iovs = make([][2]unix.Iovec, n)
	l.hdrs = make([][ipv4.HeaderLen]byte, n)
	l.sas = make([]unix.RawSockaddrLinklayer, n)
	l.sts = make([]*ifaceState, n)
	for i := range l.msgs {
		l.sas[i] = unix.RawSockaddrLinklayer{
			Family:   unix.AF_PACKET,
			Protocol: htons(unix.ETH_P_IP),
			Halen:    6,
			Addr:     groupMACv4,
		}
		l.iovs[i][0].Base = &l.hdrs[i][0]
		l.iovs[i][0].SetLen(ipv4.HeaderLen)
		l.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&l.sas[i]))
		l.msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(l.sas[i]))
		l.msgs[i].hdr.Iov = &l.iovs[i][0]
		l.msgs[i].hdr.SetIovlen(2)
	}
}

// linkOK reports whether a message to dst (zero: the group) from src on
// st can take the link-layer path: the group on an Ethernet interface
// without unicast peers, from an IPv4 source, in one frame of the
// interface's MTU (at Join).
func linkOK(st *ifaceState, dst, src netip.Addr, size int) bool {
	return st.ether && len(st.peers) == 0 &&
		(!dst.IsValid() || dst.Unmap() == groupV4) &&
		src.Unmap().Is4() && ipv4.HeaderLen+size <= int(st.mtu)
}

// add makes message k (below the room grow made for the batch): b from
// src on st, to the group.
func (l *linkSender) add(k int, st *ifaceState, src netip.Addr, b []byte) {
	h := &l.hdrs[k]
	h[0] = 0x45 // version 4, 20-byte header
	h[1] = 0    // DSCP and ECN: what the socket path sends
	binary.BigEndian.PutUint16(h[2:], uint16(ipv4.HeaderLen+len(b)))
	// Identification 0 and Don't Fragment, as the socket path sends
	// them: an atomic datagram (RFC 6864 section 4).
	h[4], h[5] = 0, 0
	h[6], h[7] = 0x40, 0
	h[8] = 255 // TTL, RFC 9568 section 5.1.1.3
	h[9] = vrrpProto
	h[10], h[11] = 0, 0
	s4, g4 := src.Unmap().As4(), groupV4.As4()
	copy(h[12:16], s4[:])
	copy(h[16:20], g4[:])
	binary.BigEndian.PutUint16(h[10:], ipv4Checksum(h[:]))
	l.iovs[k][1].Base = nil
	if len(b) > 0 {
		l.iovs[k][1].Base = &b[0]
	}
	l.iovs[k][1].SetLen(len(b))
	l.sas[k].Ifindex = int32(st.index)
	l.sts[k] = st
}

// ipv4Checksum is the Internet checksum of an IPv4 header whose checksum
// field is zero (RFC 791, RFC 1071).
func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// send sends messages 0..n-1 in as few sendmmsg calls as the interfaces
// allow: a message the kernel refuses (its interface down or gone) is
// skipped and the rest still go. It returns how many were sent, the
// first refusal and its interface. The payloads are let go.
func (l *linkSender) send(n int) (sent int, failed *ifaceState, err error) {
	defer func() {
		for k := range n {
			l.iovs[k][1].Base = nil
			l.sts[k] = nil
		}
	}()
	for from := 0; from < n; {
		l.from, l.n = from, n
		if werr := l.rc.Write(l.fn); werr != nil {
			// The socket is closed: nothing more goes.
			if err == nil {
				err, failed = werr, l.sts[from]
			}
			return sent, failed, err
		}
		sent += l.sent
		from += l.sent
		if l.err != nil {
			if err == nil {
				err, failed = l.err, l.sts[from]
			}
			from++ // the message the kernel refused
		}
	}
	return sent, failed, err
}

// sendmmsg is the RawConn.Write callback of send (bound once as l.fn).
func (l *linkSender) sendmmsg(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&l.msgs[l.from])), uintptr(l.n-l.from), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			l.sent, l.err = int(r), nil
			if l.sent == 0 {
				l.err = errors.New("sendmmsg sent nothing")
			}
		default:
			l.sent, l.err = 0, e
		}
		return true
	}
}

func (l *linkSender) close() error { return l.f.Close() }
