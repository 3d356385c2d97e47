package packet

import "net/netip"

// Unmarshal parses the VRRP message at the start of b into a, reusing the
// storage of a.Addrs, and verifies its checksum. src and dst are the IP
// source and destination of the packet: the checksum's pseudo-header needs
// them, and src gives the address family. Bytes after the message
// (link-layer padding) are ignored.
//
// On ErrChecksum every field of a is filled in; on other errors a is
// undefined.
func (a *Advertisement) Unmarshal(b []byte, src, dst netip.Addr) (Info, error) {
	panic("TODO")
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
func (a *Advertisement) Append(b []byte, src, dst netip.Addr, form Checksum) ([]byte, error) {
	panic("TODO")
}
