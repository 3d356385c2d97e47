//go:build linux

package raw

import (
	"context"
	"errors"
	"fmt"
	"github.com/govrrp/govrrp/internal/ifaceio"
	"github.com/govrrp/govrrp/transport"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// vrrpProto is the IP protocol number of VRRP, RFC 9568 section 5.1.1.3.
const vrrpProto = 112

var (
	groupV4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	groupV6 = netip.MustParseAddr("ff02::12")
)

// Conn is the raw-socket VRRP transport for one address family (RFC
// 9568 section 5.1): an IPv4 protocol-112 or IPv6 next-header-112 socket
// serving one interface (Listen) or several (ListenMulti + Join).
//
// Conn is safe for one reader and concurrent writers; Join, Leave and
// Close may be called at any time.
type Conn struct {
	family int
	ipc    *net.IPConn
	rc     syscall.RawConn
	p4     *ipv4.PacketConn
	p6     *ipv6.PacketConn
	name   string // interface name for errors: the Listen interface, or ""
	src    netip.Addr
	peers  []netip.Addr // unzoned
	group  netip.Addr
	// groupAddr is group as the destination of every interface's
	// advertisements (ifaceState.group): one for the Conn, not one per
	// interface (issue 12: 4,094 interfaces on one Conn).
	groupAddr net.Addr
	log       *slog.Logger

	// keepOwn disables the own-source filter (tests only).
	keepOwn bool

	// ring, if not nil, is where packets are received (ring_linux.go);
	// ipc then only sends. one is ReadFrom's message for it.
	ring   *ring
	one    [1]transport.Message
	rms    []transport.Message // ringRead's messages (under rmu)
	rk     int                 // how many of rms are filled
	ringFn func(uintptr) bool

	// poll, if not nil, is the receive socket with Config.Poll
	// (poll_linux.go); ipc then only sends and joins.
	poll *poller

	mu     sync.RWMutex
	ifaces map[int]*ifaceState
	// members, for a ListenMulti socket, holds its group memberships on
	// sockets of their own (members_linux.go); nil: ipc joins.
	members *members

	// Receive state: one ReadFrom or ReadBatch at a time, no allocation
	// per packet.
	rmu    sync.Mutex
	slot   rslot
	msg    unix.Msghdr
	readFn func(fd uintptr) bool
	rn     int
	rerrno syscall.Errno
	// ReadBatch's state, allocated on its first call for its batch size
	// (grown if a later call passes more messages).
	bslots []rslot
	bmsgs  []mmsghdr
	bvlen  int // doRead: messages per recvmmsg, 0 for one recvmsg

	// Send state, reused under wmu.
	wmu   sync.Mutex
	wms   []ipv4.Message // ipv4.Message and ipv6.Message are the same type
	wbufs [][]byte
	wcnt  []int
	wst   []*ifaceState // the interface of each of wms, for errors
	wfail []bool        // whether each of wms failed

	// sendPath is Config.Send (SendSocket for IPv6, New, or without the
	// socket). link is the link-layer send socket (link_linux.go),
	// opened with the Conn, in the same network namespace as its
	// protocol-112 socket (openLink), used under wmu. linkSent counts
	// what it sent.
	sendPath SendPath
	link     *linkSender
	linkSent atomic.Uint64

	// anySrc: IP_TRANSPARENT is on (IPv4), so the kernel does not look
	// each packet's source address up among the host's addresses (see
	// newConn).
	anySrc bool

	received, own, notPeer, otherIface, truncated atomic.Uint64
	lastLog                                       atomic.Int64
	suppressed                                    atomic.Uint64
}

// ifaceState is one joined interface.
type ifaceState struct {
	index  int
	name   string
	src    netip.Addr   // default source (zoned if link-local)
	own    []netip.Addr // the interface's addresses, unzoned
	oob    []byte       // send control message for src
	group  net.Addr     // the VRRP group
	peers  []net.Addr   // Config.Peers as net.Addrs
	joined bool
	// ether: an Ethernet interface (for the link-layer send path); mtu
	// its MTU at Join, capped at 65,535. Set only when the Conn may send
	// on the link layer.
	ether bool
	mtu   uint16
}

var (
	_ transport.Conn        = (*Conn)(nil)
	_ transport.BatchWriter = (*Conn)(nil)
	_ transport.BatchReader = (*Conn)(nil)
	_ transport.Sourcer     = (*Conn)(nil)
	_ transport.DropCounter = (*Conn)(nil)
)

// Listen opens a raw VRRP socket for interface ifname: protocol 112,
// joined to 224.0.0.18 or ff02::12 there (unless cfg.Peers is set), bound
// to the interface with SO_BINDTODEVICE unless cfg.NoBindToDevice. The
// interface is looked up in the calling thread's network namespace. A nil
// cfg means the zero Config (IPv4 multicast).
//
// Listen needs CAP_NET_RAW; without it the error names the capability and
// matches os.ErrPermission.
// logger is cfg.Logger, or one that discards.
func (cfg *Config) logger() *slog.Logger {
	if cfg.Logger != nil {
		return cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func Listen(ifname string, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	fam, err := cfg.family(4)
	if err != nil {
		return nil, err
	}
	bind := ifname
	if cfg.NoBindToDevice {
		bind = ""
	}
	ipc, err := listenRaw(fam, ifname, bind)
	if err != nil {
		return nil, err
	}
	c, err := newConn(ipc, fam, cfg, ifname)
	if err != nil {
		ipc.Close()
		return nil, err
	}
	c.openLink(cfg.Send, false)
	if cfg.Poll > 0 {
		if err := c.openPoll(cfg.Poll, ifname, bind); err != nil {
			c.Close()
			return nil, err
		}
	}
	if cfg.Ring {
		index, err := ifaceio.IndexByName(ifname)
		if err != nil {
			c.Close()
			return nil, opError(ifname, "interface", err)
		}
		if cfg.NoBindToDevice {
			index = 0 // every interface, filtered by index like ListenMulti
		}
		if err := c.openRing(index, ifname); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.Join(ifname); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ListenMulti opens one raw VRRP socket of the given family (4 or 6) that
// serves every interface later added with Join. The socket is not bound
// to a device: packets from interfaces that were not joined are dropped
// by interface index (Stats.OtherIface). cfg.Family, if set, must equal
// family; cfg.Src, if set, is the source on every interface.
func ListenMulti(family int, cfg *Config) (*Conn, error) {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Family != 0 && c.Family != family {
		return nil, fmt.Errorf("transport: Config.Family %d: ListenMulti was asked for IPv%d", c.Family, family)
	}
	c.Family = family
	fam, err := c.family(0)
	if err != nil {
		return nil, err
	}
	ipc, err := listenRaw(fam, "", "")
	if err != nil {
		return nil, err
	}
	rc, err := newConn(ipc, fam, &c, "")
	if err != nil {
		ipc.Close()
		return nil, err
	}
	rc.openLink(c.Send, true)
	if len(c.Peers) == 0 {
		// The memberships go on helper sockets and this one takes every
		// group joined on the host (members_linux.go).
		if err := rc.multicastAll(); err != nil {
			rc.Close()
			return nil, err
		}
		rc.members = newMembers(fam)
	}
	if c.Poll > 0 {
		if err := rc.openPoll(c.Poll, "", ""); err != nil {
			rc.Close()
			return nil, err
		}
	}
	if c.Ring {
		if err := rc.openRing(0, ""); err != nil {
			rc.Close()
			return nil, err
		}
	}
	return rc, nil
}

// New wraps an existing raw socket: c must come from
// net.ListenPacket("ip4:112", ...) or ("ip6:112", ...), for example opened
// in another network namespace or handed over by a privileged parent.
// New sets the socket options the transport needs; add interfaces with
// Join. cfg.Family, if set, must match the socket.
func New(c *net.IPConn, cfg *Config) (*Conn, error) {
	conf := Config{}
	if cfg != nil {
		conf = *cfg
	}
	la, ok := c.LocalAddr().(*net.IPAddr)
	if !ok {
		return nil, fmt.Errorf("transport: New: not a raw IP socket (local address %v)", c.LocalAddr())
	}
	fam := 6
	if la.IP == nil || la.IP.To4() != nil {
		fam = 4
	}
	if conf.Family != 0 && conf.Family != fam {
		return nil, fmt.Errorf("transport: Config.Family %d: the socket is IPv%d", conf.Family, fam)
	}
	conf.Family = fam
	if _, err := conf.family(0); err != nil {
		return nil, err
	}
	return newConn(c, fam, &conf, "")
}

// listenRaw opens the protocol-112 socket, bound to device bind if not
// empty.
func listenRaw(fam int, ifname, bind string) (*net.IPConn, error) {
	network, laddr := "ip4:112", "0.0.0.0"
	if fam == 6 {
		network, laddr = "ip6:112", "::"
	}
	var bindErr error
	lc := net.ListenConfig{}
	if bind != "" {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			if err := rc.Control(func(fd uintptr) {
				bindErr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, bind)
			}); err != nil {
				return err
			}
			return bindErr
		}
	}
	pc, err := lc.ListenPacket(context.Background(), network, laddr)
	if bindErr != nil {
		return nil, opError(ifname, "bind to device", bindErr)
	}
	if err != nil {
		return nil, opError(ifname, "raw socket", err)
	}
	return pc.(*net.IPConn), nil
}

// newConn sets the socket options and the receive state; the lowest
// constructor layer.
func newConn(ipc *net.IPConn, fam int, cfg *Config, name string) (*Conn, error) {
	c := &Conn{
		family: fam,
		ipc:    ipc,
		name:   name,
		src:    cfg.Src,
		log:    cfg.logger(),
		ifaces: make(map[int]*ifaceState),
	}
	for _, p := range cfg.Peers {
		c.peers = append(c.peers, p.Unmap().WithZone(""))
	}
	if c.src.IsValid() {
		c.src = c.src.Unmap()
	}
	rc, err := ipc.SyscallConn()
	if err != nil {
		return nil, opError(name, "socket", err)
	}
	c.rc = rc
	c.readFn = c.doRead

	var multiAll error
	if fam == 4 {
		c.group = groupV4
		c.groupAddr = &net.IPAddr{IP: groupV4.AsSlice()}
		c.p4 = ipv4.NewPacketConn(ipc)
		err = errors.Join(
			c.p4.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true),
			c.p4.SetMulticastLoopback(false),
			c.p4.SetMulticastTTL(255),
			c.p4.SetTTL(255),
		)
		multiAll = c.setsockopt(unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
		// IP_TRANSPARENT (FLOWI_FLAG_ANYSRC): the kernel's route lookup
		// of every packet sent otherwise checks that its source address
		// is one of the host's (__ip_dev_find), a walk of a hash chain
		// of every IPv4 address of every namespace of the host, 256
		// chains: O(N) per advertisement with N links, O(N^2) a second
		// (issue 12; BENCHMARKS.md, "Master CPU at 4,094 links"). The
		// sources sent are the interface's own address found at Join,
		// Config.Src or a caller's Meta.Src: a source that is not (or
		// no longer) the host's now goes out instead of failing
		// (ENETUNREACH). CAP_NET_RAW, which the socket needs anyway, allows
		// it; where it is refused the kernel checks, as before. IPv6
		// keeps its check: it also refuses a tentative source (RFC 4862).
		c.anySrc = c.setsockopt(unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1) == nil
	} else {
		c.group = groupV6
		c.groupAddr = &net.IPAddr{IP: groupV6.AsSlice()}
		c.p6 = ipv6.NewPacketConn(ipc)
		err = errors.Join(
			c.p6.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true),
			c.p6.SetMulticastLoopback(false),
			c.p6.SetMulticastHopLimit(255),
			c.p6.SetHopLimit(255),
			// No kernel checksum offload: package packet computes and
			// verifies the checksum so that bad ones can be counted.
			c.p6.SetChecksum(false, 0),
		)
		multiAll = c.setsockopt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
		if errors.Is(multiAll, unix.ENOPROTOOPT) {
			multiAll = nil // kernel before 4.20: interface filtering still applies
		}
	}
	if err = errors.Join(err, multiAll, c.setsockopt(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)); err != nil {
		return nil, opError(name, "socket option", err)
	}
	// The receive queue's drop count on every packet (transport.Meta.Drops):
	// a backup that fell behind its socket does not count what the socket
	// dropped as its masters' silence. Best effort (Linux 2.6.33 and later).
	_ = c.setsockopt(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	// Room for a burst or a flood: the runtime's reader may fall behind
	// for a moment, and a dropped advertisement is a missed one. SO_RCVBUF
	// is capped by net.core.rmem_max; SO_RCVBUFFORCE (CAP_NET_ADMIN)
	// is not.
	if c.setsockopt(unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufBytes) != nil {
		_ = c.setsockopt(unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufBytes)
	}
	return c, nil
}

func (c *Conn) setsockopt(level, opt, v int) error {
	var serr error
	if err := c.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), level, opt, v)
	}); err != nil {
		return err
	}
	return serr
}

