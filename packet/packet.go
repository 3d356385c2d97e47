package packet

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol is the IP protocol number (IPv4) and next header (IPv6) of VRRP,
// RFC 9568 section 5.1.1.3 and section 5.1.2.3.
const Protocol = 112

// Multicast group addresses advertisements are sent to, RFC 9568 section
// 5.1.1.2 and section 5.1.2.2.
var (
	GroupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupIPv6 = netip.MustParseAddr("ff02::12")
)

// TTL is the only IPv4 TTL / IPv6 hop limit a valid advertisement carries,
// RFC 9568 section 5.1.1.3 and section 7.1.
const TTL = 255

// HeaderLen is the length of the fixed VRRP header that precedes the
// address list, for both versions.
const HeaderLen = 8

// MaxPaddedIPv4Len is the longest a VRRP payload of an IPv4 packet can be
// after Ethernet padding: a frame is padded to 60 bytes, 46 after the
// Ethernet header, 26 after an IPv4 header without options. Unmarshal uses
// it to tell padding from addresses when it has no IP addresses to go by.
const MaxPaddedIPv4Len = 46 - 20

// AuthDataLen is the length of the VRRPv2 authentication data that follows
// the address list, RFC 3768 section 5.3.10.
const AuthDataLen = 8

// MaxAddrs is the most addresses one advertisement can carry (the Count
// IPvX Addr field is one byte).
const MaxAddrs = 255

// Type is the VRRP message type, RFC 9568 section 5.2.2. Advertisement (1)
// is the only type defined.
type Type uint8

// TypeAdvertisement is the VRRP ADVERTISEMENT message type.
const TypeAdvertisement Type = 1

// AuthType is the VRRPv2 Auth Type field, RFC 3768 section 5.3.6. RFC 3768
// keeps only AuthNone; simple text passwords come from RFC 2338 and are
// still sent by keepalived (auth_type PASS).
type AuthType uint8

// Authentication types, RFC 2338 section 5.3.6.
const (
	AuthNone AuthType = 0 // no authentication
	AuthPass AuthType = 1 // simple text password (RFC 2338)
	AuthAH   AuthType = 2 // IP Authentication Header (obsolete)
)

// Checksum names how an advertisement's checksum is computed, RFC 9568
// section 5.2.8 and RFC 3768 section 5.3.8.
type Checksum uint8

const (
	// ChecksumUnknown is the zero value. As an input to Append it means
	// "the default for this version and family": ChecksumPseudoHeader for
	// VRRPv3 (what keepalived and FRR send over IPv4, and the only form over
	// IPv6) and ChecksumMessage for VRRPv2.
	ChecksumUnknown Checksum = iota
	// ChecksumMessage is the checksum over the VRRP message alone: the only
	// form of VRRPv2, and the RFC 9568 form of VRRPv3 over IPv4 (keepalived
	// calls it v3_checksum_as_v2).
	ChecksumMessage
	// ChecksumPseudoHeader is the checksum over the IP pseudo-header and the
	// VRRP message: the only form of VRRPv3 over IPv6, and the RFC 5798
	// reading of VRRPv3 over IPv4 that keepalived and FRR send by default.
	ChecksumPseudoHeader
)

// Advertisement is a VRRP ADVERTISEMENT message: VRRPv3 as described in RFC
// 9568 section 5.2, or VRRPv2 as described in RFC 3768 section 5.3.
//
// The zero value is not a valid advertisement; fill in at least Version,
// VRID, Priority, MaxAdvertInt and Addrs.
type Advertisement struct {
	// Version is 2 (RFC 3768) or 3 (RFC 9568).
	Version uint8
	// Type is the message type; only TypeAdvertisement is valid. Append
	// writes TypeAdvertisement when Type is zero.
	Type Type
	// VRID is the Virtual Router Identifier, 1-255 (0 is invalid but
	// parsed; the receiver counts it as a VRID error).
	VRID uint8
	// Priority is the sender's priority: 255 for the address owner, 1-254
	// for backups, 0 for a master that is leaving.
	Priority uint8
	// MaxAdvertInt is the advertisement interval as carried on the wire.
	// VRRPv3: the 12-bit Max Adver Int in centiseconds (1-4095). VRRPv2:
	// the 8-bit Adver Int in whole seconds (1-255). Use Interval and
	// SetInterval to convert to and from time.Duration.
	MaxAdvertInt uint16
	// AuthType is the VRRPv2 Auth Type; it must be AuthNone for VRRPv3
	// (where the byte is reserved).
	AuthType AuthType
	// AuthData is the VRRPv2 Authentication Data; for AuthPass, the
	// password padded with zero bytes. Unused for VRRPv3.
	AuthData [AuthDataLen]byte
	// Addrs are the virtual addresses, all IPv4 or all IPv6 (RFC 9568
	// section 5.2.9). For IPv6 the first one should be the virtual router's
	// link-local address.
	Addrs []netip.Addr
	// Checksum is the checksum field as parsed, or as last written by
	// Append.
	Checksum uint16
}

