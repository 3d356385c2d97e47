//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/govrrp/govrrp/arpnd"
	"github.com/govrrp/govrrp/internal/ifaceio"
	"github.com/govrrp/govrrp/internal/vipaddr"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linuxSystem runs the daemon on this host: raw VRRP sockets (one per
// family for every multicast instance, raw.ListenMulti with a group join
// per interface, see OpenMulti; raw.Listen for unicast peers, a source
// address or the receive ring), virtual addresses through netlink (vipaddr),
// gratuitous ARP / unsolicited NA through arpnd, interface state from
// netlink link notifications.
type linuxSystem struct {
	log  *slog.Logger
	ns   netns.NsHandle
	h    *netlink.Handle
	vips *vipaddr.Manager
	// filter drops packets addressed to the VIPs of a non-owner master
	// without Accept_Mode (RFC 9568 section 6.4.3).
	filter *vipaddr.Filter

	mu   sync.Mutex
	anns map[arpnd.Mode]*arpnd.Announcer
	// prober probes the VIPs for second responders (probe.go); made on
	// first use.
	prober *arpnd.Prober
	// igmpRaised is set once net.ipv4.igmp_max_memberships was raised,
	// or could not be (JoinMulti); igmpLimit is its value, read once.
	igmpRaised bool
	igmpLimit  int
	// igmpPath is the sysctl's file (a test points it elsewhere).
	igmpPath string
	// send is send_path (Config.SendPath) for the sockets opened from
	// now on (SetSendPath).
	send raw.SendPath
}

// SetSendPath sets how the sockets opened from now on send IPv4
// multicast advertisements (Config.SendPath; raw.Config.Send).
func (s *linuxSystem) SetSendPath(p raw.SendPath) {
	s.mu.Lock()
	s.send = p
	s.mu.Unlock()
}

func (s *linuxSystem) sendPath() raw.SendPath {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.send
}

var _ multiSystem = (*linuxSystem)(nil)

// Linux capability numbers (linux/capability.h).
const (
	capNetAdmin = 12
	capNetRaw   = 13
)

// effectiveCaps returns the process's effective capability set from
// /proc/self/status; ok is false when it cannot tell.
func effectiveCaps() (caps uint64, ok bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, found := strings.CutPrefix(sc.Text(), "CapEff:")
		if !found {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		return caps, err == nil
	}
	return 0, false
}

// capsError returns an error naming the interface and the capabilities
// missing from caps (an effective set), or nil.
func capsError(ifname string, caps uint64) error {
	var missing []string
	if caps&(1<<capNetRaw) == 0 {
		missing = append(missing, "CAP_NET_RAW (raw VRRP sockets, ARP / NA)")
	}
	if caps&(1<<capNetAdmin) == 0 {
		missing = append(missing, "CAP_NET_ADMIN (adding the virtual addresses, Accept_Mode filter)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("interface %q: missing capabilities: %s; run as root or grant them (setcap cap_net_raw,cap_net_admin+ep vrrpd)",
		ifname, strings.Join(missing, ", "))
}

// newSystem returns the host system, bound to the current network
// namespace.
//
// It needs no privilege: Open checks the capabilities once it has found
// the interface, so that a missing interface is reported as such and a
// missing capability names the interface.
func newSystem(log *slog.Logger) (system, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("current network namespace: %w", err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	vips, err := vipaddr.New(log)
	if err != nil {
		h.Close()
		ns.Close()
		return nil, err
	}
	filter, err := vipaddr.NewFilter(log)
	if err != nil {
		vips.Close()
		h.Close()
		ns.Close()
		return nil, err
	}
	return &linuxSystem{log: log, ns: ns, h: h, vips: vips, filter: filter, anns: map[arpnd.Mode]*arpnd.Announcer{}, igmpPath: igmpMaxPath}, nil
}

func (s *linuxSystem) Open(in *Instance) (transport.Conn, int, netip.Addr, error) {
	link, err := s.h.LinkByName(in.Interface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, 0, netip.Addr{}, fmt.Errorf("interface %q: no such interface", in.Interface)
		}
		return nil, 0, netip.Addr{}, fmt.Errorf("interface %q: %w", in.Interface, err)
	}
	if caps, ok := effectiveCaps(); ok {
		if err := capsError(in.Interface, caps); err != nil {
			return nil, 0, netip.Addr{}, err
		}
	}
	fam := 4
	if in.Family() == vrrp.IPv6 {
		fam = 6
	}
	c, err := raw.Listen(in.Interface, &raw.Config{Family: fam, Peers: in.Peers, Src: in.Src, Ring: in.Ring, Poll: in.ReceivePoll, Send: s.sendPath(), Logger: s.log})
	if err != nil {
		return nil, 0, netip.Addr{}, err
	}
	primary := in.Src
	if !primary.IsValid() {
		if primary, err = c.Source(0); err != nil {
			c.Close()
			return nil, 0, netip.Addr{}, fmt.Errorf("interface %q: no source address for %v advertisements (give -src or add an address): %w",
				in.Interface, in.Family(), err)
		}
	}
	return c, link.Attrs().Index, primary.WithZone(""), nil
}

// OpenMulti opens a raw VRRP socket of the family for every multicast
// instance (raw.ListenMulti); JoinMulti adds their interfaces to it. One
// socket per family serves every interface, up to the kernel's limit on
// the groups one socket joins (see JoinMulti); the instances with ring
// have one of their own, with one ring for all their interfaces.
func (s *linuxSystem) OpenMulti(fam vrrp.Family, in *Instance) (transport.Conn, error) {
	// The interface first, then the capabilities, as Open: a missing
	// interface is reported as such, a missing capability names it.
	if _, err := lookupIndex(in.Interface); err != nil {
		return nil, err
	}
	if caps, ok := effectiveCaps(); ok {
		if err := capsError(in.Interface, caps); err != nil {
			return nil, err
		}
	}
	c, err := raw.ListenMulti(int(fam), &raw.Config{Logger: s.log, Ring: in.Ring, Poll: in.ReceivePoll, Send: s.sendPath()})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// lookupIndex returns the index of interface name, with Open's errors.
func lookupIndex(name string) (int, error) {
	idx, err := ifaceio.IndexByName(name)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, fmt.Errorf("interface %q: no such interface", name)
		}
		return 0, fmt.Errorf("interface %q: %w", name, err)
	}
	return idx, nil
}

// igmpMaxPath is net.ipv4.igmp_max_memberships: the most IPv4 groups one
// socket may join (default 20), per network namespace.
const igmpMaxPath = "/proc/sys/net/ipv4/igmp_max_memberships"

// igmpWant is what JoinMulti raises net.ipv4.igmp_max_memberships to:
// one socket for the 4,094 VLANs of a trunk.
const igmpWant = 4096

// JoinMulti joins the VRRP group on in's interface on c, a socket from
// OpenMulti. transport/raw puts the memberships on helper sockets, each
// under the kernel's limit on the groups one socket joins
// (net.ipv4.igmp_max_memberships, 20 by default; net.core.optmem_max);
// for IPv4, when joined reaches that sysctl, JoinMulti raises it to 4096
// once if it may (root in the namespace) and says so in one log line, so
// that a few helper sockets hold 4,094 VLANs rather than 205. A join the
// kernel still refuses for the limit is errMultiFull.
func (s *linuxSystem) JoinMulti(c transport.Conn, joined int, in *Instance) (int, netip.Addr, error) {
	rc, ok := c.(*raw.Conn)
	if !ok {
		return 0, netip.Addr{}, fmt.Errorf("interface %q: not a shared raw socket (%T)", in.Interface, c)
	}
	idx, err := lookupIndex(in.Interface)
	if err != nil {
		return 0, netip.Addr{}, err
	}
	if rc.Family() == 4 {
		s.raiseIGMP(joined)
	}
	err = rc.Join(in.Interface)
	if memberLimit(err) {
		err = fmt.Errorf("%w: %d interfaces joined: %w", errMultiFull, joined, err)
	}
	if err != nil {
		return 0, netip.Addr{}, err
	}
	primary := in.Src
	if !primary.IsValid() {
		if primary, err = rc.Source(idx); err != nil {
			_ = rc.Leave(in.Interface)
			return 0, netip.Addr{}, fmt.Errorf("interface %q: no source address for %v advertisements (give -src or add an address): %w",
				in.Interface, in.Family(), err)
		}
	}
	return idx, primary.WithZone(""), nil
}

// raiseIGMP raises net.ipv4.igmp_max_memberships to igmpWant, once, when
// joined interfaces reach it.
func (s *linuxSystem) raiseIGMP(joined int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.igmpRaised {
		return
	}
	if s.igmpLimit == 0 {
		limit, err := readSysctlInt(s.igmpPath)
		if err != nil {
			s.igmpRaised = true // cannot tell: leave it
			return
		}
		s.igmpLimit = limit
	}
	if joined < s.igmpLimit {
		return
	}
	s.igmpRaised = true
	if s.igmpLimit >= igmpWant {
		return
	}
	if err := os.WriteFile(s.igmpPath, []byte(strconv.Itoa(igmpWant)), 0o644); err != nil {
		s.log.Warn("cannot raise net.ipv4.igmp_max_memberships: the VRRP group memberships take a socket per that many interfaces",
			"igmp_max_memberships", s.igmpLimit, "err", err)
		return
	}
	s.log.Info("raised net.ipv4.igmp_max_memberships so that a few sockets join the VRRP group on thousands of interfaces",
		"from", s.igmpLimit, "to", igmpWant)
}

// memberLimit reports whether a join failed for the socket's membership
// limit: ENOBUFS (IPv4: igmp_max_memberships or optmem_max) or ENOMEM
// (IPv6: optmem_max).
func memberLimit(err error) bool {
	return errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM)
}

func readSysctlInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// LeaveMulti leaves the VRRP group on in's interface on c.
func (s *linuxSystem) LeaveMulti(c transport.Conn, in *Instance) error {
	rc, ok := c.(*raw.Conn)
	if !ok {
		return fmt.Errorf("interface %q: not a shared raw socket (%T)", in.Interface, c)
	}
	return rc.Leave(in.Interface)
}

// RemoveStale removes what a previous run that did not exit cleanly
// (kill -9, a crash) left on the host for in, before in runs:
//
//   - the Accept_Mode table of its virtual router, whatever in's
//     Accept_Mode and priority: a master without -accept blocks again at
//     takeover anyway, and an instance with -accept, or the owner, would
//     otherwise keep the table dropping packets to its VIPs (the owner's:
//     the interface's own address) for good;
//   - with -vmac, its macvlan with the VIPs on it (arpnd), at any
//     priority: a non-owner starts as backup and no hook runs before it
//     is master, so the leftover would answer ARP / ND for the VIPs with
//     the virtual MAC beside the real master; an owner, master at once,
//     makes a new one (removing the leftover first is harmless);
//   - otherwise its VIPs on the interface, unless in is the owner
//     (priority 255: the VIPs are the interface's own addresses), and
//     only those vipaddr can prove a run added (vipaddr.Manager.RemoveStale:
//     marked, and not the interface's only address of the family).
//
// A VIP of a non-owner that is on the interface but not provably added
// by vrrpd (the host's own address, typically) is left alone, and the
// instance is refused: the error is a *ConfigError naming the vips key
// and the address (errors.Is(err, ErrUsage)); running it would take the
// host's own address down with the first Release.
//
// What this run holds (a table it installed, a macvlan or addresses it
// added) is not touched. For a filtered in, the Accept_Mode table is
// then made ready for its takeovers (vipaddr.Filter.Prepare).
func (s *linuxSystem) RemoveStale(in *Instance) error {
	var errs []error
	if _, err := s.filter.RemoveStale(in.Interface, in.VRID, in.Family() == vrrp.IPv6); err != nil {
		errs = append(errs, err)
	}
	if filtered(in) {
		// The filter's table ahead of the first takeover, whose Block
		// then only adds set elements (the first GARP comes sooner).
		if err := s.filter.Prepare(); err != nil {
			errs = append(errs, err)
		}
	}
	if in.VMAC {
		a, err := s.announcer(true)
		if err == nil {
			err = a.RemoveStale(vrrp.VRInfo{Name: in.Name, Interface: in.Interface, VRID: in.VRID, Addrs: in.Addrs()})
		}
		return errors.Join(append(errs, err)...)
	}
	if in.Priority == 255 {
		return errors.Join(errs...)
	}
	for _, p := range in.VIPs {
		_, err := s.vips.RemoveStale(in.Interface, p.Addr())
		if errors.Is(err, vipaddr.ErrNotAdded) {
			return notOursError(in, p, err)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// announcer returns the Announcer of a mode, creating it on first use.
func (s *linuxSystem) announcer(vmac bool) (*arpnd.Announcer, error) {
	mode := arpnd.ModeInterfaceMAC
	if vmac {
		mode = arpnd.ModeMacvlan
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.anns[mode]; a != nil {
		return a, nil
	}
	a, err := arpnd.New(arpnd.Config{Mode: mode, Logger: s.log})
	if err != nil {
		return nil, err
	}
	s.anns[mode] = a
	return a, nil
}

// Prober implements probeSystem: one arpnd.Prober (two packet sockets)
// for every instance and interface.
func (s *linuxSystem) Prober() (*arpnd.Prober, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prober != nil {
		return s.prober, nil
	}
	if s.anns == nil {
		return nil, errors.New("system closed")
	}
	p, err := arpnd.NewProber(arpnd.ProberConfig{Logger: s.log})
	if err != nil {
		return nil, err
	}
	s.prober = p
	return p, nil
}

// filtered reports whether in, as master, must not accept packets
// addressed to its VIPs: a non-owner without Accept_Mode (RFC 9568
// section 6.4.3), VRRPv2 included (RFC 3768 section 6.4.3 says it of
// every non-owner master). -accept with VRRPv2 accepts them, as
// keepalived's accept: an explicit departure from RFC 3768.
func filtered(in *Instance) bool { return !in.Accept && in.Priority != 255 }

func (s *linuxSystem) Take(in *Instance, vr vrrp.VRInfo) error {
	var errs []error
	if filtered(in) {
		// Before the addresses: no packet to them is ever accepted.
		errs = append(errs, s.filter.Block(in.Interface, in.VRID, in.Addrs()))
	}
	if !in.VMAC {
		// In macvlan mode arpnd puts the addresses on the macvlan.
		for _, p := range in.VIPs {
			errs = append(errs, s.vips.Add(in.Interface, p))
		}
	}
	a, err := s.announcer(in.VMAC)
	if err == nil {
		// The instance's garp_* schedule, from the takeover that follows.
		sched := in.GARP.arpnd()
		if err = a.SetSchedule(vr, &sched); err == nil {
			err = a.Take(vr)
		}
	}
	return errors.Join(append(errs, err)...)
}

func (s *linuxSystem) Release(in *Instance, vr vrrp.VRInfo) error {
	var errs []error
	if a, err := s.announcer(in.VMAC); err == nil {
		errs = append(errs, a.Release(vr))
	} else {
		errs = append(errs, err)
	}
	if !in.VMAC {
		for _, p := range in.VIPs {
			errs = append(errs, s.vips.Del(in.Interface, p))
		}
	}
	if filtered(in) {
		// After the addresses, for the same reason.
		errs = append(errs, s.filter.Unblock(in.Interface, in.VRID, in.Family() == vrrp.IPv6))
	}
	return errors.Join(errs...)
}

func (s *linuxSystem) Announce(in *Instance, vr vrrp.VRInfo) error {
	a, err := s.announcer(in.VMAC)
	if err != nil {
		return err
	}
	return a.Announce(vr)
}

func linkUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING != 0
}

func (s *linuxSystem) LinkUp(ifname string) (bool, error) {
	l, err := s.h.LinkByName(ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return false, nil
		}
		return false, err
	}
	return linkUp(l.Attrs()), nil
}

// linkWatchBuffer is the netlink socket's receive buffer for the
// interface watch: room for a burst of thousands of link changes. An
// overrun is survived anyway (watchLinks re-reads every link).
const linkWatchBuffer = 4 << 20

func (s *linuxSystem) WatchLinks(ctx context.Context, f func(string, bool)) error {
	return watchLinks(ctx, s.log, s.subscribeLinks(linkWatchBuffer), f)
}

// subscribeLinks returns a subscribeLinks over netlink in s's namespace
// with a receive buffer of rcvbuf bytes (forced past rmem_max when the
// process may).
func (s *linuxSystem) subscribeLinks(rcvbuf int) subscribeLinks {
	return func(out chan<- linkEvent, done <-chan struct{}, onErr func(error)) error {
		ch := make(chan netlink.LinkUpdate, 256)
		err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
			Namespace:              &s.ns,
			ListExisting:           true,
			ErrorCallback:          onErr,
			ReceiveBufferSize:      rcvbuf,
			ReceiveBufferForceSize: os.Geteuid() == 0,
		})
		if err != nil {
			return fmt.Errorf("netlink link subscription: %w", err)
		}
		go func() {
			defer close(out)
			for u := range ch {
				a := u.Attrs()
				select {
				case out <- linkEvent{a.Name, u.Header.Type != unix.RTM_DELLINK && linkUp(a)}:
				case <-done:
					for range ch {
					}
					return
				}
			}
		}()
		return nil
	}
}

func (s *linuxSystem) Close() error {
	s.mu.Lock()
	var errs []error
	for _, a := range s.anns {
		errs = append(errs, a.Close())
	}
	s.anns = nil
	if s.prober != nil {
		errs = append(errs, s.prober.Close())
		s.prober = nil
	}
	s.mu.Unlock()
	errs = append(errs, s.vips.Close(), s.filter.Close())
	s.h.Close()
	s.ns.Close()
	return errors.Join(errs...)
}
