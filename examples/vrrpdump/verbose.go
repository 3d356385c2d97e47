package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/govrrp/govrrp/packet"
)

// This file holds what -v adds: the fields after err= of a VRRP line
// (link-layer addresses, VRRPv2 authentication, the checksum and what it
// should be, every validation failure) and the lines of gratuitous ARPs
// and unsolicited neighbor advertisements.

const (
	etherTypeARP = 0x0806
	protoICMPv6  = 58
)

// allNodes is ff02::1, where an unsolicited neighbor advertisement goes
// (RFC 4861 section 7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// appendVerbose appends the -v fields of a VRRP line: smac dmac auth sum
// want errs.
func (d *dumper) appendVerbose(b []byte, f frame, ip pcap.IP) []byte {
	p := ip.Payload
	st := d.structure(ip)
	b = append(b, " smac="...)
	b = appendMAC(b, f.smac)
	b = append(b, " dmac="...)
	b = appendMAC(b, f.dmac)

	b = append(b, " auth="...)
	switch {
	case len(p) < 5 || p[0]>>4 != 2:
		b = append(b, '-') // VRRPv3 has no authentication
	case p[4] == byte(packet.AuthNone):
		b = append(b, "none"...)
	case p[4] == byte(packet.AuthPass):
		b = append(b, "pass:"...)
		if st.ok {
			b = appendPassword(b, p[st.len-packet.AuthDataLen:st.len])
		} else {
			b = append(b, '-')
		}
	case p[4] == byte(packet.AuthAH):
		b = append(b, "ah"...)
	default:
		b = append(b, "type-"...)
		b = strconv.AppendUint(b, uint64(p[4]), 10)
	}

	b = append(b, " sum="...)
	if len(p) >= packet.HeaderLen {
		b = fmt.Appendf(b, "%#04x", binary.BigEndian.Uint16(p[6:8]))
	} else {
		b = append(b, '-')
	}
	b = append(b, " want="...)
	b = d.appendWant(b, ip, f.snapped)

	b = append(b, " errs="...)
	n := len(b)
	add := func(name string) {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, name...)
	}
	if ip.Truncated {
		add("truncated")
	}
	if len(p) < packet.HeaderLen {
		add("short-header")
	}
	if len(p) >= 1 {
		if v := p[0] >> 4; v != 2 && v != 3 {
			add("version")
		}
		if packet.Type(p[0]&0x0f) != packet.TypeAdvertisement {
			add("type")
		}
	}
	if len(p) >= 2 && p[1] == 0 { // RFC 9568 section 5.2.3: VRID 1-255
		add("vrid")
	}
	if len(p) >= 4 && p[3] == 0 {
		add("no-addrs")
	}
	// The interval's layout depends on the version (RFC 3768 section
	// 5.3.7, RFC 9568 section 5.2.7).
	if len(p) >= 6 && (p[0]>>4 == 2 || p[0]>>4 == 3) {
		iv := uint16(p[5])
		if p[0]>>4 == 3 {
			iv |= uint16(p[4]&0x0f) << 8
		}
		if iv == 0 {
			add("zero-interval")
		}
	}
	// A packet the capture did not get whole has no length or
	// checksum to check.
	if !ip.Truncated {
		if st.err != nil {
			add(errName(st.err))
		}
		// The checksum of a message whose length is known is checked
		// over the message, as the packet package does; of one whose
		// layout is unknown, over the payload in tshark's way.
		if st.ok && !st.sumOK || !st.ok && len(p) >= packet.HeaderLen && verdict(ip, f.snapped) == "bad" {
			add("checksum")
		}
	}
	if ip.TTL != packet.TTL {
		add("ttl")
	}
	// Bytes inside the IP payload after the message (link-layer padding
	// is outside it): an address count smaller than the addresses sent,
	// or junk. Receivers ignore them (RFC 9568 section 7.1 asks only for
	// at least the header).
	if st.ok && !ip.Truncated && len(p) > st.len {
		add("trailing")
	}
	if st.ok && st.noLinkLocalFirst {
		add("no-link-local-first")
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	return b
}