// Join adds interface ifname (looked up in the calling thread's network
// namespace): it joins the VRRP group there (unless unicast peers are
// configured) and records the interface's addresses, for the default
// source address and the own-packet filter. Joining an interface twice
// refreshes its addresses.
func (c *Conn) Join(ifname string) error {
	// Targeted lookups (ioctl, and an address dump the kernel filters by
	// index), not net.InterfaceByName and Interface.Addrs: those dump
	// every link and address of the namespace, O(N^2) for N joins.
	index, err := ifaceio.IndexByName(ifname)
	if err != nil {
		return opError(ifname, "interface", err)
	}
	ifi := &net.Interface{Index: index, Name: ifname}
	st := &ifaceState{index: index, name: ifname}
	addrs, err := ifaceio.Addrs(index, unix.AF_UNSPEC)
	if err != nil {
		return opError(ifname, "interface addresses", err)
	}
	var first4, ll6 netip.Addr
	for _, a := range addrs {
		ip := a.Prefix.Addr()
		st.own = append(st.own, ip)
		if ip.Is4() && !first4.IsValid() {
			first4 = ip
		}
		if ip.Is6() && ip.IsLinkLocalUnicast() && !ll6.IsValid() {
			ll6 = ip
		}
	}
	switch {
	case c.src.IsValid():
		st.src = c.src
	case c.family == 4:
		st.src = first4
	default:
		st.src = ll6
	}
	if !st.src.IsValid() {
		if c.family == 4 {
			return &Error{Iface: ifname, Op: "source address", Err: errors.New("no IPv4 address on the interface (set Config.Src)")}
		}
		return &Error{Iface: ifname, Op: "source address", Err: errors.New("no IPv6 link-local address on the interface (link down, or duplicate address detection not finished?)")}
	}
	if st.src.Is6() && st.src.IsLinkLocalUnicast() {
		st.src = st.src.WithZone(ifi.Name)
	}
	// Destinations carry no IPv6 zone: the interface travels in the
	// IP_PKTINFO / IPV6_PKTINFO control message. (A zone would be turned
	// into a scope ID by x/net through a process-wide name-to-index cache,
	// which is wrong for sockets in another network namespace, and the
	// kernel rejects a scope ID that differs from the pktinfo index.)
	if c.family == 4 {
		st.oob = (&ipv4.ControlMessage{IfIndex: ifi.Index, Src: st.src.AsSlice()}).Marshal()
	} else {
		st.oob = (&ipv6.ControlMessage{HopLimit: 255, IfIndex: ifi.Index, Src: st.src.WithZone("").AsSlice()}).Marshal()
	}
	st.group = c.groupAddr
	if c.sendPath != SendSocket {
		ether, mtu, err := ifaceio.Link(ifname)
		if err != nil {
			return opError(ifname, "interface", err)
		}
		st.ether, st.mtu = ether, uint16(min(max(mtu, 0), 65535))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	// Under mu: SetPeers replaces c.peers.
	st.peers = netAddrs(c.peers)
	old := c.ifaces[ifi.Index]
	if len(c.peers) == 0 {
		if old != nil && old.joined {
			st.joined = true
		} else {
			grp := &net.IPAddr{IP: c.group.AsSlice()}
			switch {
			case c.members != nil:
				err = c.members.join(ifi.Index, grp.IP)
			case c.family == 4:
				err = c.p4.JoinGroup(ifi, grp)
			default:
				err = c.p6.JoinGroup(ifi, grp)
			}
			if err != nil {
				return opError(ifname, "join group", err)
			}
			st.joined = true
		}
	}
	c.ifaces[ifi.Index] = st
	c.growRcvBuf(len(c.ifaces))
	return nil
}

// Leave removes interface ifname: it leaves the VRRP group there and
// drops the interface's packets from then on.
func (c *Conn) Leave(ifname string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st *ifaceState
	for _, s := range c.ifaces {
		if s.name == ifname {
			st = s
		}
	}
	if st == nil {
		return &Error{Iface: ifname, Op: "leave", Err: errors.New("interface not joined")}
	}
	delete(c.ifaces, st.index)
	if !st.joined {
		return nil
	}
	ifi := &net.Interface{Index: st.index, Name: st.name}
	grp := &net.IPAddr{IP: c.group.AsSlice()}
	var err error
	switch {
	case c.members != nil:
		err = c.members.leave(ifi.Index, grp.IP)
	case c.family == 4:
		err = c.p4.LeaveGroup(ifi, grp)
	default:
		err = c.p6.LeaveGroup(ifi, grp)
	}
	return opError(ifname, "leave group", err)
}

// Family returns 4 or 6.
func (c *Conn) Family() int { return c.family }

// Source returns the source address of packets written on interface
// ifIndex (0: the only interface) with a zero transport.Meta.Src: Config.Src, or the
// interface's first IPv4 address, or its link-local IPv6 address (with
// the interface as zone). Conn implements transport.Sourcer.
func (c *Conn) Source(ifIndex int) (netip.Addr, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, err := c.ifaceLocked(ifIndex)
	if err != nil {
		return netip.Addr{}, err
	}
	return st.src, nil
}

// Stats returns the counts of packets the transport dropped itself.
func (c *Conn) Stats() Stats {
	return Stats{
		Received:   c.received.Load(),
		Own:        c.own.Load(),
		NotPeer:    c.notPeer.Load(),
		OtherIface: c.otherIface.Load(),
		Truncated:  c.truncated.Load(),
		LinkSent:   c.linkSent.Load(),
	}
}

// SetReadDeadline sets the deadline for ReadFrom and ReadBatch, as
// net.Conn does.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.poll != nil {
		c.poll.setDeadline(t)
		return nil
	}
	if c.ring != nil {
		return c.ring.f.SetReadDeadline(t)
	}
	return c.ipc.SetReadDeadline(t)
}

