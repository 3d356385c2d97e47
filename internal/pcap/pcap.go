// Package pcap reads capture files and peels a captured frame down to its
// IP header. It is a test and tooling helper: enough of the classic libpcap
// format (https://www.tcpdump.org/manpages/pcap-savefile.5.html) and of
// pcapng (RFC draft-ietf-opsawg-pcapng, what tshark and dumpcap write by
// default) to read what tcpdump, tshark and dumpcap write: microsecond or
// nanosecond timestamps (any pcapng if_tsresol), either byte order, several
// pcapng sections and interfaces, with the link types that Linux captures
// use. Malformed input is an error, never a panic.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// LinkType is the link-layer header type of a capture
// (https://www.tcpdump.org/linktypes.html).
type LinkType uint32

// Link types this package can decode with Network.
const (
	LinkTypeEthernet  LinkType = 1   // Ethernet II, with optional 802.1Q / 802.1ad tags
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6, no link header
	LinkTypeLinuxSLL  LinkType = 113 // Linux cooked capture v1 (tcpdump -i any)
	LinkTypeIPv4      LinkType = 228 // raw IPv4
	LinkTypeIPv6      LinkType = 229 // raw IPv6
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2 (newer tcpdump -i any)
)

// EtherTypes of the network layers Network reports.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeIPv6 = 0x86dd
)

// Errors returned by this package.
var (
	ErrFormat    = errors.New("pcap: not a pcap file")
	ErrTruncated = errors.New("pcap: truncated")
	ErrLinkType  = errors.New("pcap: unsupported link type")
	ErrNotIP     = errors.New("pcap: not an IPv4 or IPv6 packet")
)

// A Reader reads records from a pcap or pcapng file.
type Reader struct {
	r       io.Reader
	order   binary.ByteOrder
	nano    bool
	link    LinkType
	snaplen uint32
	n       int
	// ng is the pcapng state; nil for a classic pcap file.
	ng *ngState
}

// NewReader reads the file header from r (the pcap file header, or the
// first pcapng Section Header Block) and returns a Reader for the records
// that follow.
func NewReader(r io.Reader) (*Reader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:4]); err != nil {
		return nil, fmt.Errorf("%w: file header: %v", ErrFormat, err)
	}
	if binary.LittleEndian.Uint32(h[:4]) == blockSHB {
		return newNgReader(r)
	}
	if _, err := io.ReadFull(r, h[4:]); err != nil {
		return nil, fmt.Errorf("%w: file header: %v", ErrFormat, err)
	}
	pr := &Reader{r: r}
	switch m := binary.LittleEndian.Uint32(h[:4]); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
		pr.order = binary.LittleEndian
		pr.nano = m == 0xa1b23c4d
	case 0xd4c3b2a1, 0x4d3cb2a1:
		pr.order = binary.BigEndian
		pr.nano = m == 0x4d3cb2a1
	default:
		return nil, fmt.Errorf("%w: magic %#08x", ErrFormat, m)
	}
	pr.snaplen = pr.order.Uint32(h[16:20])
	// The upper bits of the link type field carry FCS information.
	pr.link = LinkType(pr.order.Uint32(h[20:24]) & 0x0fffffff)
	return pr, nil
}

// LinkType returns the link-layer header type of every record of a pcap
// file. In a pcapng file each interface has its own: LinkType returns that
// of the record Next returned last (before the first, that of the first
// interface described, or 0); Record.LinkType has it too.
func (r *Reader) LinkType() LinkType { return r.link }

// A Record is one captured frame.
type Record struct {
	// Number is the 1-based position of the record in the file, as
	// Wireshark numbers frames.
	Number int
	// Time is the capture time.
	Time time.Time
	// Data is the captured bytes, starting with the link-layer header.
	Data []byte
	// OrigLen is the length of the frame on the wire, at least len(Data).
	OrigLen int
	// LinkType is the link-layer header type of Data.
	LinkType LinkType
	// Interface is the pcapng interface the frame was captured on, an
	// index into the interfaces of its section (0 for a pcap file).
	Interface int
}

