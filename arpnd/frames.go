package arpnd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// Errors returned by the frame builders and parsers. They are matched with
// errors.Is.
var (
	// ErrNotIPv4 / ErrNotIPv6: an address of the wrong family was given.
	ErrNotIPv4 = errors.New("arpnd: not an IPv4 address")
	ErrNotIPv6 = errors.New("arpnd: not an IPv6 address")
	// ErrBadMAC: a hardware address is not a 6-byte Ethernet address.
	ErrBadMAC = errors.New("arpnd: not a 6-byte Ethernet address")
	// errNotForUs: a received frame is well formed but is not a request
	// the responder answers (wrong type, a gratuitous request, ...).
	errNotForUs = errors.New("arpnd: not a request to answer")
	// errMalformed: a received frame is malformed or fails validation
	// (RFC 4861 section 7.1.1).
	errMalformed = errors.New("arpnd: malformed frame")
)

// Wire constants.
const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd

	ethHeaderLen  = 14
	ipv6HeaderLen = 40

	protoICMPv6 = 58
	hopLimitND  = 255 // RFC 4861 section 7.1.1/7.1.2
)

var (
	// allNodes is ff02::1, the destination of unsolicited Neighbor
	// Advertisements (RFC 4861 section 7.2.6).
	allNodes = netip.MustParseAddr("ff02::1")
	// allNodesMAC is the Ethernet multicast address of ff02::1
	// (RFC 2464 section 7).
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

// VirtualMAC returns the virtual router MAC address of a VRID: 00-00-5E-00-01-{VRID}
// for IPv4 and 00-00-5E-00-02-{VRID} for IPv6 (RFC 9568 section 7.3;
// RFC 3768 section 7.3 for VRRPv2, which is IPv4 only).
func VirtualMAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	var fam byte = 0x01
	if ipv6 {
		fam = 0x02
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, fam, vrid}
}

// multicastMAC returns the Ethernet address of an IPv6 multicast group
// (RFC 2464 section 7: 33-33 and the low 32 bits).
func multicastMAC(group netip.Addr) net.HardwareAddr {
	a := group.As16()
	return net.HardwareAddr{0x33, 0x33, a[12], a[13], a[14], a[15]}
}

// solicitedNode returns the solicited-node multicast address of a
// (RFC 4291 section 2.7.1): ff02::1:ffXX:XXXX.
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

func checkMAC(hw net.HardwareAddr) error {
	if len(hw) != 6 {
		return fmt.Errorf("%w: %q", ErrBadMAC, hw)
	}
	return nil
}

// MarshalGratuitousARP returns the Ethernet frame of a gratuitous ARP for
// vip announced at src, in the request form that keepalived sends (and RFC
// 5227 section 3 calls an ARP Announcement, RFC 9568 section 6.4.1 a
// gratuitous ARP): Ethernet broadcast from src, operation request, sender =
// target = vip, sender hardware address src, target hardware address the
// broadcast address (as keepalived 2.2.7 sends it: see the capture in
// shared/captures). The 42-byte frame is zero padded to 60 bytes.
func MarshalGratuitousARP(src net.HardwareAddr, vip netip.Addr) ([]byte, error) {
	if !vip.Is4() {
		return nil, fmt.Errorf("%w: %v", ErrNotIPv4, vip)
	}
	return marshalARP(arp.OperationRequest, ethernet.Broadcast, src, vip, ethernet.Broadcast, vip)
}

// marshalARP builds an ARP frame with arp.Packet inside an ethernet.Frame.
// It is sent on an AF_PACKET socket rather than through arp.Client because
// arp.Dial needs an IPv4 address on the interface, which a VRRP backup or a
// host with only virtual addresses may not have.
func marshalARP(op arp.Operation, dst, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) ([]byte, error) {
	if err := checkMAC(sha); err != nil {
		return nil, err
	}
	if err := checkMAC(tha); err != nil {
		return nil, err
	}
	p, err := arp.NewPacket(op, sha, spa, tha, tpa)
	if err != nil {
		return nil, fmt.Errorf("arpnd: arp packet: %w", err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("arpnd: arp packet: %w", err)
	}
	f := ethernet.Frame{Destination: dst, Source: sha, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

// MarshalUnsolicitedNA returns the Ethernet frame of an unsolicited
// Neighbor Advertisement for vip (RFC 4861 section 7.2.6; RFC 9568 section
// 6.4.1 asks for one per IPv6 address with the Router flag set): from src
// to 33-33-00-00-00-01, IPv6 from srcIP to ff02::1 with hop limit 255,
// ICMPv6 type 136 with the Router and Override flags (Solicited clear),
// target vip and a Target Link-Layer Address option carrying src. The
// ICMPv6 checksum covers the IPv6 pseudo-header.
//
// srcIP should be the sending interface's link-local address (RFC 4861
// section 4.4 says an address assigned to the interface). keepalived sends
// the virtual address itself as the source; pass vip for that form.
func MarshalUnsolicitedNA(src net.HardwareAddr, srcIP, vip netip.Addr) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Router:        true,
		Override:      true,
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: src}},
	}
	return marshalND(allNodesMAC, src, srcIP, allNodes, na)
}