// Queued reports whether a packet waits in the socket's receive queue
// (SIOCINQ: the length of the first one), for transport.Queuer. With a
// ring (Config.Ring): whether a block the kernel handed over has not been
// read to its end (packets the kernel is still collecting into a block are
// handed over, and counted, within 1 ms).
func (c *Conn) Queued() (bool, error) {
	if c.ring != nil {
		q, err := c.ring.queued()
		if err != nil {
			return false, opError(c.name, "queued", err)
		}
		return q, nil
	}
	var n int
	var ierr error
	if err := c.control(func(fd uintptr) {
		n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	}); err != nil {
		return false, err
	}
	if ierr != nil {
		return false, os.NewSyscallError("ioctl SIOCINQ", ierr)
	}
	return n > 0, nil
}

// QueueDrops implements transport.DropCounter: the packets the socket
// dropped because its receive queue was full, so far (SO_MEMINFO,
// SK_MEMINFO_DROPS, Linux 4.11 and later; the count SO_RXQ_OVFL puts on
// every packet, transport.Meta.Drops). With a receive ring: the packets
// the ring dropped because no block was free (PACKET_STATISTICS); its
// packets carry no count (transport.Meta.Drops is 0).
func (c *Conn) QueueDrops() (uint32, error) {
	if c.ring != nil {
		return c.ring.drops()
	}
	var info [unix.SK_MEMINFO_VARS]uint32
	var gerr error
	if err := c.control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(info))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO, uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0)
		if e != 0 {
			gerr = e
		}
	}); err != nil {
		return 0, err
	}
	if gerr != nil {
		return 0, os.NewSyscallError("getsockopt SO_MEMINFO", gerr)
	}
	return info[unix.SK_MEMINFO_DROPS], nil
}

// Close closes the sockets; a blocked ReadFrom or ReadBatch returns an
// error matching net.ErrClosed and transport.ErrClosed.
func (c *Conn) Close() error {
	var rerr error
	if c.ring != nil {
		rerr = c.ring.close()
		// The reader has left once rmu is free: unmap the ring then.
		c.rmu.Lock()
		if err := c.ring.unmap(); err != nil && rerr == nil {
			rerr = err
		}
		c.rmu.Unlock()
	}
	if c.poll != nil {
		rerr = c.poll.close()
	}
	if c.members != nil {
		c.members.close()
	}
	if c.link != nil {
		rerr = errors.Join(rerr, c.link.close())
	}
	return errors.Join(c.ipc.Close(), rerr)
}

// openRing makes the Conn receive through a TPACKET_V3 ring on interface
// ifindex (0: all), and stops ipc from receiving. A kernel without the
// ring (before Linux 3.2, or without CONFIG_PACKET_MMAP-era support) is
// not an error: the Conn then receives on ipc, and says so in the log.
func (c *Conn) openRing(ifindex int, ifname string) error {
	r, err := openRing(c.family, ifindex, ifname)
	if errors.Is(err, os.ErrPermission) {
		return err
	}
	if err != nil {
		c.log.Warn("transport: no receive ring, receiving on the protocol-112 socket", "interface", ifname, "err", err)
		return nil
	}
	if err := c.mute(ifname); err != nil {
		r.close()
		r.unmap()
		return err
	}
	c.ring = r
	c.ringFn = c.ringFill
	return nil
}

