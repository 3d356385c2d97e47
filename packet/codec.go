package packet

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
)

// Unmarshal parses the VRRP message at the start of b into a, reusing the
// storage of a.Addrs, and verifies its checksum. src and dst are the IP
// source and destination of the packet: the checksum's pseudo-header needs
// them, and src gives the address family. Bytes after the message
// (link-layer padding) are ignored; Info.Len reports the message length.
//
// The address family of the list comes from src: an IPv4 source means
// 4-byte addresses, an IPv6 source 16-byte addresses (RFC 9568 section
// 5.2.9); an IPv4-mapped IPv6 source counts as IPv4. If src is the zero
// Addr, dst gives the family in the same way; a valid dst of another
// family than src is ErrFamily. A VRRPv2 message of the IPv6 family is
// ErrFamily, since VRRPv2 is IPv4 only (RFC 3768 section 1).
//
// A VRRPv3 message whose length does not fit its family but is exactly the
// length the other family needs for Count addresses is ErrFamily, not a
// length or checksum error: its addresses are of the wrong family. With an
// IPv6 family that is a message of 8+4*Count bytes (shorter than
// 8+16*Count); with an IPv4 family one of exactly 8+16*Count bytes, which
// would otherwise be read as Count IPv4 addresses and trailing bytes.
// Trailing bytes after an IPv4 message are otherwise tolerated because
// Ethernet pads a frame to 60 bytes, and so an IPv4 packet to 46 bytes:
// the VRRP payload of a short IPv4 packet arrives padded to 26 bytes, or
// fewer with IP options (46 minus a header of 20 to 60 bytes: always 2
// more than a multiple of 4). 8+16*Count is a multiple of 8, so padding
// never produces it. An IPv6 payload is not padded: an IPv6 advertisement
// makes a frame of at least 14+40+24 = 78 bytes, and the IPv6 payload
// length excludes any link-layer padding.
//
// If src and dst are both zero, VRRPv2 is IPv4, and a VRRPv3 family is
// inferred from the length, preferring an exact match: exactly 8+4*Count
// bytes is IPv4 and exactly 8+16*Count bytes is IPv6 (Count is at least 1,
// so the two never coincide). A length that matches neither is read as a
// padded IPv4 message if it is at most 26 bytes (MaxPaddedIPv4Len, the
// longest Ethernet padding produces), so that a captured frame's padding is
// never read as an IPv6 address; a longer one is ErrFamily, and one shorter
// than 8+4*Count is ErrShortAddrs. Only the exact IPv6 length is read as
// IPv6: an IPv4 message of Count addresses followed by exactly 12*Count other
// bytes is indistinguishable from an IPv6 message and parses as one. A
// zero src or dst contributes zero bytes to the pseudo-header.
//
// Checks run in this order, and the first failure is returned:
//
//  1. ErrShortHeader: fewer than 8 bytes.
//  2. ErrVersion: the version is not 2 or 3.
//  3. ErrType: the type is not ADVERTISEMENT (1).
//  4. ErrNoAddrs: Count IPvX Addrs is 0.
//  5. ErrZeroInterval: (Max) Adver Int is 0.
//  6. ErrFamily: the family of src, dst, the version and the length disagree
//     (see above).
//  7. ErrShortAddrs: b is shorter than the header plus Count addresses.
//  8. ErrShortAuth: VRRPv2 only, the 8 bytes of authentication data are
//     missing.
//  9. ErrChecksum: the checksum verifies in no accepted form: the message
//     alone for VRRPv2 (RFC 3768 section 5.3.8); the pseudo-header form for
//     VRRPv3 over IPv6; either form for VRRPv3 over IPv4 (RFC 9568 section
//     5.2.8), Info.Checksum telling which one matched.
//
// The reserved bits of a VRRPv3 message are ignored, as RFC 9568 section
// 5.2.6 requires. The TTL / hop limit and the VRID are for the caller to
// check (RFC 9568 section 7.1).
//
// On success and on ErrChecksum every field of a is filled in and Info.Len
// is set; on other errors a is undefined. Unmarshal overwrites the backing
// array of a.Addrs: copy the slice to keep it across calls. Unmarshal does
// not allocate once a.Addrs has capacity for the addresses.
func (a *Advertisement) Unmarshal(b []byte, src, dst netip.Addr) (Info, error) {
	var info Info
	if len(b) < HeaderLen {
		return info, ErrShortHeader
	}
	ver := b[0] >> 4
	if ver != 2 && ver != 3 {
		return info, ErrVersion
	}
	if Type(b[0]&0x0f) != TypeAdvertisement {
		return info, ErrType
	}
	count := int(b[3])
	if count == 0 {
		return info, ErrNoAddrs
	}
	var interval uint16
	if ver == 2 {
		interval = uint16(b[5])
	} else {
		interval = uint16(b[4]&0x0f)<<8 | uint16(b[5])
	}
	if interval == 0 {
		return info, ErrZeroInterval
	}

	src, dst = src.Unmap(), dst.Unmap()
	fam := src
	if !fam.IsValid() {
		fam = dst
	}
	var v6 bool
	switch size := len(b) - HeaderLen; {
	case fam.Is4():
		// Exactly an IPv6 address list: wrong family (see above).
		if ver == 3 && size == 16*count {
			return info, ErrFamily
		}
	case fam.Is6():
		if ver == 2 {
			return info, ErrFamily
		}
		v6 = true
		// Too short for IPv6, exactly an IPv4 address list.
		if size == 4*count {
			return info, ErrFamily
		}
	case ver == 3:
		switch {
		case size == 4*count:
		case size == 16*count:
			v6 = true
		case size < 4*count:
			return info, ErrShortAddrs
		case len(b) > MaxPaddedIPv4Len:
			return info, ErrFamily
		}
	}
	if dst.IsValid() && dst.Is6() != v6 {
		return info, ErrFamily
	}
	alen := 4
	if v6 {
		alen = 16
	}
	n := HeaderLen + alen*count
	if len(b) < n {
		return info, ErrShortAddrs
	}
	if ver == 2 {
		n += AuthDataLen
		if len(b) < n {
			return info, ErrShortAuth
		}
	}
	msg := b[:n]
	info.Len = n

	a.Version = ver
	a.Type = TypeAdvertisement
	a.VRID = msg[1]
	a.Priority = msg[2]
	a.MaxAdvertInt = interval
	a.Checksum = binary.BigEndian.Uint16(msg[6:8])
	if ver == 2 {
		a.AuthType = AuthType(msg[4])
		a.AuthData = [AuthDataLen]byte(msg[n-AuthDataLen:])
	} else {
		a.AuthType = AuthNone
		a.AuthData = [AuthDataLen]byte{}
	}
	// The checksum sum is accumulated while the fields are decoded, 32
	// bits at a time (see checksum.go).
	acc := sum64(binary.BigEndian.Uint64(msg))
	addrs := a.Addrs[:0]
	for off := HeaderLen; off < HeaderLen+alen*count; off += alen {
		if v6 {
			s := (*[16]byte)(msg[off : off+16])
			acc += sum16(s)
			addrs = append(addrs, netip.AddrFrom16(*s))
		} else {
			s := [4]byte(msg[off : off+4])
			acc += uint64(binary.BigEndian.Uint32(s[:]))
			addrs = append(addrs, netip.AddrFrom4(s))
		}
	}
	a.Addrs = addrs
	if ver == 2 {
		acc += sum64(binary.BigEndian.Uint64(msg[n-AuthDataLen:]))
	}
	if v6 && !addrs[0].IsLinkLocalUnicast() {
		info.NoLinkLocalFirst = true
	}

	// A message whose sum, checksum field included, folds to 0xffff
	// verifies (RFC 1071 section 1).
	switch {
	case ver == 2:
		if fold(acc) == 0xffff {
			info.Checksum = ChecksumMessage
		}
	case v6:
		if fold(acc+pseudoSum6(src, dst, n)) == 0xffff {
			info.Checksum = ChecksumPseudoHeader
		}
	case fold(acc+pseudoSum4(src, dst, n)) == 0xffff:
		info.Checksum = ChecksumPseudoHeader
	case fold(acc) == 0xffff:
		info.Checksum = ChecksumMessage
	}
	if info.Checksum == ChecksumUnknown {
		return info, ErrChecksum
	}
	return info, nil
}

