package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	file := fs.String("r", "", "read packets from the pcap `file`")
	iface := fs.String("i", "", "capture live from `interface` (Linux, needs CAP_NET_RAW)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vrrpdump -r FILE | -i IFACE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*file == "") == (*iface == "") || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	d := &dumper{w: stdout}
	var err error
	if *file != "" {
		err = d.file(*file)
	} else {
		err = d.live(ctx, *iface)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vrrpdump: %v\n", err)
		return 1
	}
	return 0
}

// dumper formats packets; it reuses one Advertisement and one line buffer.
type dumper struct {
	w    io.Writer
	adv  packet.Advertisement
	line []byte
}

// file dumps every VRRP packet of a pcap file.
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
		et, b, err := pcap.Network(r.LinkType(), rec.Data)
		if errors.Is(err, pcap.ErrLinkType) {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err != nil {
			continue // not an IP packet, so not VRRP
		}
		if err := d.packet(rec.Time, et, b); err != nil {
			return err
		}
	}
}

// packet prints one line if b (starting at the IP header) is VRRP.
func (d *dumper) packet(t time.Time, etherType uint16, b []byte) error {
	ip, err := pcap.ParseIP(etherType, b)
	if err != nil || ip.Protocol != packet.Protocol {
		return nil
	}
	_, err = d.w.Write(d.format(t, ip))
	return err
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

// format renders the line for one VRRP packet.
func (d *dumper) format(t time.Time, ip pcap.IP) []byte {
	b := d.line[:0]
	b = append(b, "time="...)
	b = t.UTC().AppendFormat(b, timeFormat)
	b = append(b, " src="...)
	b = ip.Src.AppendTo(b)
	b = append(b, " dst="...)
	b = ip.Dst.AppendTo(b)
	b = append(b, " ttl="...)
	b = strconv.AppendUint(b, uint64(ip.TTL), 10)

	a := &d.adv
	info, err := a.Unmarshal(ip.Payload, ip.Src, ip.Dst)
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
	switch {
	case !decoded:
		b = append(b, '-')
	case info.Checksum == packet.ChecksumUnknown:
		b = append(b, "bad"...)
	case a.Version == 2:
		b = append(b, "ok-v2"...)
	case info.Checksum == packet.ChecksumMessage:
		b = append(b, "ok-message"...)
	default:
		b = append(b, "ok-pseudo"...)
	}
	b = append(b, " err="...)
	switch {
	case ip.TTL != packet.TTL: // RFC 9568 section 7.1 checks the TTL first
		b = append(b, "ttl"...)
	case err != nil:
		b = append(b, errName(err)...)
	default:
		b = append(b, "none"...)
	}
	b = append(b, '\n')
	d.line = b
	return b
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