func (c *Conn) ifaceLocked(ifIndex int) (*ifaceState, error) {
	if ifIndex == 0 {
		if len(c.ifaces) == 1 {
			for _, st := range c.ifaces {
				return st, nil
			}
		}
		return nil, &Error{Iface: c.name, Op: "write", Err: fmt.Errorf("transport.Meta.IfIndex is 0 but the transport.Conn has %d interfaces", len(c.ifaces))}
	}
	st := c.ifaces[ifIndex]
	if st == nil {
		return nil, &Error{Iface: c.name, Op: "write", Err: fmt.Errorf("interface index %d not joined", ifIndex)}
	}
	return st, nil
}

// rslot is where one received message's IPv4 header, IPv6 source and
// control messages land.
type rslot struct {
	hdr   [ipv4.HeaderLen]byte
	iov   [2]unix.Iovec
	rname unix.RawSockaddrInet6
	// oob holds the control messages: at most 120 bytes on 64-bit Linux
	// (IPv6: hop limit 24, packet info 40, timestamp 32, drop count 24);
	// a truncated set (MSG_CTRUNC) drops the packet.
	oob [160]byte
}

// mmsghdr is struct mmsghdr of recvmmsg(2): a msghdr and the length
// received, padded to the alignment of a pointer.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

// rcvBufBytes is the socket receive buffer the transport asks for.
const rcvBufBytes = 1 << 20

// maxBatch is the most messages ReadBatch reads in one recvmmsg.
const maxBatch = 64

// doRead is the receive callback for syscall.RawConn.Read; it is bound
// once (c.readFn) so that reading allocates nothing. With c.bvlen 0 it
// is one recvmsg into c.msg (ReadFrom), else one recvmmsg of up to
// c.bvlen messages into c.bmsgs (ReadBatch). The socket is non-blocking:
// recvmmsg returns the messages already queued, or EAGAIN when there are
// none and the runtime's poller waits.
func (c *Conn) doRead(fd uintptr) bool {
	for {
		var n uintptr
		var e unix.Errno
		if c.bvlen == 0 {
			n, _, e = unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), 0)
		} else {
			n, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.bmsgs[0])), uintptr(c.bvlen), 0, 0, 0)
		}
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		c.rn, c.rerrno = int(n), e
		return true
	}
}

