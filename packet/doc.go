// Package packet encodes and decodes VRRP ADVERTISEMENT messages: VRRPv3
// as described in RFC 9568 section 5 (IPv4 and IPv6) and VRRPv2 as
// described in RFC 3768 section 5 (IPv4). It is pure: no sockets, no
// clock, no goroutines, and its hot paths do not allocate.
//
// One type, Advertisement, holds both versions. Unmarshal (and Parse)
// validate and decode a message received with a given IP source and
// destination; Append encodes one into a caller's buffer with its
// checksum. The IP header itself (TTL / hop limit 255, protocol 112, the
// group address) belongs to the transport.
//
// # Checksum forms
//
// VRRP uses the Internet checksum of RFC 1071, over different bytes:
//
//   - VRRPv2 (RFC 3768 section 5.3.8): the VRRP message alone.
//     Info.Checksum reports ChecksumMessage.
//   - VRRPv3 over IPv6 (RFC 9568 section 5.2.8): the IPv6 pseudo-header of
//     RFC 8200 section 8.1 (source, destination, 32-bit length, next header
//     112) followed by the message. This is ChecksumPseudoHeader, the only
//     form for IPv6.
//   - VRRPv3 over IPv4 comes in two forms. RFC 9568 section 5.2.8 specifies
//     the message alone (ChecksumMessage), as Cisco and Juniper send it.
//     RFC 5798 was widely read as "with the IPv4 pseudo-header" (source,
//     destination, zero, protocol 112, 16-bit length), and keepalived and
//     FRR send that form by default (ChecksumPseudoHeader; keepalived's
//     v3_checksum_as_v2 and FRR's "no checksum-with-ipv4-pseudoheader"
//     switch to the RFC 9568 form). Unmarshal accepts either and reports
//     in Info.Checksum which one verified, so that a receiver can count the
//     forms its peers use; Append sends the form it is given, by default
//     the pseudo-header form that the deployed peers expect.
//
// # Intervals
//
// MaxAdvertInt is the interval as carried on the wire: whole seconds,
// 1-255, for VRRPv2 (RFC 3768 section 5.3.7), and centiseconds, 1-4095
// (10 ms to 40.95 s), for VRRPv3 (RFC 9568 section 5.2.7). Interval and
// SetInterval convert exactly; nothing finer than the wire unit is
// representable, and nothing is rounded. Timers derived from the interval
// (Skew_Time, Master_Down_Interval) are the vrrp package's business, which
// keeps them at full precision rather than in whole centiseconds.
//
// # Errors and RFC 6527 statistics
//
// Every validation failure of Unmarshal is a distinct error usable with
// errors.Is, and each maps onto one counter of the VRRPv3 MIB (RFC 6527):
//
//	ErrShortHeader, ErrShortAddrs,
//	ErrShortAuth, ErrFamily
//	(all match ErrLength)               vrrpv3StatisticsPacketLengthErrors
//	ErrVersion                          vrrpv3RouterVersionErrors
//	ErrType                             vrrpv3StatisticsRcvdInvalidTypePackets
//	ErrNoAddrs                          vrrpv3StatisticsAddressListErrors
//	ErrZeroInterval                     vrrpv3StatisticsAdvIntervalErrors
//	ErrChecksum                         vrrpv3RouterChecksumErrors
//
// Unmarshal documents the order in which the checks run. An IPv6
// advertisement whose first address is not link-local (RFC 9568 section
// 5.2.9) is not an error but is reported in Info.NoLinkLocalFirst, since
// keepalived sends such lists. Trailing bytes after the message, such as
// Ethernet padding, are ignored and never read as addresses (Unmarshal
// says how the address family is chosen when the IP source is zero, and
// why an IPv4 message of exactly an IPv6 length is ErrFamily). Append
// reports values it cannot encode as a *FieldError naming the field
// (errors.Is(err, ErrField)).
package packet
