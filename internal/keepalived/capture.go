package keepalived

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// A Kind says what a captured Packet is.
type Kind int

// Kinds of captured packets.
const (
	KindOther  Kind = iota
	KindVRRP        // a VRRP message (IP protocol 112)
	KindARP         // an ARP request or reply
	KindNA          // an ICMPv6 Neighbor Advertisement (RFC 4861, Section 4.4)
	KindICMPv6      // any other ICMPv6 message
)

func (k Kind) String() string {
	switch k {
	case KindVRRP:
		return "VRRP"
	case KindARP:
		return "ARP"
	case KindNA:
		return "NA"
	case KindICMPv6:
		return "ICMPv6"
	}
	return "other"
}

// A Packet is one captured frame, as decoded by tshark. Fields that do not
// apply to its Kind are zero.
type Packet struct {
	Time   time.Time
	Kind   Kind
	SrcMAC net.HardwareAddr
	Src    netip.Addr // IPv4 or IPv6 source; invalid for ARP
	Dst    netip.Addr
	TTL    int // IPv4 TTL or IPv6 hop limit

	// VRRP (RFC 3768 Section 5; RFC 9568 Section 5).
	Version   int
	VRID      int
	Priority  int
	Count     int
	AuthType  int    // VRRPv2 only
	AuthData  string // VRRPv2 simple text password
	AdverInt  int    // VRRPv2: seconds; VRRPv3: centiseconds
	Checksum  int    // tshark vrrp.checksum.status: 1 good, 0 bad, 2 unverified
	Addresses []netip.Addr

	// ARP: the sender's and target's protocol addresses and whether tshark
	// calls it gratuitous (sender == target).
	ARPOp      int
	ARPSender  netip.Addr
	ARPTarget  netip.Addr
	Gratuitous bool

	// Neighbor Advertisement (RFC 4861, Section 4.4).
	NATarget   netip.Addr
	NAOverride bool
	NARouter   bool
	NASolicit  bool
}

// AdvertInterval returns the advertisement interval the packet carries.
func (p *Packet) AdvertInterval() time.Duration {
	if p.Version == 3 {
		return time.Duration(p.AdverInt) * 10 * time.Millisecond
	}
	return time.Duration(p.AdverInt) * time.Second
}

// tsharkFields is the column order ReadPcap asks tshark for.
var tsharkFields = []string{
	"frame.time_epoch", "eth.src", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "ip.ttl", "ipv6.hlim",
	"vrrp.version", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count", "vrrp.auth_type",
	"vrrp.adver_int", "vrrp.short_adver_int", "vrrp.checksum.status", "vrrp.ip_addr", "vrrp.ipv6_addr",
	"vrrp.auth_string",
	"arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "arp.isgratuitous",
	"icmpv6.type", "icmpv6.nd.na.target_address", "icmpv6.nd.na.flag.o", "icmpv6.nd.na.flag.r",
	"icmpv6.nd.na.flag.s",
}

// ReadPcap decodes a capture file with tshark (which must be on PATH).
func ReadPcap(ctx context.Context, file string) (Packets, error) {
	args := []string{"-n", "-r", file, "-T", "fields",
		"-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.CommandContext(ctx, "tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("keepalived: tshark -r %s: %w: %s", file, err, strings.TrimSpace(stderr.String()))
	}
	return ParseTsharkFields(out)
}

// ParseTsharkFields parses the output of tshark -T fields with the columns
// ReadPcap asks for, one packet per line.
func ParseTsharkFields(out []byte) (Packets, error) {
	var pkts Packets
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		p, err := parseFieldLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("keepalived: tshark output line %d: %w", n, err)
		}
		pkts = append(pkts, p)
	}
	return pkts, sc.Err()
}

var errFieldCount = errors.New("wrong number of fields")