// structure is what the checks past the first error found.
type structure struct {
	ok  bool // the message's layout is known: len and sumOK are set
	len int  // the message's length
	// sumOK: the checksum of the message verifies in a form the version
	// and family accept (RFC 3768 section 5.3.8, RFC 9568 section 5.2.8).
	sumOK            bool
	noLinkLocalFirst bool
	// err is the length or family error (ErrFamily, ErrShortAddrs,
	// ErrShortAuth) of a message whose header says how long it is.
	err error
}

// structure runs the length and family checks of packet.Unmarshal on the
// payload even when an earlier check (type, interval) fails: it unmarshals
// a copy whose type and interval are made valid. The layout depends on the
// version and the address count, so a message of an unknown version or
// with no addresses has no structure to check.
func (d *dumper) structure(ip pcap.IP) structure {
	p := ip.Payload
	if len(p) < packet.HeaderLen || p[3] == 0 {
		return structure{}
	}
	ver := p[0] >> 4
	if ver != 2 && ver != 3 {
		return structure{}
	}
	d.tmp = append(d.tmp[:0], p...)
	t := d.tmp
	t[0] = ver<<4 | byte(packet.TypeAdvertisement)
	if t[5] == 0 && (ver == 2 || t[4]&0x0f == 0) {
		t[5] = 1
	}
	info, err := d.adv2.Unmarshal(t, ip.Src, ip.Dst)
	if err != nil && !errors.Is(err, packet.ErrChecksum) {
		return structure{err: err}
	}
	st := structure{ok: true, len: info.Len, noLinkLocalFirst: info.NoLinkLocalFirst}
	m := p[:info.Len]
	v6 := d.adv2.Addrs[0].Is6()
	switch {
	case ver == 2:
		st.sumOK = sum(0, m) == 0xffff
	case v6:
		st.sumOK = sum(pseudoSum(ip.Src, ip.Dst, len(m)), m) == 0xffff
	default:
		st.sumOK = sum(pseudoSum(ip.Src, ip.Dst, len(m)), m) == 0xffff || sum(0, m) == 0xffff
	}
	return st
}

// appendWant appends what the checksum field should hold, computed over
// the same bytes as the checksum= verdict (the VRRP payload as the IP
// length gives it): pseudo:X for the pseudo-header form (VRRPv3),
// message:X for the message alone (VRRPv2, VRRPv3 over IPv4, any other
// version), both for VRRPv3 over IPv4. - when there is no header or the
// capture cut the packet short.
func (d *dumper) appendWant(b []byte, ip pcap.IP, snapped bool) []byte {
	p := ip.Payload
	if len(p) < packet.HeaderLen || ip.Truncated && snapped {
		return append(b, '-')
	}
	d.tmp = append(d.tmp[:0], p...)
	d.tmp[6], d.tmp[7] = 0, 0
	ver := p[0] >> 4
	if ver == 3 {
		b = fmt.Appendf(b, "pseudo:%#04x", ^sum(pseudoSum(ip.Src, ip.Dst, len(p)), d.tmp))
		if !ip.Src.Is4() {
			return b
		}
		b = append(b, ',')
	}
	return fmt.Appendf(b, "message:%#04x", ^sum(0, d.tmp))
}

// appendPassword appends a VRRPv2 simple text password (RFC 2338 section
// 5.3.10: up to 8 bytes, padded with zero bytes) quoted: the padding is
// dropped, a byte that is not printable ASCII, a space, a quote or a
// backslash is written \xNN.
func appendPassword(b, pw []byte) []byte {
	pw = bytes.TrimRight(pw, "\x00")
	b = append(b, '"')
	for _, c := range pw {
		if c > ' ' && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
		} else {
			b = fmt.Appendf(b, `\x%02x`, c)
		}
	}
	return append(b, '"')
}

// appendMAC appends a MAC address, or - when there is none.
func appendMAC(b []byte, mac net.HardwareAddr) []byte {
	if len(mac) == 0 {
		return append(b, '-')
	}
	return append(b, mac.String()...)
}

