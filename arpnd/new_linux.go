//go:build linux

package arpnd

import (
	"errors"
	"fmt"
	"github.com/govrrp/govrrp/internal/ifaceio"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"github.com/govrrp/govrrp/vrrp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// New returns an Announcer for the real interfaces of this host. It opens
// AF_PACKET sockets (CAP_NET_RAW) on Config.Interface at once, or on each
// interface a virtual router names on first use when Config.Interface is
// empty. In ModeMacvlan it creates, on the first hook call for each
// virtual router, a macvlan named by MacvlanName (CAP_NET_ADMIN), up only
// between Take and Release; see the package documentation.
//
// The Announcer stays in the network namespace of the thread that called
// New: it opens sockets, creates macvlans and writes sysctls there even
// when its methods are called from another namespace.
func New(cfg Config) (*Announcer, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("arpnd: current network namespace: %w", err)
	}
	p := &linuxPlatform{
		cfg:      cfg,
		ns:       ns,
		links:    make(map[string]*link),
		macvlans: make(map[vrKey]*macvlan),
		parents:  make(map[string]*parentState),
		vmacVRs:  make(map[*vrState]struct{}),
	}
	a, err := newAnnouncer(cfg, p)
	if err != nil {
		ns.Close()
		return nil, err
	}
	if cfg.Interface != "" {
		if cfg.Mode == ModeMacvlan {
			_, err = netlink.LinkByName(cfg.Interface)
			if err != nil {
				err = fmt.Errorf("arpnd: interface %q: %w", cfg.Interface, err)
			}
		} else {
			err = p.do(func() error { _, err := p.open(a, cfg.Interface, true, true); return err })
		}
		if err != nil {
			p.close()
			return nil, err
		}
	}
	return a, nil
}

// do runs f on a thread in the Announcer's network namespace.
func (p *linuxPlatform) do(f func() error) error {
	runtime.LockOSThread()
	cur, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("arpnd: current network namespace: %w", err)
	}
	defer cur.Close()
	if cur.Equal(p.ns) {
		defer runtime.UnlockOSThread()
		return f()
	}
	if err := netns.Set(p.ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("arpnd: enter network namespace: %w", err)
	}
	ferr := f()
	if err := netns.Set(cur); err == nil {
		// Only a thread back in its own namespace may serve others; one
		// that could not switch back dies with its goroutine.
		runtime.UnlockOSThread()
	}
	return ferr
}

// MacvlanName returns the name of the ModeMacvlan interface of a virtual
// router: "vr4.{ifindex}.{vrid}" for IPv4 and "vr6.{ifindex}.{vrid}" for
// IPv6, where ifindex is the parent interface's index, so that names are
// unique per interface, family and VRID and fit IFNAMSIZ (15 bytes: an
// ifindex of up to 7 digits). keepalived names its use_vmac interfaces
// vrrp.{VRID}.
func MacvlanName(ifindex int, vrid uint8, ipv6 bool) (string, error) {
	return macvlanName(ifindex, vrid, ipv6)
}

type linuxPlatform struct {
	cfg      Config
	ns       netns.NsHandle
	links    map[string]*link
	macvlans map[vrKey]*macvlan
	parents  map[string]*parentState
	// vmacVRs are the virtual routers whose nftables table is installed
	// (ModeVirtualMAC with the responder, while master); see nft_linux.go.
	vmacVRs map[*vrState]struct{}
	// snd is the socket every link without a reader sends from
	// (sender_linux.go), opened on first use; nil until then.
	snd *sender
}

// sharedConn returns a send-only connection for frames of EtherType
// proto on ifi over the Announcer's one sending socket, opening it on
// first use. Called with the Announcer's lock held, in its namespace.
func (p *linuxPlatform) sharedConn(ifi *net.Interface, proto uint16) (PacketConn, error) {
	if p.snd == nil {
		s, err := openSender()
		if err != nil {
			return nil, privErr(ifi.Name, "open packet socket", "CAP_NET_RAW", err)
		}
		p.snd = s
	}
	return linkSender{s: p.snd, ifindex: ifi.Index, proto: proto}, nil
}

type macvlan struct {
	l      *link
	nl     netlink.Link
	parent string
	// parentIdx is the parent's interface index.
	parentIdx int
	// ll is the link-local address of an IPv6 virtual router's macvlan
	// (invalid for IPv4).
	ll netip.Addr
}

// rawConn adds PACKET_MR_UNICAST to *packet.Conn.
type rawConn struct{ *packet.Conn }