func parseFieldLine(line string) (Packet, error) {
	f := strings.Split(line, "\t")
	if len(f) != len(tsharkFields) {
		return Packet{}, fmt.Errorf("%w: got %d, want %d", errFieldCount, len(f), len(tsharkFields))
	}
	col := map[string]string{}
	for i, name := range tsharkFields {
		col[name] = f[i]
	}
	var (
		p   Packet
		err error
	)
	// Every helper records the first error in err.
	num := func(name string) int {
		s := first(col[name])
		if s == "" || err != nil {
			return 0
		}
		v, e := strconv.ParseInt(s, 0, 64)
		if e != nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		return int(v)
	}
	addr := func(name string) netip.Addr {
		s := first(col[name])
		if s == "" || err != nil {
			return netip.Addr{}
		}
		a, e := netip.ParseAddr(s)
		if e != nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		return a
	}
	flag := func(name string) bool {
		switch strings.ToLower(first(col[name])) {
		case "1", "true":
			return true
		}
		return false
	}
	p.Time, err = parseEpoch(col["frame.time_epoch"])
	if s := col["eth.src"]; s != "" && err == nil {
		p.SrcMAC, err = net.ParseMAC(s)
	}
	p.Src, p.Dst, p.TTL = addr("ip.src"), addr("ip.dst"), num("ip.ttl")
	if !p.Src.IsValid() {
		p.Src, p.Dst, p.TTL = addr("ipv6.src"), addr("ipv6.dst"), num("ipv6.hlim")
	}
	switch {
	case col["vrrp.version"] != "":
		p.Kind = KindVRRP
		p.Version = num("vrrp.version")
		p.VRID = num("vrrp.virt_rtr_id")
		p.Priority = num("vrrp.prio")
		p.Count = num("vrrp.addr_count")
		p.AuthType = num("vrrp.auth_type")
		p.AuthData = col["vrrp.auth_string"]
		if p.Version == 3 {
			p.AdverInt = num("vrrp.short_adver_int")
		} else {
			p.AdverInt = num("vrrp.adver_int")
		}
		p.Checksum = num("vrrp.checksum.status")
		for _, c := range []string{"vrrp.ip_addr", "vrrp.ipv6_addr"} {
			if col[c] == "" {
				continue
			}
			for _, s := range strings.Split(col[c], ",") {
				a, e := netip.ParseAddr(s)
				if e != nil && err == nil {
					err = fmt.Errorf("%s: %w", c, e)
				}
				p.Addresses = append(p.Addresses, a)
			}
		}
	case col["arp.opcode"] != "":
		p.Kind = KindARP
		p.ARPOp = num("arp.opcode")
		p.ARPSender = addr("arp.src.proto_ipv4")
		p.ARPTarget = addr("arp.dst.proto_ipv4")
		p.Gratuitous = flag("arp.isgratuitous")
	case first(col["icmpv6.type"]) == "136":
		p.Kind = KindNA
		p.NATarget = addr("icmpv6.nd.na.target_address")
		p.NAOverride = flag("icmpv6.nd.na.flag.o")
		p.NARouter = flag("icmpv6.nd.na.flag.r")
		p.NASolicit = flag("icmpv6.nd.na.flag.s")
	case col["icmpv6.type"] != "":
		p.Kind = KindICMPv6
	}
	return p, err
}

// first returns the first of tshark's comma-aggregated values.
func first(s string) string {
	s, _, _ = strings.Cut(s, ",")
	return s
}

// parseEpoch parses tshark's frame.time_epoch ("1795628605.709356000")
// without going through a float.
func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	if strings.Trim(frac, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("frame.time_epoch %q: not decimal seconds", s)
	}
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("frame.time_epoch %q: %w", s, err)
	}
	var nsec int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if nsec, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("frame.time_epoch %q: %w", s, err)
		}
	}
	return time.Unix(secs, nsec), nil
}

// Packets is a capture in arrival order.
type Packets []Packet

// Adverts returns the VRRP advertisements sent from src (any source when src
// is the zero Addr).
func (ps Packets) Adverts(src netip.Addr) Packets {
	var out Packets
	for _, p := range ps {
		if p.Kind == KindVRRP && (!src.IsValid() || p.Src == src) {
			out = append(out, p)
		}
	}
	return out
}

// FirstAdvertAfter returns the first advertisement from src captured after t.
func (ps Packets) FirstAdvertAfter(src netip.Addr, t time.Time) (Packet, bool) {
	for _, p := range ps.Adverts(src) {
		if p.Time.After(t) {
			return p, true
		}
	}
	return Packet{}, false
}

// LastAdvertBefore returns the last advertisement from src captured before t.
func (ps Packets) LastAdvertBefore(src netip.Addr, t time.Time) (Packet, bool) {
	var (
		last Packet
		ok   bool
	)
	for _, p := range ps.Adverts(src) {
		if p.Time.Before(t) {
			last, ok = p, true
		}
	}
	return last, ok
}

// GARPs returns the gratuitous ARPs (for an IPv4 ip) or the unsolicited
// Neighbor Advertisements (for an IPv6 ip; keepalived's garp settings cover
// both) announcing ip, as a new master sends them for its virtual addresses
// (RFC 9568 Section 6.4.2).
func (ps Packets) GARPs(ip netip.Addr) Packets {
	var out Packets
	for _, p := range ps {
		switch {
		case p.Kind == KindARP && p.Gratuitous && p.ARPSender == ip:
			out = append(out, p)
		case p.Kind == KindNA && !p.NASolicit && p.NATarget == ip:
			out = append(out, p)
		}
	}
	return out
}

// After returns the packets captured after t.
func (ps Packets) After(t time.Time) Packets {
	for i, p := range ps {
		if p.Time.After(t) {
			return ps[i:]
		}
	}
	return nil
}