// ReadFrom reads the next VRRP message into b. transport.Meta.Src is the IP source
// (zoned to the interface if link-local), transport.Meta.Dst the IP destination,
// transport.Meta.TTL the TTL / hop limit it arrived with (not checked here: the
// caller must drop anything but 255, RFC 9568 section 7.1) and
// transport.Meta.IfIndex the receiving interface. Our own packets, packets from
// non-peers (unicast mode), packets on interfaces not joined and packets
// larger than b are dropped and counted in Stats. ReadFrom implements
// transport.Conn; it does not allocate.
func (c *Conn) ReadFrom(b []byte) (int, transport.Meta, error) {
	if len(b) == 0 {
		return 0, transport.Meta{}, &Error{Iface: c.name, Op: "read", Err: io.ErrShortBuffer}
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.ring != nil {
		c.one[0] = transport.Message{Buf: b}
		_, err := c.ringRead(c.one[:])
		m := c.one[0]
		c.one[0] = transport.Message{}
		if err != nil {
			return 0, transport.Meta{}, err
		}
		return len(m.Buf), m.Meta, nil
	}
	for {
		c.slot.prepare(c.family, &c.msg, b)
		c.rn, c.rerrno, c.bvlen = 0, 0, 0
		err := c.waitRead()
		n := c.rn
		c.slot.release()
		if err == nil && c.rerrno != 0 {
			err = c.rerrno
		}
		if err != nil {
			return 0, transport.Meta{}, opError(c.name, "read", err)
		}
		n, m, ok := c.finish(&c.slot, &c.msg, b, n)
		if ok {
			c.received.Add(1)
			return n, m, nil
		}
	}
}

// ReadBatch implements transport.BatchReader with one recvmmsg system
// call per batch: it blocks until a VRRP message arrives, then returns it
// and those already queued, up to len(ms) (at most 64 per call), each
// with the metadata and filtering of ReadFrom. Messages dropped by the
// filters are counted and leave their buffers at the end of ms. It does
// not allocate after its first call (or after a call with more messages
// than any before).
func (c *Conn) ReadBatch(ms []transport.Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	ms = ms[:min(len(ms), maxBatch)]
	for i := range ms {
		if len(ms[i].Buf) == 0 {
			return 0, &Error{Iface: c.name, Op: "read", Err: io.ErrShortBuffer}
		}
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.ring != nil {
		return c.ringRead(ms)
	}
	if len(c.bslots) < len(ms) {
		// Sized to the caller's batch, not maxBatch: a connection per
		// link holds a few kB, not 17 kB (issue 12). Callers pass the
		// same batch size each time, so this allocates once.
		c.bslots = make([]rslot, len(ms))
		c.bmsgs = make([]mmsghdr, len(ms))
	}
	for {
		for i := range ms {
			c.bslots[i].prepare(c.family, &c.bmsgs[i].hdr, ms[i].Buf)
			c.bmsgs[i].len = 0
		}
		c.bvlen = len(ms)
		c.rn, c.rerrno = 0, 0
		err := c.waitRead()
		got := c.rn
		for i := range ms {
			c.bslots[i].release()
		}
		if err == nil && c.rerrno != 0 {
			err = c.rerrno
		}
		if err != nil {
			return 0, opError(c.name, "read", err)
		}
		k := 0 // messages kept, moved to the front
		for i := range got {
			n, m, ok := c.finish(&c.bslots[i], &c.bmsgs[i].hdr, ms[i].Buf, int(c.bmsgs[i].len))
			if !ok {
				continue
			}
			ms[i].Buf, ms[i].Meta = ms[i].Buf[:n], m
			ms[k], ms[i] = ms[i], ms[k]
			k++
		}
		if k > 0 {
			c.received.Add(uint64(k))
			return k, nil
		}
	}
}

// prepare points h at s and b for one received message: for IPv4 the
// header (raw sockets deliver it) lands in s.hdr and the payload in b; for
// IPv6 the payload lands in b and the source in s.rname.
func (s *rslot) prepare(family int, h *unix.Msghdr, b []byte) {
	if family == 4 {
		s.iov[0].Base = &s.hdr[0]
		s.iov[0].SetLen(len(s.hdr))
		s.iov[1].Base = &b[0]
		s.iov[1].SetLen(len(b))
		h.Iov = &s.iov[0]
		h.SetIovlen(2)
		h.Name = nil
		h.Namelen = 0
	} else {
		s.iov[0].Base = &b[0]
		s.iov[0].SetLen(len(b))
		h.Iov = &s.iov[0]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.rname))
		h.Namelen = unix.SizeofSockaddrInet6
	}
	h.Control = &s.oob[0]
	h.SetControllen(len(s.oob))
	h.Flags = 0
}

// release drops the slot's pointer to the caller's buffer, so that it is
// not kept alive.
func (s *rslot) release() { s.iov[0].Base, s.iov[1].Base = nil, nil }

// finish turns a message of n bytes received through s and h into b's
// payload length and metadata, or drops and counts it (ok false).
func (c *Conn) finish(s *rslot, h *unix.Msghdr, b []byte, n int) (int, transport.Meta, bool) {
	if h.Flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		c.drop(&c.truncated, "truncated", 0, netip.Addr{})
		return 0, transport.Meta{}, false
	}
	info := parseCmsgs(s.oob[:h.Controllen])
	var m transport.Meta
	if c.family == 4 {
		hlen, ttl, src, dst, ok := parseIPv4Header(s.hdr[:], n)
		if !ok {
			c.drop(&c.truncated, "bad IPv4 header", info.ifIndex, netip.Addr{})
			return 0, transport.Meta{}, false
		}
		if hlen > len(s.hdr) {
			// IP options spilled into b: move the payload down.
			copy(b, b[hlen-len(s.hdr):n-len(s.hdr)])
		}
		n -= hlen
		m.Src, m.Dst, m.TTL = src, dst, ttl
	} else {
		m.Src = netip.AddrFrom16(s.rname.Addr)
		m.Dst = info.dst
	}
	if info.ttl >= 0 {
		m.TTL = info.ttl
	} else if c.family == 6 {
		c.drop(&c.truncated, "no hop limit control message", info.ifIndex, m.Src)
		return 0, transport.Meta{}, false
	}
	if info.dst.IsValid() {
		m.Dst = info.dst
	}
	m.IfIndex = info.ifIndex
	m.Time = info.time
	m.Drops = info.drops
	if !c.admit(&m) {
		return 0, transport.Meta{}, false
	}
	return n, m, true
}