func (c rawConn) AddUnicast(mac net.HardwareAddr) error  { return c.mreq(mac, true) }
func (c rawConn) DropUnicast(mac net.HardwareAddr) error { return c.mreq(mac, false) }

func (c rawConn) mreq(mac net.HardwareAddr, add bool) error {
	sc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = sc.Control(func(fd uintptr) {
		idx, e := boundIndex(int(fd))
		if e != nil {
			serr = e
			return
		}
		mr := unix.PacketMreq{Ifindex: int32(idx), Type: unix.PACKET_MR_UNICAST, Alen: 6}
		copy(mr.Address[:], mac)
		opt := unix.PACKET_ADD_MEMBERSHIP
		if !add {
			opt = unix.PACKET_DROP_MEMBERSHIP
		}
		serr = unix.SetsockoptPacketMreq(int(fd), unix.SOL_PACKET, opt, &mr)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("arpnd: add %v to the unicast filter: %w", mac, serr)
	}
	return nil
}

// clearError reads and so clears the socket's pending error. The kernel
// sets ENETDOWN on a packet socket when its interface goes down, and the
// next send (or receive) fails with it even after the interface came back
// up; the macvlan's sockets have no reader to take it.
func (c rawConn) clearError() {
	sc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		_, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	})
}

// isNetDown reports whether err is the ENETDOWN a packet socket returns
// once when its interface goes down; the socket works again when the
// interface comes back up.
func isNetDown(err error) bool { return errors.Is(err, unix.ENETDOWN) }

func boundIndex(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, err
	}
	ll, ok := sa.(*unix.SockaddrLinklayer)
	if !ok {
		return 0, errors.New("arpnd: not a packet socket")
	}
	return ll.Ifindex, nil
}

// BPF programs for the packet sockets: answer-only sockets drop every
// received frame; responder sockets keep ARP requests and ICMPv6 Neighbor
// Solicitations, advertising sockets ICMPv6 Router Solicitations.
var (
	bpfDropAll = []bpf.Instruction{bpf.RetConstant{Val: 0}}
	bpfARPReq  = []bpf.Instruction{
		bpf.LoadAbsolute{Off: 20, Size: 2}, // ARP operation
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 1, SkipTrue: 1},
		bpf.RetConstant{Val: 1600},
		bpf.RetConstant{Val: 0},
	}
	bpfNS   = bpfICMPv6(icmpTypeNS)
	bpfRS   = bpfICMPv6(icmpTypeRS)
	bpfNSRS = bpfICMPv6(icmpTypeNS, icmpTypeRS)
)

// bpfICMPv6 keeps IPv6 frames carrying ICMPv6 (no extension header) of
// one of the given types that the host did not send itself (a packet
// socket also sees outgoing frames, such as the kernel's own Router
// Solicitations).
func bpfICMPv6(types ...uint32) []bpf.Instruction {
	n := uint8(len(types))
	p := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType}, // packet type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: n + 3},
		bpf.LoadAbsolute{Off: 20, Size: 1}, // IPv6 next header
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: n + 1},
		bpf.LoadAbsolute{Off: 54, Size: 1}, // ICMPv6 type
	}
	for i, t := range types {
		// Jump to the accept after the last comparison.
		p = append(p, bpf.JumpIf{Cond: bpf.JumpEqual, Val: t, SkipTrue: n - uint8(i)})
	}
	return append(p, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: 1600})
}

func assemble(p []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(p)
	if err != nil {
		panic(err) // constant programs
	}
	return raw
}

func privErr(ifname, what, capability string, err error) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("arpnd: interface %q: %s: %w (needs %s)", ifname, what, err, capability)
	}
	return fmt.Errorf("arpnd: interface %q: %s: %w", ifname, what, err)
}

// openLink opens the packet sockets on ifi of the families asked for
// (v4: the ARP socket, v6: the IPv6 one); ensureFamily opens the other
// later if a virtual router of that family comes. respond is to answer
// ARP and NS, ra to receive Router Solicitations. An instance of one
// family holds one socket, not two (issue 12).
func (p *linuxPlatform) openLink(a *Announcer, ifi *net.Interface, respond, ra, v4, v6 bool) (*link, error) {
	l := &link{ifi: Interface{Name: ifi.Name, Index: ifi.Index, HardwareAddr: ifi.HardwareAddr}}
	if err := checkMAC(l.ifi.HardwareAddr); err != nil {
		return nil, fmt.Errorf("arpnd: interface %q is not Ethernet: %w", ifi.Name, err)
	}
	for _, f := range []struct {
		on, v6 bool
	}{{v4, false}, {v6, true}} {
		if !f.on {
			continue
		}
		if err := p.ensureFamily(a, l, f.v6, respond, ra); err != nil {
			closeConns(l)
			return nil, err
		}
	}
	return l, nil
}

