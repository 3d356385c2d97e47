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
	"github.com/govrrp/govrrp/internal/vipaddr"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linuxSystem runs the daemon on this host: raw VRRP sockets
// (raw.Listen), virtual addresses through netlink (vipaddr),
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
}

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
	return &linuxSystem{log: log, ns: ns, h: h, vips: vips, filter: filter, anns: map[arpnd.Mode]*arpnd.Announcer{}}, nil
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
	c, err := raw.Listen(in.Interface, &raw.Config{Family: fam, Peers: in.Peers, Src: in.Src, Ring: in.Ring, Logger: s.log})
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
		err = a.Take(vr)
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
	s.mu.Unlock()
	errs = append(errs, s.vips.Close(), s.filter.Close())
	s.h.Close()
	s.ns.Close()
	return errors.Join(errs...)
}