// admit applies the transport's filters to a received packet's metadata
// (the interface joined, not our own, from a peer in unicast mode), zones
// a link-local source to its interface, and counts a drop.
func (c *Conn) admit(m *transport.Meta) bool {
	c.mu.RLock()
	st := c.ifaces[m.IfIndex]
	var reason *atomic.Uint64
	var why string
	switch {
	case st == nil:
		reason, why = &c.otherIface, "interface not joined"
	case !c.keepOwn && containsAddr(st.own, m.Src):
		reason, why = &c.own, "own packet"
	case len(c.peers) > 0 && !containsAddr(c.peers, m.Src):
		reason, why = &c.notPeer, "not a unicast peer"
	}
	if st != nil && m.Src.Is6() && m.Src.IsLinkLocalUnicast() {
		m.Src = m.Src.WithZone(st.name)
	}
	c.mu.RUnlock()
	if reason != nil {
		c.drop(reason, why, m.IfIndex, m.Src)
		return false
	}
	return true
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// drop counts a dropped packet and logs it at debug level, at most once
// a second (with the number of records suppressed meanwhile).
func (c *Conn) drop(counter *atomic.Uint64, why string, ifIndex int, src netip.Addr) {
	counter.Add(1)
	if !c.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	now := time.Now().UnixNano()
	last := c.lastLog.Load()
	if now-last < int64(time.Second) || !c.lastLog.CompareAndSwap(last, now) {
		c.suppressed.Add(1)
		return
	}
	c.log.Debug("transport: dropped packet", "reason", why, "ifindex", ifIndex, "src", src, "suppressed", c.suppressed.Swap(0))
}

// WriteTo sends b with TTL / hop limit 255 on interface m.IfIndex (0: the
// only interface) to m.Dst, or, if m.Dst is zero, to the VRRP group or to
// every unicast peer. A zero m.Src means Source(m.IfIndex). WriteTo
// implements transport.Conn.
func (c *Conn) WriteTo(b []byte, m transport.Meta) error {
	ms := [1]transport.Message{{Buf: b, Meta: m}}
	_, err := c.WriteBatch(ms[:])
	return err
}

// writeChunk is how many messages WriteBatch hands to one sendmmsg: the
// kernel takes at most 1,024 (UIO_MAXIOV) a call, and the arrays of a
// call (the Conn's message array, x/net's headers) are as long as what
// is handed over. 4,094 messages at once (a master of 4,094 links) kept
// about 1 MB of them, and x/net packed the rest again after each
// 1,024 (issue 12).
const writeChunk = 256

// WriteBatch sends every message of ms like WriteTo, in as few sendmmsg
// system calls as possible (one per writeChunk messages), and returns how
// many messages were sent completely (to every peer). A message that
// cannot go (its interface down, gone or not joined) does not hold back
// the others: they are still sent, and the error returned is the first
// such message's, naming its interface. It implements
// transport.BatchWriter.
func (c *Conn) WriteBatch(ms []transport.Message) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	defer func() {
		// Do not keep the callers' buffers alive.
		clear(c.wms[:cap(c.wms)])
		clear(c.wbufs[:cap(c.wbufs)])
		clear(c.wst[:cap(c.wst)])
	}()
	done := 0
	var first error
	for len(ms) > 0 {
		n := min(len(ms), writeChunk)
		d, err := c.sendChunk(ms[:n])
		done += d
		if err != nil && first == nil {
			first = err
		}
		if errors.Is(err, net.ErrClosed) {
			break
		}
		ms = ms[n:]
	}
	return done, first
}