// ensureFamily opens l's packet socket of one family (ARP for IPv4, IPv6
// for IPv6) unless open, and starts its reader when it has one. Called
// with the Announcer's lock held (or before l is shared).
func (p *linuxPlatform) ensureFamily(a *Announcer, l *link, v6, respond, ra bool) error {
	ifi := &net.Interface{Name: l.ifi.Name, Index: l.ifi.Index, HardwareAddr: l.ifi.HardwareAddr}
	if !v6 {
		if l.arp != nil {
			return nil
		}
		if !respond {
			// Nothing to read: send from the shared socket.
			c, err := p.sharedConn(ifi, etherTypeARP)
			if err != nil {
				return err
			}
			l.arp = c
			return nil
		}
		f := bpfARPReq
		ac, err := packet.Listen(ifi, packet.Raw, etherTypeARP, &packet.Config{Filter: assemble(f)})
		if err != nil {
			return privErr(ifi.Name, "open ARP packet socket", "CAP_NET_RAW", err)
		}
		l.arp = rawConn{ac}
		a.startReaders(l, respond, false)
		return nil
	}
	if l.nd != nil {
		return nil
	}
	var f []bpf.Instruction
	switch {
	case respond && ra:
		f = bpfNSRS
	case respond:
		f = bpfNS
	case ra:
		f = bpfRS
	}
	if f == nil {
		c, err := p.sharedConn(ifi, etherTypeIPv6)
		if err != nil {
			return err
		}
		l.nd = c
	} else {
		nc, err := packet.Listen(ifi, packet.Raw, etherTypeIPv6, &packet.Config{Filter: assemble(f)})
		if err != nil {
			return privErr(ifi.Name, "open IPv6 packet socket", "CAP_NET_RAW", err)
		}
		l.nd = rawConn{nc}
	}
	if !l.ifi.LinkLocal.IsValid() {
		l.ifi.LinkLocal = linkLocal(ifi)
	}
	a.startReaders(l, false, respond || ra)
	return nil
}

// linkLocal returns the first IPv6 link-local address of ifi, asking the
// kernel for that interface's addresses only.
func linkLocal(ifi *net.Interface) netip.Addr {
	addrs, err := ifaceio.Addrs(ifi.Index, unix.AF_INET6)
	if err != nil {
		return netip.Addr{}
	}
	for _, ad := range addrs {
		if ip := ad.Prefix.Addr(); ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip
		}
	}
	return netip.Addr{}
}

// interfaceByName looks interface name up with targeted ioctls, not
// net.InterfaceByName's dump of every link (O(N) per call, O(N^2) for N
// links, and its HardwareAddr pins the whole dump): only the Name, Index
// and HardwareAddr (a fresh slice) of the result are set.
func interfaceByName(name string) (*net.Interface, error) {
	idx, err := ifaceio.IndexByName(name)
	if err != nil {
		return nil, err
	}
	mac, err := ifaceio.HardwareAddr(name)
	if err != nil {
		return nil, err
	}
	return &net.Interface{Name: name, Index: idx, HardwareAddr: mac}, nil
}

// open returns the shared link of an interface (ModeInterfaceMAC,
// ModeVirtualMAC) with its packet socket of the family of v6 open; with
// both, both (New with Config.Interface, so that a missing capability
// shows at once).
func (p *linuxPlatform) open(a *Announcer, name string, v4, v6 bool) (*link, error) {
	if l, ok := p.links[name]; ok {
		for _, f := range []struct{ on, v6 bool }{{v4, false}, {v6, true}} {
			if f.on {
				if err := p.ensureFamily(a, l, f.v6, a.responding(), a.ra != nil); err != nil {
					return nil, err
				}
			}
		}
		if v6 && !l.ifi.LinkLocal.IsValid() {
			l.ifi.LinkLocal = linkLocal(&net.Interface{Name: name, Index: l.ifi.Index})
		}
		return l, nil
	}
	ifi, err := interfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("arpnd: interface %q: %w", name, err)
	}
	l, err := p.openLink(a, ifi, a.responding(), a.ra != nil, v4, v6)
	if err != nil {
		return nil, err
	}
	p.links[name] = l
	return l, nil
}

