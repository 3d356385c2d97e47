package packet_test

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
)

// The seed corpus in testdata/fuzz/<Target>/ holds every distinct VRRP
// packet of the captures and the field-by-field vectors, with their IP
// source and destination, and a few malformed variants. Regenerate it with
// `go test -run TestWriteSeeds -seeds` (files found by `go test -fuzz` are
// kept beside it as regression inputs).
var writeSeeds = flag.Bool("seeds", false, "rewrite the generated fuzz seed corpus")

// fuzzAddr makes the IP source or destination from fuzz bytes: 4 or 16
// bytes give an address, anything else the zero Addr.
func fuzzAddr(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

var parseErrors = []error{
	packet.ErrShortHeader, packet.ErrShortAddrs, packet.ErrShortAuth, packet.ErrVersion,
	packet.ErrType, packet.ErrNoAddrs, packet.ErrZeroInterval, packet.ErrFamily, packet.ErrChecksum,
}

// FuzzParse checks that Unmarshal never panics, returns only its
// sentinels, and keeps its promises about Info.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b, srcB, dstB []byte) {
		src, dst := fuzzAddr(srcB), fuzzAddr(dstB)
		var a packet.Advertisement
		info, err := a.Unmarshal(b, src, dst)
		known := err == nil
		for _, e := range parseErrors {
			known = known || err == e
		}
		if !known {
			t.Fatalf("Unmarshal returned %v, not one of the sentinels", err)
		}
		if err != nil && err != packet.ErrChecksum {
			return
		}
		if info.Len > len(b) || info.Len < packet.HeaderLen+4 {
			t.Fatalf("Info.Len %d for %d bytes", info.Len, len(b))
		}
		if len(a.Addrs) != int(b[3]) || len(a.Addrs) == 0 {
			t.Fatalf("%d addresses, count field %d", len(a.Addrs), b[3])
		}
		if (err == nil) != (info.Checksum != packet.ChecksumUnknown) {
			t.Fatalf("err %v with Info.Checksum %v", err, info.Checksum)
		}
		if a.Version == 2 && info.Checksum == packet.ChecksumPseudoHeader {
			t.Fatal("VRRPv2 verified with a pseudo-header")
		}
		if info.NoLinkLocalFirst && (a.Version != 3 || !a.Addrs[0].Is6()) {
			t.Fatalf("NoLinkLocalFirst on %v", a.Addrs)
		}
	})
}

// FuzzParseMarshal checks that parse -> marshal in the reported form ->
// parse is stable and that the bytes are equal up to the message length.
// Two differences are allowed and checked exactly: the reserved bits of
// VRRPv3 are ignored on receive and sent as zero (RFC 9568 section 5.2.6),
// which changes the checksum; and a checksum of 0xffff, which verifies
// like 0x0000 (both are one's complement zero), is sent as 0x0000.
func FuzzParseMarshal(f *testing.F) {
	f.Fuzz(func(t *testing.T, b, srcB, dstB []byte) {
		src, dst := fuzzAddr(srcB), fuzzAddr(dstB)
		a, info, err := packet.Parse(b, src, dst)
		if err != nil {
			return
		}
		out, err := a.Append(nil, src, dst, info.Checksum)
		if err != nil {
			t.Fatalf("Append of a parsed advertisement: %v\n%+v", err, a)
		}
		want := bytes.Clone(b[:info.Len])
		if a.Version == 3 {
			want[4] &= 0x0f
		}
		reserved := a.Version == 3 && b[4]&0xf0 != 0
		if reserved {
			copy(want[6:8], out[6:8]) // the checksum must change with the reserved bits
		} else if want[6] == 0xff && want[7] == 0xff && out[6] == 0 && out[7] == 0 {
			want[6], want[7] = 0, 0
		}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Fatalf("Append (-want +got):\n%s", diff)
		}
		a2, info2, err := packet.Parse(out, src, dst)
		if err != nil {
			t.Fatalf("Parse of the marshalled advertisement: %v", err)
		}
		if diff := cmp.Diff(info, info2); diff != "" {
			t.Fatalf("Info (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(a, a2, addrCmp); diff != "" {
			t.Fatalf("Advertisement (-first +second):\n%s", diff)
		}
	})
}

// TestWriteSeeds writes the seed corpus when -seeds is given.
func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -seeds to rewrite testdata/fuzz")
	}
	type seed struct {
		name        string
		b, src, dst []byte
	}
	var seeds []seed
	add := func(name string, b []byte, src, dst netip.Addr) {
		seeds = append(seeds, seed{name, b, src.AsSlice(), dst.AsSlice()})
	}
	seen := map[string]bool{}
	for _, file := range captures(t) {
		for _, p := range readCapture(t, file) {
			key := string(p.msg) + p.src.String() + p.dst.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			add(fmt.Sprintf("capture-%s-frame-%d", strings.TrimSuffix(filepath.Base(file), ".pcap"), p.frame), p.msg, p.src, p.dst)
		}
	}
	for i, v := range vectors {
		w := join(v.fields)
		name := fmt.Sprintf("vector-%d-%s", i, strings.NewReplacer(" ", "-", ",", "").Replace(v.name))
		add(name, w, v.src, v.dst)
		add(name+"-padded", append(bytes.Clone(w), make([]byte, 14)...), v.src, v.dst)
		add(name+"-zero-src", w, netip.Addr{}, netip.Addr{})
		bad := bytes.Clone(w)
		bad[7] ^= 1
		add(name+"-bad-checksum", bad, v.src, v.dst)
		add(name+"-short", w[:len(w)-1], v.src, v.dst)
	}
	for _, target := range []string{"FuzzParse", "FuzzParseMarshal"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n", s.b, s.src, s.dst)
			if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("wrote %d seeds per target", len(seeds))
}