// Parse is Unmarshal into a new Advertisement.
func Parse(b []byte, src, dst netip.Addr) (*Advertisement, Info, error) {
	a := new(Advertisement)
	info, err := a.Unmarshal(b, src, dst)
	return a, info, err
}

// Append appends the wire form of a to b with the checksum computed in the
// given form (ChecksumUnknown: the default for the version and family) and
// returns the extended buffer. src and dst are the IP source and
// destination the packet will carry. It sets a.Checksum.
//
// The forms are: for VRRPv2 only ChecksumMessage (RFC 3768 section 5.3.8);
// for VRRPv3 over IPv6 only ChecksumPseudoHeader (RFC 9568 section 5.2.8);
// for VRRPv3 over IPv4 either, ChecksumMessage being what RFC 9568 section
// 5.2.8 specifies and ChecksumPseudoHeader (the default) what keepalived and
// FRR send and expect. A zero src or dst contributes zero bytes to the
// pseudo-header, which is useful only when the kernel computes the checksum.
//
// Append refuses, with a *FieldError naming the field and leaving b
// unchanged, an advertisement it cannot encode: a Version other than 2 or
// 3; a Type other than 0 or TypeAdvertisement; MaxAdvertInt outside 1-255
// (VRRPv2) or 1-4095 (VRRPv3); no addresses or more than MaxAddrs; an
// invalid address; addresses of mixed families, or IPv6 addresses in
// VRRPv2; VRRPv3 with an AuthType or AuthData; a valid src or dst of
// another family than the addresses; a form the version and family do not
// have. Zones of IPv6 addresses are not carried on the wire and are
// dropped. Append does not allocate when b has capacity for the message.
func (a *Advertisement) Append(b []byte, src, dst netip.Addr, form Checksum) ([]byte, error) {
	src, dst = src.Unmap(), dst.Unmap()
	v6, form, err := a.check(src, dst, form)
	if err != nil {
		return b, err
	}
	alen := 4
	if v6 {
		alen = 16
	}
	n := HeaderLen + alen*len(a.Addrs)
	if a.Version == 2 {
		n += AuthDataLen
	}
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	m := b[start:]
	// The words are built from the values and the checksum sum is
	// accumulated from them as they are written, 32 bits at a time (see
	// checksum.go), so that nothing written is read back.
	w0 := uint32(a.Version<<4|uint8(TypeAdvertisement))<<24 | uint32(a.VRID)<<16 | uint32(a.Priority)<<8 | uint32(len(a.Addrs))
	var w1 uint32
	if a.Version == 2 {
		w1 = uint32(a.AuthType)<<24 | uint32(a.MaxAdvertInt)<<16
	} else {
		w1 = uint32(a.MaxAdvertInt) << 16
	}
	binary.BigEndian.PutUint32(m, w0)
	binary.BigEndian.PutUint32(m[4:], w1) // checksum 0 for now
	acc := uint64(w0) + uint64(w1)
	off := HeaderLen
	for _, addr := range a.Addrs {
		if v6 {
			hi, lo := addr16(addr)
			binary.BigEndian.PutUint64(m[off:], hi)
			binary.BigEndian.PutUint64(m[off+8:], lo)
			acc += sum64(hi) + sum64(lo)
		} else {
			s := addr.As4()
			w := binary.BigEndian.Uint32(s[:])
			binary.BigEndian.PutUint32(m[off:], w)
			acc += uint64(w)
		}
		off += alen
	}
	if a.Version == 2 {
		*(*[AuthDataLen]byte)(m[off:]) = a.AuthData
		acc += sum64(binary.BigEndian.Uint64(a.AuthData[:]))
	}
	switch {
	case form != ChecksumPseudoHeader:
	case v6:
		acc += pseudoSum6(src, dst, n)
	default:
		acc += pseudoSum4(src, dst, n)
	}
	a.Checksum = ^fold(acc)
	binary.BigEndian.PutUint16(m[6:8], a.Checksum)
	return b, nil
}