func (p *linuxPlatform) linkFor(a *Announcer, vr vrrp.VRInfo, key vrKey, vmac net.HardwareAddr) (l *link, err error) {
	err = p.do(func() error {
		l, err = p.linkForNS(a, vr, key, vmac)
		return err
	})
	return l, err
}

func (p *linuxPlatform) linkForNS(a *Announcer, vr vrrp.VRInfo, key vrKey, vmac net.HardwareAddr) (*link, error) {
	name := vr.Interface
	if name == "" {
		n, err := ifaceio.NameByIndex(vr.IfIndex)
		if err != nil {
			return nil, fmt.Errorf("arpnd: interface index %d: %w", vr.IfIndex, err)
		}
		name = n
	}
	if p.cfg.Mode != ModeMacvlan {
		return p.open(a, name, !key.v6, key.v6)
	}
	if m, ok := p.macvlans[key]; ok {
		return m.l, nil
	}
	m, err := p.createMacvlan(a, name, key, vmac)
	if err != nil {
		return nil, err
	}
	p.macvlans[key] = m
	return m.l, nil
}

// createMacvlan makes the macvlan of a virtual router, down: the virtual
// MAC, no automatic IPv6 link-local address (addrgenmode none: every
// router of the VRID would otherwise generate the same EUI-64 address from
// the shared virtual MAC, and DAD would fail on all but one), the IPv6
// sysctls of macvlanSysctls, arp_ignore=1 on the macvlan and on the
// parent. take sets it up (and adds the link-local address of an IPv6
// virtual router), release sets it down again.
func (p *linuxPlatform) createMacvlan(a *Announcer, parent string, key vrKey, vmac net.HardwareAddr) (m *macvlan, err error) {
	pl, err := netlink.LinkByName(parent)
	if err != nil {
		return nil, fmt.Errorf("arpnd: interface %q: %w", parent, err)
	}
	name, err := macvlanName(pl.Attrs().Index, key.vrid, key.v6)
	if err != nil {
		return nil, err
	}
	// The parent's original arp_ignore, before a stale macvlan (and its
	// marker) is deleted; see holdParent.
	parentMu.Lock()
	defer parentMu.Unlock()
	orig, err := p.holdParent(pl)
	if err != nil {
		return nil, err
	}
	created := false
	defer func() {
		if err != nil {
			if created {
				_ = netlink.LinkDel(&netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: name}})
			}
			p.dropParent(parent, pl.Attrs().Index)
		}
	}()
	if _, err := delLeftoverMacvlan(pl, name); err != nil {
		return nil, err
	}
	mode := netlink.MACVLAN_MODE_PRIVATE
	if p.cfg.MacvlanMode == MacvlanBridge {
		mode = netlink.MACVLAN_MODE_BRIDGE
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.ParentIndex, la.HardwareAddr = name, pl.Attrs().Index, vmac
	mv := &netlink.Macvlan{LinkAttrs: la, Mode: mode}
	if err := netlink.LinkAdd(mv); err != nil {
		return nil, privErr(parent, "create macvlan "+name, "CAP_NET_ADMIN", err)
	}
	created = true
	nll, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("arpnd: macvlan %q: %w", name, err)
	}
	// The marker first, so that a crash from here on leaves the original
	// value where the next run finds it.
	if err := netlink.LinkSetAlias(nll, parentMarker+orig); err != nil {
		return nil, privErr(name, "set alias", "CAP_NET_ADMIN", err)
	}
	if err := netlink.LinkSetIP6AddrGenMode(nll, nl.IN6_ADDR_GEN_MODE_NONE); err != nil && !errors.Is(err, unix.EAFNOSUPPORT) {
		return nil, fmt.Errorf("arpnd: macvlan %q: addrgenmode none: %w", name, err)
	}
	// Before the link is ever up, so that the kernel never acts on the
	// defaults. They go with the macvlan: Close need not restore them.
	for _, s := range macvlanSysctls(key.v6) {
		path := filepath.Join("/proc/sys/net/ipv6/conf", name, s.k)
		if err := writeSysctl(path, s.v); err != nil {
			if !key.v6 && errors.Is(err, os.ErrNotExist) {
				continue // no IPv6 in this kernel: nothing to silence
			}
			return nil, err
		}
	}
	if err := writeSysctl(filepath.Join("/proc/sys/net/ipv4/conf", name, "arp_ignore"), "1"); err != nil {
		return nil, err
	}
	if parentNeedsArpIgnore(orig) {
		if err := writeSysctl(parentArpIgnorePath(parent), "1"); err != nil {
			return nil, err
		}
	}
	ifi, err := interfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("arpnd: macvlan %q: %w", name, err)
	}
	l, err := p.openLink(a, ifi, false, a.ra != nil && key.v6, !key.v6, key.v6)
	if err != nil {
		return nil, err
	}
	m = &macvlan{l: l, nl: nll, parent: parent, parentIdx: pl.Attrs().Index}
	if key.v6 {
		m.ll = macvlanLinkLocal(pl.Attrs().HardwareAddr, key.vrid)
		l.ifi.LinkLocal = m.ll
	}
	return m, nil
}