// marshalND builds an Ethernet frame carrying an IPv6 packet with an NDP
// message. ipv6.Header has no Marshal, so the 40-byte header is written
// here (RFC 8200 section 3).
func marshalND(dst, src net.HardwareAddr, srcIP, dstIP netip.Addr, m ndp.Message) ([]byte, error) {
	if err := checkMAC(src); err != nil {
		return nil, err
	}
	if err := checkMAC(dst); err != nil {
		return nil, err
	}
	for _, a := range []netip.Addr{srcIP, dstIP} {
		if !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("%w: %v", ErrNotIPv6, a)
		}
	}
	icmp, err := ndp.MarshalMessageChecksum(m, srcIP.WithZone(""), dstIP.WithZone(""))
	if err != nil {
		return nil, fmt.Errorf("arpnd: ndp message: %w", err)
	}
	b := make([]byte, ipv6HeaderLen+len(icmp))
	b[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(b[4:6], uint16(len(icmp)))
	b[6] = protoICMPv6
	b[7] = hopLimitND
	s, d := srcIP.As16(), dstIP.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	copy(b[40:], icmp)
	f := ethernet.Frame{Destination: dst, Source: src, EtherType: ethernet.EtherTypeIPv6, Payload: b}
	return f.MarshalBinary()
}

// arpReply answers the ARP request in frame (an Ethernet frame) if it asks
// for an address that answer says we own. It returns the reply frame, or
// errNotForUs / errMalformed. A request whose sender IP is 0.0.0.0 (an RFC
// 5227 probe) is answered too, as Linux does, to defend the address.
// Gratuitous requests (sender IP = target IP) are not answered.
func arpReply(frame []byte, answer func(netip.Addr) (net.HardwareAddr, bool)) ([]byte, netip.Addr, error) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil {
		return nil, netip.Addr{}, fmt.Errorf("%w: ethernet: %v", errMalformed, err)
	}
	if f.EtherType != ethernet.EtherTypeARP {
		return nil, netip.Addr{}, errNotForUs
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		return nil, netip.Addr{}, fmt.Errorf("%w: arp: %v", errMalformed, err)
	}
	if p.HardwareType != 1 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) ||
		p.HardwareAddrLength != 6 || p.IPLength != 4 {
		return nil, netip.Addr{}, fmt.Errorf("%w: arp: not Ethernet/IPv4", errMalformed)
	}
	if p.Operation != arp.OperationRequest || p.SenderIP == p.TargetIP {
		return nil, netip.Addr{}, errNotForUs
	}
	hw, ok := answer(p.TargetIP)
	if !ok {
		return nil, netip.Addr{}, errNotForUs
	}
	b, err := marshalARP(arp.OperationReply, p.SenderHardwareAddr, hw, p.TargetIP, p.SenderHardwareAddr, p.SenderIP)
	return b, p.TargetIP, err
}

