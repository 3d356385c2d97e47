//go:build linux

package arpnd

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// sender is the one AF_PACKET socket an Announcer built with New sends
// its announcements from on every interface that needs no reader (no
// responder, no Router Solicitations): sendto with the interface index in
// the address, instead of a socket bound to each interface (issue 12:
// thousands of links held thousands of packet sockets). Its protocol is
// 0, so the kernel delivers it no frame at all.
type sender struct {
	mu sync.Mutex // guards fd against Close
	fd int
}

// openSender opens the socket (CAP_NET_RAW). Called in the Announcer's
// network namespace: the socket stays in it.
func openSender() (*sender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &sender{fd: fd}, nil
}

func (s *sender) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// sendTo writes one Ethernet frame (header included) on interface
// ifindex to the destination MAC dst, with EtherType proto.
func (s *sender) sendTo(b []byte, ifindex int, proto uint16, dst net.HardwareAddr) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex, Halen: uint8(len(dst))}
	copy(sa.Addr[:], dst)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	for {
		err := unix.Sendto(s.fd, b, 0, sa)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// linkSender is a link's PacketConn of one family on the shared sender:
// it only sends.
type linkSender struct {
	s       *sender
	ifindex int
	proto   uint16
}

var errSendOnly = errors.New("arpnd: send-only connection")

func (c linkSender) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, errSendOnly }

// WriteTo sends b, a whole Ethernet frame, to addr (a *packet.Addr).
func (c linkSender) WriteTo(b []byte, addr net.Addr) (int, error) {
	pa, ok := addr.(*packet.Addr)
	if !ok {
		return 0, fmt.Errorf("arpnd: destination %v is not a *packet.Addr", addr)
	}
	if err := c.s.sendTo(b, c.ifindex, c.proto, pa.HardwareAddr); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close does nothing: the shared socket closes with the Announcer.
func (c linkSender) Close() error { return nil }
