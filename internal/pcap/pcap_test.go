package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ipv4VRRP is an IPv4 header (TTL 255, protocol 112, 10.99.0.1 ->
// 224.0.0.18, total length 32) and a 12-byte VRRPv3 message.
var ipv4VRRP = []byte{
	0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x00, 0x00,
	10, 99, 0, 1, 224, 0, 0, 18,
	0x31, 0x3d, 0x96, 0x01, 0x00, 0x01, 0x42, 0xfc, 10, 99, 0, 110,
}

func TestCaptures(t *testing.T) {
	tests := []struct {
		file       string
		records    int
		vrrp       int
		firstVRRP  int
		firstTime  time.Time
		firstSrc   string
		firstBytes int
	}{
		// Counts from capinfos and `tshark -Y vrrp`.
		{"keepalived-v2-v3-ipv4-ipv6-handover.pcap", 67, 27, 5, time.Date(2026, 11, 25, 17, 43, 25, 709356000, time.UTC), "10.99.0.1", 16},
		{"keepalived-v3-ipv4-10ms-crash-failover.pcap", 193, 193, 1, time.Time{}, "", 12},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("../../testdata/captures/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != LinkTypeEthernet {
				t.Fatalf("link type %d, want Ethernet", r.LinkType())
			}
			var n, vrrp int
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				if rec.Number != n {
					t.Fatalf("record number %d, want %d", rec.Number, n)
				}
				et, b, err := Network(r.LinkType(), rec.Data)
				if err != nil {
					continue
				}
				ip, err := ParseIP(et, b)
				if err != nil || ip.Protocol != 112 {
					continue
				}
				vrrp++
				if vrrp == 1 {
					if rec.Number != tt.firstVRRP {
						t.Errorf("first VRRP frame %d, want %d", rec.Number, tt.firstVRRP)
					}
					if !tt.firstTime.IsZero() && !rec.Time.Equal(tt.firstTime) {
						t.Errorf("first VRRP time %v, want %v", rec.Time, tt.firstTime)
					}
					if tt.firstSrc != "" && ip.Src.String() != tt.firstSrc {
						t.Errorf("first VRRP src %v, want %v", ip.Src, tt.firstSrc)
					}
					if len(ip.Payload) != tt.firstBytes || ip.TTL != 255 || ip.Truncated {
						t.Errorf("first VRRP payload %d bytes TTL %d truncated %v, want %d bytes TTL 255", len(ip.Payload), ip.TTL, ip.Truncated, tt.firstBytes)
					}
				}
			}
			if n != tt.records || vrrp != tt.vrrp {
				t.Errorf("%d records, %d VRRP, want %d and %d", n, vrrp, tt.records, tt.vrrp)
			}
		})
	}
}

func TestNetworkLinkTypes(t *testing.T) {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	eth := []byte{1, 0, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 0, 1}
	tests := []struct {
		name string
		lt   LinkType
		// frame is the captured frame, link-layer header first.
		frame []byte
	}{
		{"Ethernet", LinkTypeEthernet, cat(eth, []byte{0x08, 0x00}, ipv4VRRP)},
		{"Ethernet padded", LinkTypeEthernet, cat(eth, []byte{0x08, 0x00}, ipv4VRRP, make([]byte, 14))},
		{"802.1Q", LinkTypeEthernet, cat(eth, []byte{0x81, 0x00, 0x00, 0x0a, 0x08, 0x00}, ipv4VRRP)},
		{"QinQ", LinkTypeEthernet, cat(eth, []byte{0x88, 0xa8, 0x00, 0x0b, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00}, ipv4VRRP)},
		{"SLL", LinkTypeLinuxSLL, cat(
			[]byte{0x00, 0x02}, // packet type: multicast
			[]byte{0x00, 0x01}, // ARPHRD_ETHER
			[]byte{0x00, 0x06}, // address length
			[]byte{2, 0, 0, 0, 0, 1, 0, 0},
			[]byte{0x08, 0x00}, // protocol
			ipv4VRRP)},
		{"SLL2", LinkTypeLinuxSLL2, cat(
			[]byte{0x08, 0x00},             // protocol
			[]byte{0x00, 0x00},             // reserved
			[]byte{0x00, 0x00, 0x00, 0x07}, // interface index
			[]byte{0x00, 0x01},             // ARPHRD_ETHER
			[]byte{0x02},                   // packet type: multicast
			[]byte{0x06},                   // address length
			[]byte{2, 0, 0, 0, 0, 1, 0, 0},
			ipv4VRRP)},
		{"raw", LinkTypeRaw, ipv4VRRP},
		{"IPv4", LinkTypeIPv4, ipv4VRRP},
	}
	want := IP{
		Src:      netip.MustParseAddr("10.99.0.1"),
		Dst:      netip.MustParseAddr("224.0.0.18"),
		TTL:      255,
		Protocol: 112,
		Payload:  ipv4VRRP[20:],
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Round trip through a file, too.
			var buf bytes.Buffer
			w, err := NewWriter(&buf, tt.lt)
			if err != nil {
				t.Fatal(err)
			}
			ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
			if err := w.WriteRecord(ts, tt.frame); err != nil {
				t.Fatal(err)
			}
			r, err := NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !rec.Time.Equal(ts) || r.LinkType() != tt.lt {
				t.Errorf("time %v link %d, want %v %d", rec.Time, r.LinkType(), ts, tt.lt)
			}
			et, b, err := Network(r.LinkType(), rec.Data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseIP(et, b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("ParseIP (-want +got):\n%s", diff)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after the last record: %v, want io.EOF", err)
			}
		})
	}
}