// Interval returns the advertisement interval as a duration: MaxAdvertInt
// centiseconds for VRRPv3 and MaxAdvertInt seconds for VRRPv2.
func (a *Advertisement) Interval() time.Duration {
	if a.Version == 2 {
		return time.Duration(a.MaxAdvertInt) * time.Second
	}
	return time.Duration(a.MaxAdvertInt) * 10 * time.Millisecond
}

// SetInterval sets MaxAdvertInt from d, which must be a whole number of
// centiseconds in 10ms-40.95s for VRRPv3, or a whole number of seconds in
// 1s-255s for VRRPv2. Set Version first.
func (a *Advertisement) SetInterval(d time.Duration) error {
	if a.Version == 2 {
		if d%time.Second != 0 || d < time.Second || d > 255*time.Second {
			return &FieldError{Field: "MaxAdvertInt", Value: d.String(), Allowed: "whole seconds from 1s to 255s for VRRPv2"}
		}
		a.MaxAdvertInt = uint16(d / time.Second)
		return nil
	}
	if d%(10*time.Millisecond) != 0 || d < 10*time.Millisecond || d > 4095*10*time.Millisecond {
		return &FieldError{Field: "MaxAdvertInt", Value: d.String(), Allowed: "multiples of 10ms from 10ms to 40.95s for VRRPv3"}
	}
	a.MaxAdvertInt = uint16(d / (10 * time.Millisecond))
	return nil
}

// Info reports facts about a parsed advertisement that are not fields of
// the message.
type Info struct {
	// Checksum is the form in which the checksum verified.
	Checksum Checksum
	// NoLinkLocalFirst is set for a VRRPv3 IPv6 advertisement whose first
	// address is not link-local, which RFC 9568 section 5.2.9 requires but
	// keepalived does not send. The advertisement is otherwise valid;
	// callers decide whether to count or drop it.
	NoLinkLocalFirst bool
	// Len is the length of the VRRP message; bytes after it (link-layer
	// padding) were ignored.
	Len int
}

// Errors returned by Parse and Unmarshal, usable with errors.Is. Each maps
// onto one counter of the RFC 6527 statistics; see the vrrp package.
var (
	// ErrLength matches every length error, all counted in RFC 6527
	// vrrpv3StatisticsPacketLengthErrors: the "too short" errors
	// ErrShortHeader, ErrShortAddrs and ErrShortAuth, and ErrFamily.
	ErrLength      = errors.New("packet: too short")
	ErrShortHeader = &lengthError{"packet: shorter than the 8-byte VRRP header"}
	ErrShortAddrs  = &lengthError{"packet: shorter than its address count says"}
	ErrShortAuth   = &lengthError{"packet: VRRPv2 authentication data missing"}
	// ErrVersion: version is not 2 or 3 (vrrpv3RouterVersionErrors).
	ErrVersion = errors.New("packet: version is not 2 or 3")
	// ErrType: type is not ADVERTISEMENT (vrrpv3StatisticsRcvdInvalidTypePackets).
	ErrType = errors.New("packet: type is not ADVERTISEMENT")
	// ErrNoAddrs: Count IPvX Addr is 0 (vrrpv3StatisticsAddressListErrors).
	ErrNoAddrs = errors.New("packet: address count is 0")
	// ErrZeroInterval: Max Adver Int / Adver Int is 0
	// (vrrpv3StatisticsAdvIntervalErrors).
	ErrZeroInterval = errors.New("packet: advertisement interval is 0")
	// ErrFamily: the addresses cannot be of the family the length and the
	// IP source say, for example VRRPv2 over IPv6, or a length that is
	// exactly that of the other family's addresses (see Unmarshal). It is
	// counted in vrrpv3StatisticsPacketLengthErrors like the "too short"
	// errors, and errors.Is(ErrFamily, ErrLength) is true.
	ErrFamily = &lengthError{"packet: address family does not match"}
	// ErrChecksum: the checksum verifies in no accepted form
	// (vrrpv3RouterChecksumErrors).
	ErrChecksum = errors.New("packet: checksum mismatch")
)

type lengthError struct{ s string }

func (e *lengthError) Error() string        { return e.s }
func (e *lengthError) Is(target error) bool { return target == ErrLength }

// ErrField matches every *FieldError.
var ErrField = errors.New("packet: field out of range")

// A FieldError reports a value that cannot be encoded: it names the field,
// the value and what is allowed.
type FieldError struct {
	Field   string
	Value   string
	Allowed string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("packet: %s %s out of range: want %s", e.Field, e.Value, e.Allowed)
}

// Is makes errors.Is(err, ErrField) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrField }
