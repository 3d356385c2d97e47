package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/govrrp/govrrp/packet"
)

// run is the whole program: it parses args, dumps, and returns the exit
// status (0 ok, 1 failure, 2 usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vrrpdump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("r", "", "read packets from the pcap or pcapng `file`")
	iface := fs.String("i", "", "capture live from `interface` (Linux, needs CAP_NET_RAW)")
	var o options
	fs.IntVar(&o.count, "c", 0, "stop after `n` VRRP packets (0: no limit)")
	fs.IntVar(&o.vrid, "vrid", 0, "show only virtual router `id` (1-255; 0: all)")
	fs.BoolVar(&o.verbose, "v", false, "also print MAC addresses, v2 authentication, checksums and every validation failure, and gratuitous ARP and unsolicited NA lines")
	fs.BoolVar(&o.summary, "summary", false, "print a summary per virtual router at the end")
	fs.BoolVar(&o.quiet, "q", false, "print no packet lines (with -summary: the summary only)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vrrpdump [-v] [-c N] [-vrid ID] [-summary] [-q] -r FILE | -i IFACE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*file == "") == (*iface == "") || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if o.count < 0 {
		fmt.Fprintf(stderr, "vrrpdump: -c %d out of range: want 0 (no limit) or more\n", o.count)
		return 2
	}
	if o.vrid < 0 || o.vrid > 255 {
		fmt.Fprintf(stderr, "vrrpdump: -vrid %d out of range: want 1-255, or 0 for all\n", o.vrid)
		return 2
	}
	d := newDumper(stdout, o)
	var err error
	if *file != "" {
		err = d.file(*file)
	} else {
		err = d.live(ctx, *iface)
	}
	if errors.Is(err, errDone) {
		err = nil
	}
	if err == nil && o.summary {
		err = d.sum.write(d.w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vrrpdump: %v\n", err)
		return 1
	}
	return 0
}

// options are the flags that shape the output.
type options struct {
	count   int  // -c: stop after count VRRP packets; 0 no limit
	vrid    int  // -vrid: only this VRID; 0 all
	verbose bool // -v
	summary bool // -summary
	quiet   bool // -q
}

// errDone stops the dump when -c packets were shown.
var errDone = errors.New("packet count reached")

// dumper formats packets; it reuses one Advertisement and one line buffer.
type dumper struct {
	w    io.Writer
	opt  options
	adv  packet.Advertisement
	adv2 packet.Advertisement // for checks past the first error
	line []byte
	tmp  []byte
	n    int // VRRP packets shown
	sum  *summary
	// vips are the addresses advertised by the -vrid virtual router, by
	// which announcements are filtered.
	vips map[netip.Addr]bool
}

func newDumper(w io.Writer, o options) *dumper {
	return &dumper{w: w, opt: o, sum: newSummary(), vips: map[netip.Addr]bool{}}
}

// file dumps every VRRP packet of a pcap or pcapng file.
func (d *dumper) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		et, b, err := pcap.Network(rec.LinkType, rec.Data)
		if errors.Is(err, pcap.ErrLinkType) {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err != nil {
			continue // not an IP packet, so not VRRP
		}
		smac, dmac := pcap.LinkAddrs(rec.LinkType, rec.Data)
		// A record shorter than the frame was (the snap length) holds
		// a packet the checksum cannot be verified over.
		fr := frame{t: rec.Time, etherType: et, b: b, snapped: rec.OrigLen > len(rec.Data), smac: smac, dmac: dmac}
		if err := d.packet(fr); err != nil {
			return err
		}
	}
}

// frame is one captured frame from its network header on.
type frame struct {
	t         time.Time
	etherType uint16
	b         []byte
	// snapped is set when the capture kept fewer bytes of the frame
	// than it had.
	snapped bool
	// smac and dmac are the link-layer addresses, nil when the capture
	// does not have them.
	smac, dmac net.HardwareAddr
}

// packet prints one line if f is VRRP, or with -v a gratuitous ARP or an
// unsolicited NA. It returns errDone once -c VRRP packets were shown.
func (d *dumper) packet(f frame) error {
	if f.etherType == etherTypeARP {
		return d.announcement(f)
	}
	ip, err := pcap.ParseIP(f.etherType, f.b)
	if err != nil {
		return nil
	}
	if ip.Protocol == protoICMPv6 {
		return d.announcement(f)
	}
	if ip.Protocol != packet.Protocol {
		return nil
	}
	if d.opt.vrid != 0 && (len(ip.Payload) < 2 || int(ip.Payload[1]) != d.opt.vrid) {
		return nil
	}
	line := d.format(f, ip)
	if !d.opt.quiet {
		if _, err := d.w.Write(line); err != nil {
			return err
		}
	}
	d.n++
	if d.opt.count > 0 && d.n >= d.opt.count {
		return errDone
	}
	return nil
}

// errNames are the err= names of the packet errors.
var errNames = []struct {
	err  error
	name string
}{
	{packet.ErrShortHeader, "short-header"},
	{packet.ErrShortAddrs, "short-addrs"},
	{packet.ErrShortAuth, "short-auth"},
	{packet.ErrVersion, "version"},
	{packet.ErrType, "type"},
	{packet.ErrNoAddrs, "no-addrs"},
	{packet.ErrZeroInterval, "zero-interval"},
	{packet.ErrFamily, "family"},
	{packet.ErrChecksum, "checksum"},
}

// format renders the line for one VRRP packet, and records it in the
// summary.
func (d *dumper) format(f frame, ip pcap.IP) []byte {
	snapped := f.snapped
	b := d.line[:0]
	b = append(b, "time="...)
	b = f.t.UTC().AppendFormat(b, timeFormat)
	b = append(b, " src="...)
	b = ip.Src.AppendTo(b)
	b = append(b, " dst="...)
	b = ip.Dst.AppendTo(b)
	b = append(b, " ttl="...)
	b = strconv.AppendUint(b, uint64(ip.TTL), 10)

	a := &d.adv
	_, err := a.Unmarshal(ip.Payload, ip.Src, ip.Dst)
	decoded := err == nil || errors.Is(err, packet.ErrChecksum)
	msg := ip.Payload
	raw := func(key string, i int) {
		b = append(b, key...)
		if len(msg) > i {
			v := msg[i]
			if i == 0 {
				v >>= 4
			}
			b = strconv.AppendUint(b, uint64(v), 10)
		} else {
			b = append(b, '-')
		}
	}
	// Version, VRID and priority are printed from the header bytes even
	// when the rest is malformed.
	raw(" ver=", 0)
	raw(" vrid=", 1)
	raw(" prio=", 2)
	b = append(b, " interval="...)
	if decoded {
		b = append(b, a.Interval().String()...)
	} else {
		b = append(b, '-')
	}
	b = append(b, " addrs="...)
	if decoded {
		for i, addr := range a.Addrs {
			if i > 0 {
				b = append(b, ',')
			}
			b = addr.AppendTo(b)
		}
	} else {
		b = append(b, '-')
	}
	b = append(b, " checksum="...)
	b = append(b, verdict(ip, snapped)...)
	b = append(b, " err="...)
	valid := false
	switch {
	case ip.Truncated:
		// The packet was not captured whole: what Unmarshal says of the
		// captured part says nothing about the packet sent.
		b = append(b, "truncated"...)
	case err != nil:
		b = append(b, errName(err)...)
	case ip.TTL != packet.TTL: // RFC 9568 section 7.1
		b = append(b, "ttl"...)
	default:
		b = append(b, "none"...)
		valid = true
	}
	if d.opt.verbose {
		b = d.appendVerbose(b, f, ip)
	}
	b = append(b, '\n')
	d.line = b

	if valid {
		d.sum.advert(f.t, ip.Src, a.VRID, a.Priority)
		if d.opt.vrid != 0 {
			for _, addr := range a.Addrs {
				d.vips[addr] = true
			}
		}
	} else if len(msg) >= 2 {
		d.sum.invalid(ip.Src, msg[1])
	}
	return b
}

// verdict is the checksum verdict as tshark gives it (Wireshark's
// packet-vrrp.c), computed from the bytes independently of Unmarshal's
// validation: over the whole VRRP payload as the IP header's length gives
// it (padding excluded, trailing bytes inside the IP length included), or
// over the captured part of a packet whose IP length claims more bytes
// than the frame had. VRRPv3 over IPv6 checks the pseudo-header form;
// VRRPv3 over IPv4 either form (tshark checks one, chosen by its
// vrrp.v3_checksum_as_in_v2 preference); every other version, the message
// alone. A payload shorter than the 8-byte header, which tshark gives no
// verdict for, and a packet the capture's snap length cut short, which
// tshark calls unverified, are bad.
func verdict(ip pcap.IP, snapped bool) string {
	p := ip.Payload
	if len(p) < packet.HeaderLen || ip.Truncated && snapped {
		return "bad"
	}
	switch p[0] >> 4 {
	case 2:
		if sum(0, p) == 0xffff {
			return "ok-v2"
		}
		return "bad"
	case 3:
		ps := pseudoSum(ip.Src, ip.Dst, len(p))
		if sum(ps, p) == 0xffff {
			return "ok-pseudo"
		}
		if ip.Src.Is4() && sum(0, p) == 0xffff {
			return "ok-message"
		}
		return "bad"
	}
	if sum(0, p) == 0xffff {
		return "ok-message"
	}
	return "bad"
}

// sum returns the 16-bit one's complement sum (RFC 1071) of acc and b.
func sum(acc uint32, b []byte) uint16 {
	for ; len(b) >= 2; b = b[2:] {
		acc += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// pseudoSum returns the sum of the IPv4 (RFC 768) or IPv6 (RFC 8200
// section 8.1) pseudo-header for a payload of n bytes of protocol 112.
func pseudoSum(src, dst netip.Addr, n int) uint32 {
	var buf [40]byte
	b := append(append(buf[:0], src.AsSlice()...), dst.AsSlice()...)
	if src.Is4() {
		b = append(b, 0, packet.Protocol, byte(n>>8), byte(n))
	} else {
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n), 0, 0, 0, packet.Protocol)
	}
	return uint32(sum(0, b))
}

func errName(err error) string {
	for _, e := range errNames {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return strings.ReplaceAll(err.Error(), " ", "-")
}

// timeFormat is RFC 3339 in UTC with microseconds, as tcpdump prints them.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"
