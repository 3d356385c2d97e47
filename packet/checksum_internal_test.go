package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// rfc1071 is the plain RFC 1071 checksum, 16 bits at a time, over the
// concatenation of bs: the reference the fused sums of Append and
// Unmarshal are checked against.
func rfc1071(bs ...[]byte) uint16 {
	var all []byte
	for _, b := range bs {
		all = append(all, b...)
	}
	var s uint32
	for i := 0; i+1 < len(all); i += 2 {
		s += uint32(all[i])<<8 | uint32(all[i+1])
	}
	if len(all)%2 == 1 {
		s += uint32(all[len(all)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// pseudoHeader builds the pseudo-header bytes: RFC 768 for IPv4, RFC 8200
// section 8.1 for IPv6.
func pseudoHeader(src, dst netip.Addr, n int) []byte {
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		return append(append(s[:], d[:]...), 0, Protocol, byte(n>>8), byte(n))
	}
	s, d := src.As16(), dst.As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return append(b, 0, 0, 0, Protocol)
}

// TestChecksumReference marshals random advertisements in every form they
// have and checks the checksum against the plain RFC 1071 sum, then parses
// them back.
func TestChecksumReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	randAddr := func(v6 bool) netip.Addr {
		if !v6 {
			return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
		}
		var b [16]byte
		binary.BigEndian.PutUint64(b[:], r.Uint64())
		binary.BigEndian.PutUint64(b[8:], r.Uint64())
		return netip.AddrFrom16(b)
	}
	for i := range 3000 {
		version := uint8(2 + r.IntN(2))
		v6 := version == 3 && r.IntN(2) == 0
		a := Advertisement{
			Version:  version,
			VRID:     uint8(r.Uint32()),
			Priority: uint8(r.Uint32()),
			Addrs:    make([]netip.Addr, 1+r.IntN(MaxAddrs)),
		}
		if version == 2 {
			a.MaxAdvertInt = uint16(1 + r.IntN(255))
			a.AuthType = AuthType(r.IntN(3))
			binary.BigEndian.PutUint64(a.AuthData[:], r.Uint64())
		} else {
			a.MaxAdvertInt = uint16(1 + r.IntN(4095))
		}
		for j := range a.Addrs {
			a.Addrs[j] = randAddr(v6)
		}
		src, dst := randAddr(v6), randAddr(v6)
		if v6 && i%7 == 0 {
			src = src.WithZone("eth0") // zones are not part of the sum
		}
		forms := []Checksum{ChecksumMessage}
		switch {
		case v6:
			forms = []Checksum{ChecksumPseudoHeader}
		case version == 3:
			forms = append(forms, ChecksumPseudoHeader)
		}
		for _, form := range forms {
			b, err := a.Append(nil, src, dst, form)
			if err != nil {
				t.Fatalf("Append %+v: %v", a, err)
			}
			zeroed := append([]byte(nil), b...)
			zeroed[6], zeroed[7] = 0, 0
			want := rfc1071(zeroed)
			if form == ChecksumPseudoHeader {
				want = rfc1071(pseudoHeader(src, dst, len(b)), zeroed)
			}
			if got := binary.BigEndian.Uint16(b[6:]); got != want {
				t.Fatalf("v%d v6=%v %d addrs form %v: checksum %#04x, want %#04x", version, v6, len(a.Addrs), form, got, want)
			}
			var p Advertisement
			info, err := p.Unmarshal(b, src, dst)
			if err != nil || info.Len != len(b) {
				t.Fatalf("Unmarshal: %v, Len %d of %d", err, info.Len, len(b))
			}
			// Both IPv4 forms agree only when the pseudo-header sums to
			// one's complement zero; otherwise the reported form is the
			// one sent.
			if info.Checksum != form && rfc1071(pseudoHeader(src, dst, len(b))) != 0 {
				t.Fatalf("Unmarshal reports %v, sent %v", info.Checksum, form)
			}
		}
	}
}
