package arpnd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Mode says which MAC address the virtual addresses are announced (and
// answered) with, and how the host receives traffic for them.
type Mode uint8

const (
	// ModeInterfaceMAC announces the virtual addresses with the
	// interface's own MAC address, as keepalived does without use_vmac.
	// The host receives traffic for them with no further set-up once
	// they are assigned to the interface. The zero value.
	ModeInterfaceMAC Mode = iota
	// ModeVirtualMAC announces (and, with Config.Responder, answers ARP /
	// ND for) the virtual addresses with the virtual MAC
	// 00-00-5E-00-0{1,2}-{VRID} (RFC 9568 section 7.3) on the interface
	// itself, without a macvlan. Linux's IP stack drops unicast frames
	// addressed to a MAC that is not the interface's own
	// (PACKET_OTHERHOST). With Config.Responder, New therefore installs,
	// while a virtual router is master, an nftables rule on the interface
	// (table netdev govrrp_arpnd_{4,6}_{ifindex}_{vrid}, ingress chain:
	// `ether daddr VMAC meta pkttype set host`; CAP_NET_ADMIN), removed
	// at Release and Close, so that the host takes the frames sent to the
	// virtual MAC (NewConn installs nothing). The virtual addresses must
	// still be local addresses of the host for its IP stack to accept
	// them: see Responder. Without Responder, this mode suits hosts where
	// something else takes those frames (a bridge, a tc or XDP program,
	// an interface whose MAC was set to the virtual MAC); otherwise use
	// ModeMacvlan.
	ModeVirtualMAC
	// ModeMacvlan creates, per virtual router, a macvlan interface on
	// Config.Interface that carries the virtual MAC, sets it up and
	// assigns the virtual addresses to it while master (keepalived's
	// use_vmac), and keeps it down while backup, so that only the master
	// sends frames from the virtual MAC. The kernel answers ARP / ND for
	// the addresses with the virtual MAC and receives traffic sent to it.
	// Linux only; needs CAP_NET_ADMIN. See MacvlanName for the name and
	// the package documentation for the sysctls it sets.
	ModeMacvlan
)

func (m Mode) String() string {
	switch m {
	case ModeInterfaceMAC:
		return "interface-mac"
	case ModeVirtualMAC:
		return "virtual-mac"
	case ModeMacvlan:
		return "macvlan"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// MacvlanMode is the macvlan mode of ModeMacvlan interfaces.
type MacvlanMode uint8

const (
	// MacvlanPrivate: the macvlan does not talk to other macvlans on the
	// same parent (keepalived's default for use_vmac). The zero value.
	MacvlanPrivate MacvlanMode = iota
	// MacvlanBridge: macvlans on the same parent reach each other
	// directly (keepalived's vmac_xmit_base off / "bridge").
	MacvlanBridge
)

// ErrConfig matches every configuration error returned by New and NewConn.
var ErrConfig = errors.New("arpnd: invalid config")

// ErrUnsupported is returned by New on systems other than Linux, and for
// ModeMacvlan from NewConn. It matches errors.ErrUnsupported.
var ErrUnsupported = fmt.Errorf("arpnd: %w", errors.ErrUnsupported)

// Config configures an Announcer. The zero value announces with the
// interface MAC on every interface the virtual routers run on, with
// keepalived's default schedule, and does not answer ARP / ND itself.
//
// The schedule knobs are keepalived's (keepalived.conf(5), vrrp_garp_* and
// garp_* keywords) and have its defaults. A "round" sends one frame per
// virtual address of the virtual router: a gratuitous ARP for IPv4, an
// unsolicited Neighbor Advertisement for IPv6. Negative values turn a
// feature off where zero means a default.
type Config struct {
	// Interface, if set, restricts the Announcer to virtual routers on this
	// interface: hooks for others do nothing. New opens its packet sockets
	// at once in ModeInterfaceMAC and ModeVirtualMAC, so a missing
	// interface or CAP_NET_RAW is reported there; in ModeMacvlan New only
	// checks that the interface exists, and the first hook call for each
	// virtual router creates its macvlan (CAP_NET_ADMIN) and reports what
	// fails. In ModeVirtualMAC with Responder, New also checks that it can
	// use nftables (CAP_NET_ADMIN), which every Take needs, with Interface
	// set or not. If empty, every interface named in a vrrp.VRInfo is
	// opened by the first hook call for a virtual router on it. See the
	// package documentation (Privileges).
	Interface string
	// Mode selects the announced MAC. Zero value: ModeInterfaceMAC.
	Mode Mode
	// MacvlanMode is the mode of ModeMacvlan interfaces. Zero value:
	// private.
	MacvlanMode MacvlanMode
	// Responder answers ARP requests and Neighbor Solicitations for the
	// virtual addresses of a virtual router while it is master (between
	// Take and Release), with the announced MAC; never while backup. For
	// ModeInterfaceMAC and ModeVirtualMAC; in ModeMacvlan the kernel
	// answers and this is ignored. The kernel also answers for addresses
	// assigned to the interface, with the interface MAC: in responder mode
	// do not assign the virtual addresses to the interface (or, for IPv4,
	// set net.ipv4.conf.IF.arp_ignore=8 there, which silences the kernel
	// for every address of the interface). To receive traffic for them,
	// the host needs them as local addresses elsewhere while master, for
	// example on lo, with net.ipv4.conf.IF.arp_ignore=1 (the kernel then
	// answers ARP on IF only for IF's own addresses; it never answers NS
	// on IF for another interface's IPv6 addresses) and
	// net.ipv4.conf.IF.arp_announce=2 (its own ARP requests then carry
	// IF's address, not a virtual address with the interface MAC, which
	// would repoint the neighbours' caches); in ModeVirtualMAC the
	// Announcer makes the kernel accept frames sent to the virtual MAC
	// (see ModeVirtualMAC).
	Responder bool
	// RouterAdvertisements, if set, makes the Announcer send ND Router
	// Advertisements for IPv6 virtual routers while they are master and
	// answer Router Solicitations for them (RFC 9568 section 6.4.3), from
	// the virtual router's link-local address with the announced MAC.
	// Nil (the default) sends none: a program that holds server addresses
	// with VRRP must not make hosts install a default route through it.
	// See RAConfig and the package documentation.
	RouterAdvertisements *RAConfig

	// MasterRepeat is the number of rounds sent on becoming master
	// (keepalived garp_master_repeat). If zero, 5. Negative: none.
	MasterRepeat int
	// MasterDelay is the delay of the second burst of MasterRepeat rounds
	// after becoming master (keepalived garp_master_delay). If zero, 5s.
	// Negative: no second burst.
	MasterDelay time.Duration
	// MasterRefresh is the period of refresh bursts while master
	// (keepalived garp_master_refresh), the first one MasterRefresh after
	// becoming master. If zero or negative, no refresh (the default).
	MasterRefresh time.Duration
	// MasterRefreshRepeat is the number of rounds per refresh (keepalived
	// garp_master_refresh_repeat). If zero, 1.
	MasterRefreshRepeat int
	// LowerPrioRepeat is the number of rounds a master sends when it hears
	// a lower-priority advertisement (keepalived garp_lower_prio_repeat).
	// If zero, MasterRepeat (keepalived's default). Negative: none.
	LowerPrioRepeat int
	// LowerPrioDelay is the delay of the second burst of LowerPrioRepeat
	// rounds after that (keepalived garp_lower_prio_delay). If zero,
	// MasterDelay. Negative: no second burst.
	LowerPrioDelay time.Duration
	// GARPInterval is the spacing between two gratuitous ARPs of one
	// virtual router (keepalived garp_interval). If zero or negative, they
	// are sent back to back (the default).
	GARPInterval time.Duration
	// GNAInterval is the spacing between two unsolicited Neighbor
	// Advertisements (keepalived gna_interval). If zero or negative, back to
	// back (the default).
	GNAInterval time.Duration

	// Logger receives send errors and responder drops (debug). If nil,
	// nothing is logged.
	Logger *slog.Logger
}

// Schedule is the announcement schedule of one virtual router: the
// schedule fields of Config, with the same meanings and defaults (zero is
// keepalived's default, negative turns a burst off). Announcer.SetSchedule
// gives a virtual router its own, where keepalived.conf sets garp_* per
// vrrp_instance.
type Schedule struct {
	MasterRepeat        int
	MasterDelay         time.Duration
	MasterRefresh       time.Duration
	MasterRefreshRepeat int
	LowerPrioRepeat     int
	LowerPrioDelay      time.Duration
	GARPInterval        time.Duration
	GNAInterval         time.Duration
}

// maxRepeat bounds the rounds of a burst.
const maxRepeat = 1000

// Validate reports a repeat count out of range (more than 1000 rounds, a
// negative MasterRefreshRepeat); the error matches ErrConfig.
func (s Schedule) Validate() error {
	if s.MasterRefreshRepeat < 0 {
		return fmt.Errorf("%w: MasterRefreshRepeat=%d: want >= 0", ErrConfig, s.MasterRefreshRepeat)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"MasterRepeat", s.MasterRepeat}, {"MasterRefreshRepeat", s.MasterRefreshRepeat}, {"LowerPrioRepeat", s.LowerPrioRepeat}} {
		if f.v > maxRepeat {
			return fmt.Errorf("%w: %s=%d: want at most %d", ErrConfig, f.name, f.v, maxRepeat)
		}
	}
	return nil
}

// Schedule returns the schedule fields of c.
func (c *Config) Schedule() Schedule {
	return Schedule{
		MasterRepeat:        c.MasterRepeat,
		MasterDelay:         c.MasterDelay,
		MasterRefresh:       c.MasterRefresh,
		MasterRefreshRepeat: c.MasterRefreshRepeat,
		LowerPrioRepeat:     c.LowerPrioRepeat,
		LowerPrioDelay:      c.LowerPrioDelay,
		GARPInterval:        c.GARPInterval,
		GNAInterval:         c.GNAInterval,
	}
}

// schedule is a Schedule with the defaults resolved.
type schedule struct {
	masterRepeat, refreshRepeat, lowerRepeat int
	masterDelay, refresh, lowerDelay         time.Duration
	garpInterval, gnaInterval                time.Duration
}

func (c *Config) validate() error {
	if c.Mode > ModeMacvlan {
		return fmt.Errorf("%w: Mode=%d: want ModeInterfaceMAC, ModeVirtualMAC or ModeMacvlan", ErrConfig, c.Mode)
	}
	if c.MacvlanMode > MacvlanBridge {
		return fmt.Errorf("%w: MacvlanMode=%d: want MacvlanPrivate or MacvlanBridge", ErrConfig, c.MacvlanMode)
	}
	if c.RouterAdvertisements != nil {
		if _, err := c.RouterAdvertisements.params(); err != nil {
			return err
		}
	}
	return c.Schedule().Validate()
}

func (c *Config) schedule() schedule { return c.Schedule().resolve() }

func (c Schedule) resolve() schedule {
	s := schedule{
		masterRepeat:  c.MasterRepeat,
		masterDelay:   c.MasterDelay,
		refresh:       c.MasterRefresh,
		refreshRepeat: c.MasterRefreshRepeat,
		lowerRepeat:   c.LowerPrioRepeat,
		lowerDelay:    c.LowerPrioDelay,
		garpInterval:  max(c.GARPInterval, 0),
		gnaInterval:   max(c.GNAInterval, 0),
	}
	if s.masterRepeat == 0 {
		s.masterRepeat = 5
	}
	if s.masterDelay == 0 {
		s.masterDelay = 5 * time.Second
	}
	if s.refreshRepeat == 0 {
		s.refreshRepeat = 1
	}
	if s.lowerRepeat == 0 {
		s.lowerRepeat = s.masterRepeat
	}
	if s.lowerDelay == 0 {
		s.lowerDelay = s.masterDelay
	}
	s.masterRepeat = max(s.masterRepeat, 0)
	s.lowerRepeat = max(s.lowerRepeat, 0)
	s.refresh = max(s.refresh, 0)
	return s
}

// PacketConn is the narrow packet connection an Announcer sends and
// receives whole Ethernet frames on: on Linux an AF_PACKET SOCK_RAW socket
// (github.com/mdlayher/packet), in tests a fake that captures frames.
// WriteTo is given a *packet.Addr holding the destination MAC. ReadFrom is
// only called with Config.Responder (and, on the IPv6 connection, with
// Config.RouterAdvertisements), from one goroutine per connection; Close
// must make a blocked ReadFrom return.
type PacketConn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	Close() error
}