// Next returns the next record, or io.EOF after the last one. Each record
// has its own Data.
func (r *Reader) Next() (Record, error) {
	if r.ng != nil {
		return r.nextNg()
	}
	var h [16]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		if err == io.EOF {
			return Record{}, io.EOF
		}
		return Record{}, fmt.Errorf("%w: record %d header: %v", ErrTruncated, r.n+1, err)
	}
	sec, frac := r.order.Uint32(h[0:4]), r.order.Uint32(h[4:8])
	incl, orig := r.order.Uint32(h[8:12]), r.order.Uint32(h[12:16])
	if incl > 1<<24 {
		return Record{}, fmt.Errorf("%w: record %d claims %d bytes", ErrFormat, r.n+1, incl)
	}
	data := make([]byte, incl)
	if _, err := io.ReadFull(r.r, data); err != nil {
		return Record{}, fmt.Errorf("%w: record %d data: %v", ErrTruncated, r.n+1, err)
	}
	r.n++
	ns := int64(frac) * 1000
	if r.nano {
		ns = int64(frac)
	}
	return Record{
		Number:   r.n,
		Time:     time.Unix(int64(sec), ns).UTC(),
		Data:     data,
		OrigLen:  int(max(orig, incl)),
		LinkType: r.link,
	}, nil
}

// Network strips the link-layer header of a frame of type lt and returns
// the EtherType of the network layer and its bytes.
func Network(lt LinkType, frame []byte) (etherType uint16, payload []byte, err error) {
	switch lt {
	case LinkTypeEthernet:
		if len(frame) < 14 {
			return 0, nil, fmt.Errorf("%w: Ethernet header", ErrTruncated)
		}
		et, b := binary.BigEndian.Uint16(frame[12:14]), frame[14:]
		for et == 0x8100 || et == 0x88a8 { // VLAN tags
			if len(b) < 4 {
				return 0, nil, fmt.Errorf("%w: VLAN tag", ErrTruncated)
			}
			et, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
		}
		return et, b, nil
	case LinkTypeLinuxSLL:
		// packet type, ARPHRD type, address length, 8 address bytes,
		// protocol (EtherType).
		if len(frame) < 16 {
			return 0, nil, fmt.Errorf("%w: Linux SLL header", ErrTruncated)
		}
		return binary.BigEndian.Uint16(frame[14:16]), frame[16:], nil
	case LinkTypeLinuxSLL2:
		// protocol (EtherType), reserved, interface index, ARPHRD type,
		// packet type, address length, 8 address bytes.
		if len(frame) < 20 {
			return 0, nil, fmt.Errorf("%w: Linux SLL2 header", ErrTruncated)
		}
		return binary.BigEndian.Uint16(frame[0:2]), frame[20:], nil
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6:
		if len(frame) == 0 {
			return 0, nil, fmt.Errorf("%w: empty packet", ErrTruncated)
		}
		switch frame[0] >> 4 {
		case 4:
			return EtherTypeIPv4, frame, nil
		case 6:
			return EtherTypeIPv6, frame, nil
		}
		return 0, nil, ErrNotIP
	}
	return 0, nil, fmt.Errorf("%w: %d", ErrLinkType, lt)
}

// LinkAddrs returns the link-layer source and destination addresses of a
// frame of type lt, nil where the header has none: Ethernet has both, the
// Linux cooked captures only the source (the sender's address, as many
// bytes as its length field says, at most 8), raw IP neither. They alias
// frame.
func LinkAddrs(lt LinkType, frame []byte) (src, dst net.HardwareAddr) {
	switch lt {
	case LinkTypeEthernet:
		if len(frame) >= 14 {
			return frame[6:12], frame[0:6]
		}
	case LinkTypeLinuxSLL:
		if len(frame) >= 16 {
			return frame[6 : 6+min(8, int(binary.BigEndian.Uint16(frame[4:6])))], nil
		}
	case LinkTypeLinuxSLL2:
		if len(frame) >= 20 {
			return frame[12 : 12+min(8, int(frame[11]))], nil
		}
	}
	return nil, nil
}