// announcement prints, with -v, the line of a gratuitous ARP (an ARP
// request or reply whose sender and target IPv4 addresses are the same,
// RFC 5227 section 3) or of an unsolicited neighbor advertisement (an
// ICMPv6 type 136 with the override flag to ff02::1, RFC 4861 section
// 7.2.6), which a new VRRP master sends for its virtual addresses (RFC 9568
// section 6.4.2). With -vrid, only those for an address that virtual
// router advertised or from its virtual MAC (RFC 9568 section 7.3).
func (d *dumper) announcement(f frame) error {
	if !d.opt.verbose || d.opt.quiet {
		return nil
	}
	var (
		addr netip.Addr
		mac  net.HardwareAddr
		b    []byte
	)
	if f.etherType == etherTypeARP {
		// hardware type 1 (Ethernet), protocol type IPv4, lengths 6
		// and 4, operation, sender MAC, sender IP, target MAC, target
		// IP (RFC 826).
		p := f.b
		if len(p) < 28 || binary.BigEndian.Uint16(p[0:2]) != 1 || binary.BigEndian.Uint16(p[2:4]) != pcap.EtherTypeIPv4 || p[4] != 6 || p[5] != 4 {
			return nil
		}
		spa, tpa := netip.AddrFrom4([4]byte(p[14:18])), netip.AddrFrom4([4]byte(p[24:28]))
		if spa != tpa || spa.IsUnspecified() {
			return nil
		}
		addr, mac = spa, net.HardwareAddr(p[8:14])
		b = d.line[:0]
		b = append(b, "time="...)
		b = f.t.UTC().AppendFormat(b, timeFormat)
		b = append(b, " garp addr="...)
		b = addr.AppendTo(b)
		b = append(b, " mac="...)
		b = appendMAC(b, mac)
		b = append(b, " op="...)
		switch op := binary.BigEndian.Uint16(p[6:8]); op {
		case 1:
			b = append(b, "request"...)
		case 2:
			b = append(b, "reply"...)
		default:
			b = strconv.AppendUint(b, uint64(op), 10)
		}
	} else {
		ip, err := pcap.ParseIP(f.etherType, f.b)
		if err != nil || ip.Dst != allNodes {
			return nil
		}
		// type 136, code, checksum, flags (R S O), reserved, target,
		// options (RFC 4861 section 4.4).
		p := ip.Payload
		if len(p) < 24 || p[0] != 136 || p[1] != 0 || p[4]&0x20 == 0 {
			return nil
		}
		addr = netip.AddrFrom16([16]byte(p[8:24]))
		for o := p[24:]; len(o) >= 2 && o[1] != 0 && len(o) >= 8*int(o[1]); o = o[8*int(o[1]):] {
			if o[0] == 2 && o[1] == 1 { // target link-layer address, Ethernet
				mac = net.HardwareAddr(o[2:8])
				break
			}
		}
		b = d.line[:0]
		b = append(b, "time="...)
		b = f.t.UTC().AppendFormat(b, timeFormat)
		b = append(b, " na addr="...)
		b = addr.AppendTo(b)
		b = append(b, " mac="...)
		b = appendMAC(b, mac)
		b = append(b, " flags="...)
		for i, c := range "RSO" {
			if p[4]&(0x80>>i) != 0 {
				b = append(b, byte(c))
			}
		}
		b = append(b, " src="...)
		b = ip.Src.AppendTo(b)
		b = append(b, " dst="...)
		b = ip.Dst.AppendTo(b)
		b = append(b, " ttl="...)
		b = strconv.AppendUint(b, uint64(ip.TTL), 10)
	}
	if d.opt.vrid != 0 && !d.vips[addr] && !isVMAC(f.smac, d.opt.vrid) && !isVMAC(mac, d.opt.vrid) {
		return nil
	}
	b = append(b, " smac="...)
	b = appendMAC(b, f.smac)
	b = append(b, " dmac="...)
	b = appendMAC(b, f.dmac)
	b = append(b, '\n')
	d.line = b
	_, err := d.w.Write(b)
	return err
}

// isVMAC reports whether mac is the virtual router MAC address of vrid,
// 00-00-5E-00-01-{VRID} (IPv4) or 00-00-5E-00-02-{VRID} (IPv6), RFC 9568
// section 7.3.
func isVMAC(mac net.HardwareAddr, vrid int) bool {
	return len(mac) == 6 && mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 && (mac[4] == 1 || mac[4] == 2) && int(mac[5]) == vrid
}