// naReply answers the Neighbor Solicitation in frame if its target is an
// address that answer says we own (RFC 4861 section 7.2.4): a solicited NA
// with the Router, Solicited and Override flags and a Target Link-Layer
// Address option, sent unicast to the solicitor at the link-layer address
// of its Source Link-Layer Address option (or the frame's source). A
// solicitation from the unspecified address (duplicate address detection)
// is answered to ff02::1 with Solicited clear. The IPv6 source of the
// reply is the target address, as Linux sends it (RFC 4861 section 7.2.4:
// an address assigned to the interface; the virtual address is the
// virtual router's). ndisc6 ignores answers from another source.
//
// The solicitation is validated as RFC 4861 section 7.1.1 says: hop limit
// 255, ICMP code 0, a correct checksum, a non-multicast target, and from
// the unspecified address only to a solicited-node group without a source
// link-layer address option.
func naReply(frame []byte, answer func(netip.Addr) (net.HardwareAddr, bool)) ([]byte, netip.Addr, error) {
	f, src, dst, icmp, err := icmpv6In(frame, icmpTypeNS, 24)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	m, err := ndp.ParseMessage(icmp)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	ns, ok := m.(*ndp.NeighborSolicitation)
	if !ok {
		return nil, netip.Addr{}, errNotForUs
	}
	if ns.TargetAddress.IsMulticast() {
		return nil, netip.Addr{}, fmt.Errorf("%w: multicast target", errMalformed)
	}
	var sll net.HardwareAddr
	for _, o := range ns.Options {
		if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Source {
			sll = l.Addr
		}
	}
	dad := src.IsUnspecified()
	if dad && (dst != solicitedNode(ns.TargetAddress) || sll != nil) {
		return nil, netip.Addr{}, fmt.Errorf("%w: bad DAD solicitation", errMalformed)
	}
	hw, ok := answer(ns.TargetAddress)
	if !ok {
		return nil, netip.Addr{}, errNotForUs
	}
	na := &ndp.NeighborAdvertisement{
		Router:        true,
		Solicited:     !dad,
		Override:      true,
		TargetAddress: ns.TargetAddress,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: hw}},
	}
	dstMAC, dstIP := sll, src
	if dstMAC == nil {
		dstMAC = f.Source
	}
	if dad {
		dstMAC, dstIP = allNodesMAC, allNodes
	}
	out, err := marshalND(dstMAC, hw, ns.TargetAddress, dstIP, na)
	return out, ns.TargetAddress, err
}

// ICMPv6 types the responder reads (RFC 4861 section 4).
const (
	icmpTypeRS = 133
	icmpTypeNS = 135
)

// icmpv6In parses frame as an Ethernet frame carrying an IPv6 packet with
// an ICMPv6 message of type typ (no extension headers) and validates what
// RFC 4861 section 6.1.1 and 7.1.1 ask of every ND message: hop limit 255,
// ICMP code 0, at least minLen bytes and a correct checksum. It returns
// errNotForUs for other frames and errMalformed for invalid ones.
func icmpv6In(frame []byte, typ byte, minLen int) (f ethernet.Frame, src, dst netip.Addr, icmp []byte, err error) {
	if err := f.UnmarshalBinary(frame); err != nil {
		return f, src, dst, nil, fmt.Errorf("%w: ethernet: %v", errMalformed, err)
	}
	if f.EtherType != ethernet.EtherTypeIPv6 {
		return f, src, dst, nil, errNotForUs
	}
	b := f.Payload
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 {
		return f, src, dst, nil, fmt.Errorf("%w: ipv6 header", errMalformed)
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if b[6] != protoICMPv6 {
		return f, src, dst, nil, errNotForUs
	}
	if ipv6HeaderLen+plen > len(b) {
		return f, src, dst, nil, fmt.Errorf("%w: ipv6 payload length %d > %d", errMalformed, plen, len(b)-ipv6HeaderLen)
	}
	icmp = b[ipv6HeaderLen : ipv6HeaderLen+plen]
	if len(icmp) < 1 || icmp[0] != typ {
		return f, src, dst, nil, errNotForUs
	}
	if b[7] != hopLimitND {
		return f, src, dst, nil, fmt.Errorf("%w: hop limit %d", errMalformed, b[7])
	}
	src = netip.AddrFrom16([16]byte(b[8:24]))
	dst = netip.AddrFrom16([16]byte(b[24:40]))
	if len(icmp) < minLen {
		return f, src, dst, nil, fmt.Errorf("%w: icmpv6 length %d", errMalformed, len(icmp))
	}
	if icmp[1] != 0 {
		return f, src, dst, nil, fmt.Errorf("%w: icmpv6 code %d", errMalformed, icmp[1])
	}
	if icmpv6Checksum(src, dst, icmp) != 0 {
		return f, src, dst, nil, fmt.Errorf("%w: icmpv6 checksum", errMalformed)
	}
	return f, src, dst, icmp, nil
}

// icmpv6Checksum returns the one's complement sum (RFC 1071) of the IPv6
// pseudo-header (RFC 8200 section 8.1) and msg: 0 when msg carries a
// correct checksum.
func icmpv6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(b[0])<<8 | uint32(b[1])
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = protoICMPv6
	add(l[:])
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