// delLeftoverMacvlan deletes the interface name, the macvlan of a
// virtual router on the parent pl, if a process that did not Close left
// it (ours by name), and reports whether there was one. An interface of
// that name that is not a macvlan on pl is an error. Called with parentMu
// held, in p's namespace, between holdParent and dropParent when the
// parent's arp_ignore is to be restored: holdParent reads the original
// value from the leftover's marker before it goes.
func delLeftoverMacvlan(pl netlink.Link, name string) (bool, error) {
	old, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return false, nil
		}
		return false, fmt.Errorf("arpnd: interface %q: %w", name, err)
	}
	if mv, ok := old.(*netlink.Macvlan); !ok || mv.ParentIndex != pl.Attrs().Index {
		return false, fmt.Errorf("arpnd: interface %q exists and is not a macvlan on %q", name, pl.Attrs().Name)
	}
	if err := netlink.LinkDel(old); err != nil {
		return false, privErr(name, "delete stale macvlan", "CAP_NET_ADMIN", err)
	}
	return true, nil
}

type sysctl struct{ k, v string }

// macvlanSysctls are the net.ipv6.conf.MACVLAN settings of a new macvlan.
// An IPv4 virtual router's macvlan gets no IPv6 at all (disable_ipv6=1):
// it would otherwise join ff02::2 on a router (forwarding=1) and send MLD
// reports for it from the IPv4 virtual MAC. An IPv6 virtual router's
// macvlan is a router interface: it does not solicit routers
// (router_solicitations=0) nor learn routes or SLAAC addresses from
// advertisements (accept_ra=0; a prefix would make an EUI-64 address of
// the virtual MAC, the same on every router of the VRID).
func macvlanSysctls(v6 bool) []sysctl {
	if !v6 {
		return []sysctl{{"disable_ipv6", "1"}}
	}
	return []sysctl{{"accept_ra", "0"}, {"router_solicitations", "0"}}
}

// macvlanLinkLocal returns the link-local address of a macvlan: the
// parent's modified EUI-64 interface identifier (RFC 4291 appendix A) with
// the ff-fe filler replaced by 5e-{VRID}. It is unique per host and VRID,
// and never equal to an automatic EUI-64 address, so neither the parent's
// address nor another router's is duplicated.
func macvlanLinkLocal(parentMAC net.HardwareAddr, vrid uint8) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	if len(parentMAC) == 6 {
		b[8], b[9], b[10] = parentMAC[0]^0x02, parentMAC[1], parentMAC[2]
		b[13], b[14], b[15] = parentMAC[3], parentMAC[4], parentMAC[5]
	}
	b[11], b[12] = 0x5e, vrid
	return netip.AddrFrom16(b)
}

func writeSysctl(path, v string) error {
	if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
		return fmt.Errorf("arpnd: sysctl %s=%s: %w", path, v, err)
	}
	return nil
}

func vipNet(ip netip.Addr) *net.IPNet {
	bits := ip.BitLen()
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, bits)}
}

// take sets the macvlan up, adds its link-local address (IPv6) and
// assigns the virtual addresses to it (a /32 or /128, without DAD: the
// backups do not hold them).
func (p *linuxPlatform) take(l *link, vr *vrState) error {
	return p.do(func() error { return p.takeNS(vr) })
}