// check validates a for Append, resolves the checksum form and reports
// whether the addresses are IPv6. It tells the families apart with BitLen
// (0 for the zero Addr, 32 for IPv4, 128 for IPv6), one call per address:
// this runs on every marshal.
func (a *Advertisement) check(src, dst netip.Addr, form Checksum) (v6 bool, _ Checksum, _ error) {
	switch a.Version {
	case 2:
		if a.MaxAdvertInt < 1 || a.MaxAdvertInt > 255 {
			return false, 0, &FieldError{Field: "MaxAdvertInt", Value: strconv.Itoa(int(a.MaxAdvertInt)), Allowed: "1-255 seconds for VRRPv2"}
		}
	case 3:
		if a.MaxAdvertInt < 1 || a.MaxAdvertInt > 4095 {
			return false, 0, &FieldError{Field: "MaxAdvertInt", Value: strconv.Itoa(int(a.MaxAdvertInt)), Allowed: "1-4095 centiseconds for VRRPv3"}
		}
		if a.AuthType != AuthNone {
			return false, 0, &FieldError{Field: "AuthType", Value: strconv.Itoa(int(a.AuthType)), Allowed: "AuthNone (0) for VRRPv3"}
		}
		if a.AuthData != [AuthDataLen]byte{} {
			return false, 0, &FieldError{Field: "AuthData", Value: strconv.Quote(string(a.AuthData[:])), Allowed: "all zero for VRRPv3"}
		}
	default:
		return false, 0, &FieldError{Field: "Version", Value: strconv.Itoa(int(a.Version)), Allowed: "2 or 3"}
	}
	if a.Type != 0 && a.Type != TypeAdvertisement {
		return false, 0, &FieldError{Field: "Type", Value: strconv.Itoa(int(a.Type)), Allowed: "0 or 1 (ADVERTISEMENT)"}
	}
	if len(a.Addrs) == 0 || len(a.Addrs) > MaxAddrs {
		return false, 0, &FieldError{Field: "Addrs", Value: strconv.Itoa(len(a.Addrs)) + " addresses", Allowed: "1-255 addresses"}
	}
	bits := a.Addrs[0].BitLen()
	if bits == 0 || a.Version == 2 && bits == 128 {
		return false, 0, a.addrError()
	}
	for _, addr := range a.Addrs[1:] {
		if addr.BitLen() != bits {
			return false, 0, a.addrError()
		}
	}
	v6 = bits == 128
	if sb := src.BitLen(); sb != 0 && sb != bits {
		return false, 0, &FieldError{Field: "src", Value: src.String(), Allowed: "an address of the family of Addrs"}
	}
	if db := dst.BitLen(); db != 0 && db != bits {
		return false, 0, &FieldError{Field: "dst", Value: dst.String(), Allowed: "an address of the family of Addrs"}
	}
	switch {
	case form == ChecksumUnknown && a.Version == 2:
		form = ChecksumMessage
	case form == ChecksumUnknown:
		form = ChecksumPseudoHeader
	case form > ChecksumPseudoHeader:
		return false, 0, &FieldError{Field: "form", Value: form.String(), Allowed: "ChecksumUnknown, ChecksumMessage or ChecksumPseudoHeader"}
	case a.Version == 2 && form != ChecksumMessage:
		return false, 0, &FieldError{Field: "form", Value: form.String(), Allowed: "ChecksumMessage for VRRPv2"}
	case v6 && form != ChecksumPseudoHeader:
		return false, 0, &FieldError{Field: "form", Value: form.String(), Allowed: "ChecksumPseudoHeader for VRRPv3 over IPv6"}
	}
	return v6, form, nil
}