func TestIPv6ExtensionHeaders(t *testing.T) {
	src := netip.MustParseAddr("fe80::1")
	dst := netip.MustParseAddr("ff02::12")
	s, d := src.As16(), dst.As16()
	vrrp := []byte{0x31, 0x01, 0x64, 0x01, 0x00, 0x64, 0x00, 0x00}
	hbh := []byte{112, 0, 5, 2, 0, 0, 1, 0} // next 112, router alert option
	hdr := []byte{0x60, 0, 0, 0, 0, byte(len(hbh) + len(vrrp)), 0, 255}
	b := bytes.Join([][]byte{hdr, s[:], d[:], hbh, vrrp, {0xee, 0xee}}, nil) // 2 bytes of padding
	ip, err := ParseIP(EtherTypeIPv6, b)
	if err != nil {
		t.Fatal(err)
	}
	want := IP{Src: src, Dst: dst, TTL: 255, Protocol: 112, Payload: vrrp}
	if diff := cmp.Diff(want, ip, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("ParseIP (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	if _, err := NewReader(bytes.NewReader([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})); !errors.Is(err, ErrFormat) {
		t.Errorf("pcapng: %v, want ErrFormat", err)
	}
	if _, err := NewReader(bytes.NewReader(nil)); !errors.Is(err, ErrFormat) {
		t.Errorf("empty: %v, want ErrFormat", err)
	}
	// Big-endian nanosecond header, then a record cut short.
	h := make([]byte, 24+16+3)
	binary.BigEndian.PutUint32(h[0:], 0xa1b23c4d)
	binary.BigEndian.PutUint32(h[20:], uint32(LinkTypeLinuxSLL2))
	binary.BigEndian.PutUint32(h[24:], 10)
	binary.BigEndian.PutUint32(h[28:], 5)
	binary.BigEndian.PutUint32(h[32:], 10)
	r, err := NewReader(bytes.NewReader(h))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != LinkTypeLinuxSLL2 {
		t.Errorf("link type %d, want SLL2", r.LinkType())
	}
	if _, err := r.Next(); !errors.Is(err, ErrTruncated) {
		t.Errorf("short record: %v, want ErrTruncated", err)
	}
	if _, _, err := Network(LinkType(999), []byte{1}); !errors.Is(err, ErrLinkType) {
		t.Errorf("link type 999: %v, want ErrLinkType", err)
	}
	for _, lt := range []LinkType{LinkTypeEthernet, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeRaw} {
		if _, _, err := Network(lt, nil); !errors.Is(err, ErrTruncated) {
			t.Errorf("empty frame, link type %d: %v, want ErrTruncated", lt, err)
		}
	}
	if _, err := ParseIP(EtherTypeIPv4, ipv4VRRP[:19]); !errors.Is(err, ErrTruncated) {
		t.Errorf("short IPv4: %v, want ErrTruncated", err)
	}
	if _, err := ParseIP(0x0806, ipv4VRRP); !errors.Is(err, ErrNotIP) {
		t.Errorf("ARP: %v, want ErrNotIP", err)
	}
	ip, err := ParseIP(EtherTypeIPv4, ipv4VRRP[:28])
	if err != nil || !ip.Truncated || len(ip.Payload) != 8 {
		t.Errorf("snapped IPv4: %+v, %v; want 8 payload bytes, Truncated", ip, err)
	}
}

// TestWriteRecordLen checks that a record written shorter than its frame
// reads back with the frame's length in OrigLen.
func TestWriteRecordLen(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, orig := range []int{40, 3, 10} {
		if err := w.WriteRecordLen(ts, []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 0, 0}, orig); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{40, 10, 10} {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Data) != 10 || rec.OrigLen != want {
			t.Errorf("record %d: %d bytes, OrigLen %d; want 10, %d", rec.Number, len(rec.Data), rec.OrigLen, want)
		}
	}
}

func TestLinkAddrs(t *testing.T) {
	mac := func(s string) net.HardwareAddr {
		m, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	eth := []byte{1, 0, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	sll := []byte{0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}
	sll2 := []byte{0x08, 0x00, 0, 0, 0, 0, 0, 7, 0, 1, 2, 6, 2, 0, 0, 0, 0, 1, 0, 0}
	tests := []struct {
		name     string
		lt       LinkType
		frame    []byte
		src, dst net.HardwareAddr
	}{
		{"Ethernet", LinkTypeEthernet, eth, mac("02:00:00:00:00:01"), mac("01:00:5e:00:00:12")},
		{"Ethernet cut", LinkTypeEthernet, eth[:13], nil, nil},
		{"SLL", LinkTypeLinuxSLL, sll, mac("02:00:00:00:00:01"), nil},
		{"SLL long address", LinkTypeLinuxSLL, append(append([]byte{}, sll[:5]...), append([]byte{200}, sll[6:]...)...), net.HardwareAddr{2, 0, 0, 0, 0, 1, 0, 0}, nil},
		{"SLL2", LinkTypeLinuxSLL2, sll2, mac("02:00:00:00:00:01"), nil},
		{"SLL2 cut", LinkTypeLinuxSLL2, sll2[:19], nil, nil},
		{"raw", LinkTypeRaw, ipv4VRRP, nil, nil},
	}
	for _, tt := range tests {
		src, dst := LinkAddrs(tt.lt, tt.frame)
		if src.String() != tt.src.String() || dst.String() != tt.dst.String() {
			t.Errorf("%s: %v %v, want %v %v", tt.name, src, dst, tt.src, tt.dst)
		}
	}
}
