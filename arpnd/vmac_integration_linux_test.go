//go:build linux

package arpnd

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/vrrp"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// TestIntegrationMacvlanBackupSilent: in ModeMacvlan only the master of
// the moment sends frames from the virtual MAC (RFC 9568 sections 7.3,
// 8.1.2, 8.2.2: a switch learns the virtual MAC's port from them). Two
// routers (IPv6 forwarding on, so every interface with IPv6 joins
// ff02::2) run an IPv4 and an IPv6 virtual router through a takeover and a
// failback; multicast groups are joined on every macvlan, so that each
// answers queries while up. A third host sends IGMPv3 and MLDv2 general
// queries while each router is backup. Every frame from a virtual MAC
// that a router's eth0 sends must fall within one of its master spans;
// the master of the moment answers the queries (the queries work), the
// backup's macvlans send nothing and are down.
func TestIntegrationMacvlanBackupSilent(t *testing.T) {
	lab := netlab.New(t, "arpv", 3)
	h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
	for _, h := range []*netlab.Host{h1, h2} {
		hostOut(t, h, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	}
	cfg := Config{Mode: ModeMacvlan, Interface: "eth0", MasterRepeat: 1, MasterDelay: -1}
	anns := map[*netlab.Host]*Announcer{h1: newHostAnnouncer(t, h1, cfg), h2: newHostAnnouncer(t, h2, cfg)}
	vmac4, vmac6 := VirtualMAC(7, false), VirtualMAC(7, true)
	n4, _ := macvlanName(h1.IfIndex, 7, false)
	n6, _ := macvlanName(h1.IfIndex, 7, true) // eth0 has the same index on every host
	if h2.IfIndex != h1.IfIndex {
		t.Fatalf("eth0 index differs: h1 %d, h2 %d", h1.IfIndex, h2.IfIndex)
	}

	filter := fmt.Sprintf("ether src %s or ether src %s", vmac4, vmac6)
	fields := []string{"frame.time_epoch", "eth.src", "eth.dst", "frame.protocols", "arp.opcode", "icmpv6.type", "igmp.type", "frame.len"}
	stops := map[*netlab.Host]func() []string{
		h1: captureArgs(t, h1, []string{"-Q", "out"}, filter, fields...),
		h2: captureArgs(t, h2, []string{"-Q", "out"}, filter, fields...),
	}
	stop3 := capture(t, h3, filter, fields...)

	type span struct{ from, to time.Time }
	spans := map[*netlab.Host][]span{}
	vrs := func(h *netlab.Host) []vrrp.VRInfo { return []vrrp.VRInfo{lanVR(h, lanVIP4), lanVR(h, lanVIP6)} }
	take := func(h *netlab.Host) {
		from := time.Now()
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Take", anns[h].Take(vr))
		}
		took := time.Since(from)
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Announce", anns[h].Announce(vr))
		}
		t.Logf("%s: Take of both virtual routers (link up, addresses) took %v", h.Name, took)
		spans[h] = append(spans[h], span{from: from})
	}
	release := func(h *netlab.Host) {
		for _, vr := range vrs(h) {
			mustHook(t, h.Name+" Release", anns[h].Release(vr))
		}
		spans[h][len(spans[h])-1].to = time.Now()
	}
	inSpan := func(h *netlab.Host, at time.Time) bool {
		for _, s := range spans[h] {
			if !at.Before(s.from) && (s.to.IsZero() || !at.After(s.to)) {
				return true
			}
		}
		return false
	}

	// h2 was master once and is backup; h1 is master.
	take(h2)
	release(h2)
	take(h1)
	for _, h := range []*netlab.Host{h1, h2} {
		joinGroups(t, h, n4, n6)
	}

	q := newQuerier(t, h3)
	type probe struct {
		at     time.Time
		master *netlab.Host
	}
	var probes []probe
	query := func(master *netlab.Host) {
		probes = append(probes, probe{time.Now(), master})
		q.query(t)
		time.Sleep(1500 * time.Millisecond) // max response delay 0.5s
	}
	query(h1)

	// Takeover by h2.
	release(h1)
	take(h2)
	query(h2)

	// Failback to h1; h2's macvlans stay silent from its Release on.
	release(h2)
	tx2 := txPackets(t, h2, n4, n6)
	take(h1)
	query(h1)
	checkAnswers(t, h3, vmac4.String(), vmac6.String())
	if got := txPackets(t, h2, n4, n6); got != tx2 {
		t.Errorf("h2's macvlans sent %d packets as backup (tx_packets %d, then %d)", got-tx2, tx2, got)
	}
	for h, want := range map[*netlab.Host]bool{h1: true, h2: false} {
		for _, n := range []string{n4, n6} {
			out := hostOut(t, h, "ip", "-o", "link", "show", "dev", n)
			if up := strings.Contains(strings.SplitN(out, ">", 2)[0], ",UP"); up != want {
				t.Errorf("%s: %s up = %v, want %v:\n%s", h.Name, n, up, want, out)
			}
		}
	}

	// h3's capture stops first, so the routers' captures cover it.
	rows3 := stop3()
	rows := map[*netlab.Host][]string{h1: stops[h1](), h2: stops[h2]()}
	sent := map[string]int{}
	for _, h := range []*netlab.Host{h1, h2} {
		for _, r := range rows[h] {
			at, rest := splitRow(t, r)
			sent[rest]++
			if !inSpan(h, at) {
				t.Errorf("%s sent a frame from a virtual MAC while not master, at %s: %s", h.Name, at.Format("15:04:05.000000"), rest)
			}
		}
	}
	// The hosts' captures hold everything the LAN saw from the virtual
	// MACs (so nothing escaped the check above).
	for _, r := range rows3 {
		_, rest := splitRow(t, r)
		if sent[rest]--; sent[rest] < 0 {
			t.Errorf("h3 received a frame from a virtual MAC that neither router's capture has: %s", rest)
		}
	}
	// The queries work: the master of the moment answered both.
	for i, p := range probes {
		var mld, igmp bool
		for _, r := range rows[p.master] {
			at, rest := splitRow(t, r)
			f := strings.Split(rest, "|")
			if at.Before(p.at) {
				continue
			}
			mld = mld || (f[0] == vmac6.String() && f[4] == "143")
			igmp = igmp || (f[0] == vmac4.String() && f[5] == "0x22")
		}
		if !mld || !igmp {
			t.Errorf("query %d: master %s answered MLD %v, IGMP %v; want both (are the queries valid?)\n%s", i+1, p.master.Name, mld, igmp, strings.Join(rows[p.master], "\n"))
		}
	}
	if t.Failed() {
		for _, h := range []*netlab.Host{h1, h2} {
			for _, s := range spans[h] {
				t.Logf("%s master from %s to %s", h.Name, s.from.Format("15:04:05.000000"), s.to.Format("15:04:05.000000"))
			}
		}
	}
}

// splitRow splits a capture row into its time (the first field) and the
// rest.
func splitRow(t *testing.T, r string) (time.Time, string) {
	t.Helper()
	ts, rest, _ := strings.Cut(r, "|")
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		t.Fatalf("capture row %q: time: %v", r, err)
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		t.Fatalf("capture row %q: time: %v", r, err)
	}
	return time.Unix(s, ns), rest
}

// joinGroups joins 239.1.2.3 on the IPv4 macvlan n4 and ff05::1:3 on the
// IPv6 macvlan n6 of h, with sockets that stay open until the test ends:
// a program on the router that listens there, whose memberships the
// kernel reports when the link is up and a querier asks.
func joinGroups(t *testing.T, h *netlab.Host, n4, n6 string) {
	t.Helper()
	err := h.Do(func() error {
		i4, err := net.InterfaceByName(n4)
		if err != nil {
			return err
		}
		i6, err := net.InterfaceByName(n6)
		if err != nil {
			return err
		}
		fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		t.Cleanup(func() { unix.Close(fd4) })
		m4 := &unix.IPMreqn{Multiaddr: [4]byte{239, 1, 2, 3}, Ifindex: int32(i4.Index)}
		if err := unix.SetsockoptIPMreqn(fd4, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, m4); err != nil {
			return fmt.Errorf("join 239.1.2.3 on %s: %w", n4, err)
		}
		fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		t.Cleanup(func() { unix.Close(fd6) })
		m6 := &unix.IPv6Mreq{Multiaddr: netip.MustParseAddr("ff05::1:3").As16(), Interface: uint32(i6.Index)}
		if err := unix.SetsockoptIPv6Mreq(fd6, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, m6); err != nil {
			return fmt.Errorf("join ff05::1:3 on %s: %w", n6, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
}

// txPackets returns the sum of the tx_packets counters of h's interfaces.
func txPackets(t *testing.T, h *netlab.Host, names ...string) uint64 {
	t.Helper()
	var sum uint64
	for _, n := range names {
		s := strings.TrimSpace(hostOut(t, h, "cat", "/sys/class/net/"+n+"/statistics/tx_packets"))
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %s tx_packets %q: %v", h.Name, n, s, err)
		}
		sum += v
	}
	return sum
}

// querier sends IGMPv3 and MLDv2 general queries from a host's eth0.
type querier struct {
	c      *packet.Conn
	frames [][]byte
}

func newQuerier(t *testing.T, h *netlab.Host) *querier {
	t.Helper()
	var c *packet.Conn
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		// Protocol 0: send only; the kernel takes the EtherType from
		// each frame.
		c, err = packet.Listen(ifi, packet.Raw, 0, nil)
		return err
	})
	if err != nil {
		t.Fatalf("%s: querier socket: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return &querier{c: c, frames: [][]byte{igmpv3Query(h.MAC, h.Addr4), mldv2Query(h.MAC, h.LinkLocal())}}
}

func (q *querier) query(t *testing.T) {
	t.Helper()
	for _, f := range q.frames {
		if _, err := q.c.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[:6])}); err != nil {
			t.Fatalf("send query: %v", err)
		}
	}
}

// inetChecksum is the RFC 1071 checksum of b.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// igmpv3Query returns an IGMPv3 general query (RFC 3376 section 4.1) to
// 224.0.0.1 with a Router Alert option and a Max Resp Code of 0.5s.
func igmpv3Query(src net.HardwareAddr, srcIP netip.Addr) []byte {
	b := make([]byte, 14+24+12)
	copy(b[0:6], net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01})
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], 0x0800)
	ip := b[14:38]
	ip[0], ip[1] = 0x46, 0xc0
	binary.BigEndian.PutUint16(ip[2:4], 24+12)
	ip[8], ip[9] = 1, 2 // TTL 1, IGMP
	s := srcIP.As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], []byte{224, 0, 0, 1})
	copy(ip[20:24], []byte{0x94, 0x04, 0, 0}) // Router Alert
	binary.BigEndian.PutUint16(ip[10:12], inetChecksum(ip))
	ig := b[38:]
	ig[0], ig[1] = 0x11, 5 // Membership Query, 0.5s
	ig[8], ig[9] = 2, 125  // QRV 2, QQIC 125s
	binary.BigEndian.PutUint16(ig[2:4], inetChecksum(ig))
	return b
}

// mldv2Query returns an MLDv2 general query (RFC 3810 section 5.1) from srcLL to ff02::1 with a Router Alert hop-by-hop option and a
// Maximum Response Code of 500 ms.
func mldv2Query(src net.HardwareAddr, srcLL netip.Addr) []byte {
	dst := netip.MustParseAddr("ff02::1")
	b := make([]byte, 14+40+8+28)
	copy(b[0:6], multicastMAC(dst))
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], etherTypeIPv6)
	ip := b[14:54]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:6], 8+28)
	ip[6], ip[7] = 0, 1 // hop-by-hop, hop limit 1
	s, d := srcLL.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	copy(b[54:62], []byte{protoICMPv6, 0, 5, 2, 0, 0, 1, 0}) // Router Alert (MLD), PadN
	m := b[62:]
	m[0] = 130                              // Multicast Listener Query
	binary.BigEndian.PutUint16(m[4:6], 500) // Maximum Response Code
	m[24], m[25] = 2, 125                   // QRV 2, QQIC 125s
	binary.BigEndian.PutUint16(m[2:4], icmpv6Checksum(srcLL, dst, m))
	return b
}