// addrError returns the error for the first address of a.Addrs that check
// refuses: invalid, IPv6 in VRRPv2, or of another family than Addrs[0].
func (a *Advertisement) addrError() error {
	v6 := a.Addrs[0].Is6()
	for i, addr := range a.Addrs {
		switch {
		case !addr.IsValid():
			return &FieldError{Field: "Addrs[" + strconv.Itoa(i) + "]", Value: "invalid address", Allowed: "a valid IPv4 or IPv6 address"}
		case a.Version == 2 && addr.Is6():
			return &FieldError{Field: "Addrs[" + strconv.Itoa(i) + "]", Value: addr.String(), Allowed: "IPv4 addresses for VRRPv2"}
		case addr.Is6() != v6:
			return &FieldError{Field: "Addrs[" + strconv.Itoa(i) + "]", Value: addr.String(), Allowed: "the family of Addrs[0] " + a.Addrs[0].String()}
		}
	}
	panic("packet: addrError called for valid addresses")
}

// String returns the name of the checksum form.
func (c Checksum) String() string {
	switch c {
	case ChecksumUnknown:
		return "ChecksumUnknown"
	case ChecksumMessage:
		return "ChecksumMessage"
	case ChecksumPseudoHeader:
		return "ChecksumPseudoHeader"
	}
	return "Checksum(" + strconv.Itoa(int(c)) + ")"
}