func (p *linuxPlatform) takeNS(vr *vrState) error {
	if p.cfg.Mode == ModeVirtualMAC && p.cfg.Responder {
		if err := p.addVMACRule(vr); err != nil {
			return err
		}
		p.vmacVRs[vr] = struct{}{}
		return nil
	}
	m, ok := p.macvlans[vr.key]
	if !ok {
		return nil
	}
	name := m.nl.Attrs().Name
	if err := netlink.LinkSetUp(m.nl); err != nil {
		return privErr(name, "set up", "CAP_NET_ADMIN", err)
	}
	// The sockets may hold the ENETDOWN of the last release.
	for _, c := range []PacketConn{m.l.arp, m.l.nd} {
		if rc, ok := c.(rawConn); ok && rc.Conn != nil {
			rc.clearError()
		}
	}
	var errs []error
	if m.ll.IsValid() {
		// Link-local addresses do not survive a link down, not even with
		// keep_addr_on_down; AddrReplace also covers a link left up.
		ll := &netlink.Addr{IPNet: &net.IPNet{IP: m.ll.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD, Scope: unix.RT_SCOPE_LINK}
		if err := netlink.AddrReplace(m.nl, ll); err != nil {
			errs = append(errs, privErr(name, "add link-local "+m.ll.String(), "CAP_NET_ADMIN", err))
		}
	}
	for _, ip := range vr.addrs {
		ad := &netlink.Addr{IPNet: vipNet(ip.WithZone(""))}
		if vr.key.v6 {
			ad.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(m.nl, ad); err != nil {
			errs = append(errs, privErr(name, "add "+ip.String(), "CAP_NET_ADMIN", err))
		}
	}
	return errors.Join(errs...)
}

// release removes the virtual addresses; with down (vr is no longer
// master) it first sets the macvlan down, so that a backup sends nothing
// from the virtual MAC, not even the MLD reports of removing the
// addresses (see the package documentation).
func (p *linuxPlatform) release(l *link, vr *vrState, down bool) error {
	return p.do(func() error { return p.releaseNS(vr, down) })
}

func (p *linuxPlatform) releaseNS(vr *vrState, down bool) error {
	if _, ok := p.vmacVRs[vr]; ok {
		delete(p.vmacVRs, vr)
		return p.delVMACRule(vr)
	}
	m, ok := p.macvlans[vr.key]
	if !ok {
		return nil
	}
	var errs []error
	if down {
		if err := netlink.LinkSetDown(m.nl); err != nil {
			errs = append(errs, privErr(m.nl.Attrs().Name, "set down", "CAP_NET_ADMIN", err))
		}
	}
	for _, ip := range vr.addrs {
		err := netlink.AddrDel(m.nl, &netlink.Addr{IPNet: vipNet(ip.WithZone(""))})
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, privErr(m.nl.Attrs().Name, "delete "+ip.String(), "CAP_NET_ADMIN", err))
		}
	}
	return errors.Join(errs...)
}

func (p *linuxPlatform) forget(vr *vrState) error {
	return p.do(func() error { return p.forgetNS(vr) })
}

func (p *linuxPlatform) forgetNS(vr *vrState) error {
	var errs []error
	if _, ok := p.vmacVRs[vr]; ok {
		delete(p.vmacVRs, vr)
		errs = append(errs, p.delVMACRule(vr))
	}
	m, ok := p.macvlans[vr.key]
	if !ok {
		return errors.Join(errs...)
	}
	delete(p.macvlans, vr.key)
	parentMu.Lock()
	defer parentMu.Unlock()
	errs = append(errs, closeConns(m.l))
	if err := netlink.LinkDel(m.nl); err != nil {
		errs = append(errs, privErr(m.nl.Attrs().Name, "delete macvlan", "CAP_NET_ADMIN", err))
	}
	p.dropParent(m.parent, m.parentIdx)
	return errors.Join(errs...)
}

func (p *linuxPlatform) close() error {
	err := p.do(p.closeNS)
	if p.snd != nil {
		err = errors.Join(err, p.snd.close())
	}
	p.ns.Close()
	return err
}

func (p *linuxPlatform) closeNS() error {
	var errs []error
	for vr := range p.vmacVRs {
		errs = append(errs, p.delVMACRule(vr))
	}
	clear(p.vmacVRs)
	for _, l := range p.links {
		errs = append(errs, closeConns(l))
	}
	parentMu.Lock()
	defer parentMu.Unlock()
	for _, m := range p.macvlans {
		errs = append(errs, closeConns(m.l))
		if err := netlink.LinkDel(m.nl); err != nil {
			errs = append(errs, privErr(m.nl.Attrs().Name, "delete macvlan", "CAP_NET_ADMIN", err))
		}
		p.dropParent(m.parent, m.parentIdx)
	}
	return errors.Join(errs...)
}