// IP is the part of an IPv4 or IPv6 header a VRRP receiver looks at.
type IP struct {
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or the IPv6 hop limit.
	TTL uint8
	// Protocol is the IPv4 protocol or the IPv6 next header after the
	// hop-by-hop, routing, fragment and destination options headers.
	Protocol uint8
	// Payload is the upper-layer data, cut to the length the IP header
	// gives (so link-layer padding is gone) or to what was captured.
	Payload []byte
	// Truncated is set when fewer bytes were captured than the IP header
	// announces.
	Truncated bool
}

// ParseIP decodes the IPv4 (EtherType 0x0800) or IPv6 (0x86dd) header at
// the start of b.
func ParseIP(etherType uint16, b []byte) (IP, error) {
	var ip IP
	switch etherType {
	case EtherTypeIPv4:
		if len(b) < 20 || b[0]>>4 != 4 {
			return ip, fmt.Errorf("%w: IPv4 header", ErrTruncated)
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || len(b) < ihl || total < ihl {
			return ip, fmt.Errorf("%w: IPv4 header length %d, total length %d", ErrTruncated, ihl, total)
		}
		ip.TTL, ip.Protocol = b[8], b[9]
		ip.Src = netip.AddrFrom4([4]byte(b[12:16]))
		ip.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		if total > len(b) {
			total, ip.Truncated = len(b), true
		}
		ip.Payload = b[ihl:total]
		return ip, nil
	case EtherTypeIPv6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return ip, fmt.Errorf("%w: IPv6 header", ErrTruncated)
		}
		ip.TTL = b[7]
		ip.Src = netip.AddrFrom16([16]byte(b[8:24]))
		ip.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		end := 40 + int(binary.BigEndian.Uint16(b[4:6]))
		if end > len(b) {
			end, ip.Truncated = len(b), true
		}
		next, p := b[6], b[40:end]
		for {
			var n int
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(p) < 2 {
					return ip, fmt.Errorf("%w: IPv6 extension header", ErrTruncated)
				}
				n = (int(p[1]) + 1) * 8
			case 44: // fragment
				n = 8
			default:
				ip.Protocol, ip.Payload = next, p
				return ip, nil
			}
			if len(p) < n {
				return ip, fmt.Errorf("%w: IPv6 extension header", ErrTruncated)
			}
			next, p = p[0], p[n:]
		}
	}
	return ip, fmt.Errorf("%w: EtherType %#04x", ErrNotIP, etherType)
}

// A Writer writes a pcap file with microsecond timestamps in little-endian
// byte order, as tcpdump does on x86. Tests use it to build captures.
type Writer struct {
	w io.Writer
}

// NewWriter writes the file header for link type lt to w.
func NewWriter(w io.Writer, lt LinkType) (*Writer, error) {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:4], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:6], 2) // version 2.4
	binary.LittleEndian.PutUint16(h[6:8], 4)
	binary.LittleEndian.PutUint32(h[16:20], 262144)
	binary.LittleEndian.PutUint32(h[20:24], uint32(lt))
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// WriteRecord writes one frame captured at t.
func (w *Writer) WriteRecord(t time.Time, data []byte) error {
	return w.WriteRecordLen(t, data, len(data))
}

// WriteRecordLen writes one frame captured at t of which only data was
// kept: origLen is the frame's length on the wire, as a capture cut short
// by its snap length records it. An origLen below len(data) is len(data).
func (w *Writer) WriteRecordLen(t time.Time, data []byte, origLen int) error {
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(t.Unix()))
	binary.LittleEndian.PutUint32(h[4:8], uint32(t.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(h[8:12], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[12:16], uint32(max(origLen, len(data))))
	if _, err := w.w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.w.Write(data)
	return err
}