// sendChunk sends ms (at most writeChunk messages) for WriteBatch, with
// c.wmu held: those that take the link-layer path in one run of
// sendmmsg, then the others on the socket.
func (c *Conn) sendChunk(ms []transport.Message) (int, error) {
	if c.wms == nil {
		// Room for a chunk to one destination each, made once.
		c.wms = make([]ipv4.Message, 0, writeChunk)
		c.wbufs = make([][]byte, 0, writeChunk)
		c.wcnt = make([]int, 0, writeChunk)
		c.wst = make([]*ifaceState, 0, writeChunk)
	}
	c.wms, c.wbufs, c.wcnt, c.wst = c.wms[:0], c.wbufs[:0], c.wcnt[:0], c.wst[:0]
	var first error
	firstAt := func(st *ifaceState, err error) {
		if first == nil {
			name := c.name
			if st != nil {
				name = st.name
			}
			first = opError(name, "write", err)
		}
	}
	nl := 0 // link-layer messages
	link := c.linkSender()
	if link != nil {
		link.grow(len(ms))
	}
	c.mu.RLock()
	for _, m := range ms {
		st, err := c.ifaceLocked(m.Meta.IfIndex)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		src := st.src
		if m.Meta.Src.IsValid() {
			src = m.Meta.Src
		}
		if link != nil && linkOK(st, m.Meta.Dst, src, len(m.Buf)) {
			link.add(nl, st, src, m.Buf)
			nl++
			continue
		}
		oob := st.oob
		if m.Meta.Src.IsValid() && m.Meta.Src.WithZone("") != st.src.WithZone("") {
			oob = c.marshalCM(st.index, m.Meta.Src)
		}
		k := len(c.wms)
		switch {
		case m.Meta.Dst.IsValid():
			c.wms = append(c.wms, ipv4.Message{OOB: oob, Addr: c.dstAddr(st, m.Meta.Dst)})
		case len(st.peers) > 0:
			for _, p := range st.peers {
				c.wms = append(c.wms, ipv4.Message{OOB: oob, Addr: p})
			}
		default:
			c.wms = append(c.wms, ipv4.Message{OOB: oob, Addr: st.group})
		}
		for range len(c.wms) - k {
			c.wbufs = append(c.wbufs, m.Buf)
			c.wst = append(c.wst, st)
		}
		c.wcnt = append(c.wcnt, len(c.wms)-k)
	}
	c.mu.RUnlock()

	done := 0
	if nl > 0 {
		sent, st, err := link.send(nl)
		c.linkSent.Add(uint64(sent))
		done += sent
		if err != nil {
			firstAt(st, err)
		}
	}
	if len(c.wms) == 0 {
		return done, first
	}
	for i := range c.wms {
		c.wms[i].Buffers = c.wbufs[i : i+1 : i+1]
	}
	// Each copy sent or not (a bit per copy, at most 64 * writeChunk
	// copies: no allocation beyond the first chunk's).
	failed := c.wfailed(len(c.wms))
	for at := 0; at < len(c.wms); {
		var n int
		var err error
		if c.family == 4 {
			n, err = c.p4.WriteBatch(c.wms[at:], 0)
		} else {
			n, err = c.p6.WriteBatch(c.wms[at:], 0)
		}
		at += max(n, 0) // x/net passes on sendmmsg's -1 with its error
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			if at < len(c.wms) {
				firstAt(c.wst[at], err)
				failed[at] = true
			} else {
				firstAt(nil, err)
			}
			if errors.Is(err, net.ErrClosed) {
				for ; at < len(c.wms); at++ {
					failed[at] = true
				}
				break
			}
			at++ // the message the kernel refused
		}
	}
	i := 0
	for _, k := range c.wcnt {
		ok := true
		for _, f := range failed[i : i+k] {
			ok = ok && !f
		}
		if ok {
			done++
		}
		i += k
	}
	return done, first
}

// linkSender returns the link-layer send socket when this chunk should
// use it (Config.Send); nil: the protocol-112 socket sends everything.
func (c *Conn) linkSender() *linkSender {
	if c.link == nil {
		return nil
	}
	if c.sendPath == SendAuto {
		c.mu.RLock()
		n := len(c.ifaces)
		c.mu.RUnlock()
		if n < AutoLinkIfaces {
			return nil
		}
	}
	return c.link
}

// openLink opens the link-layer send socket for Config.Send p, with the
// Conn, so that it is in the network namespace of the Conn's
// protocol-112 socket: the interface indexes it sends to are that
// namespace's. IPv4 only; SendAuto only for a Conn of several
// interfaces (ListenMulti), since one interface never reaches
// AutoLinkIfaces. Best effort: without it, the socket sends everything.
func (c *Conn) openLink(p SendPath, multi bool) {
	if c.family != 4 || p == SendSocket || p == SendAuto && !multi {
		return
	}
	l, err := openLink()
	if err != nil {
		c.log.Warn("transport: no link-layer send, sending on the protocol-112 socket", "interface", c.name, "err", err)
		return
	}
	c.sendPath, c.link = p, l
}

// wfailed returns n cleared flags, one per message of c.wms, reusing the
// Conn's.
func (c *Conn) wfailed(n int) []bool {
	if cap(c.wfail) < n {
		c.wfail = make([]bool, n)
	}
	c.wfail = c.wfail[:n]
	clear(c.wfail)
	return c.wfail
}

// marshalCM builds the send control message for a source other than the
// interface default.
func (c *Conn) marshalCM(ifIndex int, src netip.Addr) []byte {
	if c.family == 4 {
		return (&ipv4.ControlMessage{IfIndex: ifIndex, Src: src.Unmap().AsSlice()}).Marshal()
	}
	return (&ipv6.ControlMessage{HopLimit: 255, IfIndex: ifIndex, Src: src.WithZone("").AsSlice()}).Marshal()
}

// dstAddr returns dst as a net.Addr, reusing the cached group and peer
// addresses.
func (c *Conn) dstAddr(st *ifaceState, dst netip.Addr) net.Addr {
	if dst.WithZone("") == c.group {
		return st.group
	}
	for i, p := range c.peers {
		if p == dst.WithZone("") {
			return st.peers[i]
		}
	}
	return &net.IPAddr{IP: dst.Unmap().AsSlice()}
}
