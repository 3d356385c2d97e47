package arpnd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
)

// Router Advertisement constants of RFC 4861 section 10 (router constants).
const (
	// maxInitialRtrAdvertisements is MAX_INITIAL_RTR_ADVERTISEMENTS: how
	// many advertisements after becoming an advertising interface use
	// the shorter initial interval.
	maxInitialRtrAdvertisements = 3
	// maxInitialRtrAdvertInterval is MAX_INITIAL_RTR_ADVERT_INTERVAL.
	maxInitialRtrAdvertInterval = 16 * time.Second
	// minDelayBetweenRAs is MIN_DELAY_BETWEEN_RAS: multicast RAs are never
	// closer than this.
	minDelayBetweenRAs = 3 * time.Second
	// maxRADelayTime is MAX_RA_DELAY_TIME: a solicited RA waits a random
	// time up to this.
	maxRADelayTime = 500 * time.Millisecond
)

// RFC 4861 section 6.2.1 defaults and bounds.
const (
	defaultMaxRtrAdvInterval = 600 * time.Second
	minMaxRtrAdvInterval     = 4 * time.Second
	maxMaxRtrAdvInterval     = 1800 * time.Second
	minMinRtrAdvInterval     = 3 * time.Second
	maxAdvDefaultLifetime    = 9000 * time.Second
	maxAdvReachableTime      = 3600 * time.Second
	defaultAdvCurHopLimit    = 64
	defaultValidLifetime     = 30 * 24 * time.Hour // 2592000 s
	defaultPreferredLifetime = 7 * 24 * time.Hour  // 604800 s
	minIPv6MTU               = 1280
	// maxRAPrefixes keeps an RA with every option within a 1500-byte
	// IPv6 packet: 40 (IPv6) + 16 (RA) + 8 (source link-layer address)
	// + 8 (MTU) + 32 per prefix.
	maxRAPrefixes = 44
)

var (
	// allRoutersMAC is the Ethernet address of ff02::2, where Router
	// Solicitations go (RFC 4861 section 6.3.7, RFC 2464 section 7).
	allRoutersMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 2}
)

// ErrNoLinkLocal: a Router Advertisement needs a link-local source (RFC
// 4861 section 6.1.2: hosts drop others) and there is none.
var ErrNoLinkLocal = errors.New("arpnd: no link-local source address for Router Advertisements")

// RAConfig configures the ND Router Advertisements an Announcer sends for
// IPv6 virtual routers while they are master (RFC 9568 section 6.4.3: the
// Active Router "MUST send ND Router Advertisements for the Virtual
// Router"; section 6.4.2: a Backup "MUST NOT"). Field names follow the
// router configuration variables of RFC 4861 section 6.2.1, and so do the
// defaults of the zero value: a default router for 1800 s, advertised
// every 200 to 600 s, with no prefixes, no MTU option and the M and O
// flags clear.
//
// RFC 9568 section 8.2.3: "The Backup Routers MUST be configured to send
// the same Router Advertisement options as the address owner." Give every
// router of the virtual router the same RAConfig.
type RAConfig struct {
	// MaxInterval is MaxRtrAdvInterval, the longest time between two
	// unsolicited advertisements. If zero, 600s. Allowed: 4s to 1800s.
	MaxInterval time.Duration
	// MinInterval is MinRtrAdvInterval, the shortest. If zero, 0.33 *
	// MaxInterval when MaxInterval is 9s or more, 0.75 * MaxInterval
	// otherwise (RFC 4861 says MaxInterval there, which breaks its own
	// 0.75 bound; radvd uses 0.75). Allowed: 3s to 0.75 * MaxInterval.
	// Each interval is drawn uniformly between the two (RFC 4861 section
	// 6.2.4).
	MinInterval time.Duration
	// InitialInterval caps the interval after each of the first three
	// advertisements of a takeover (MAX_INITIAL_RTR_ADVERTISEMENTS = 3,
	// RFC 4861 section 6.2.4), so hosts that missed the first learn the
	// router sooner. If zero, 16s (MAX_INITIAL_RTR_ADVERT_INTERVAL).
	// A shorter cap gives a faster burst after a failover; it may not be
	// under 3s (MIN_DELAY_BETWEEN_RAS, section 6.2.6).
	InitialInterval time.Duration
	// DefaultLifetime is AdvDefaultLifetime, the Router Lifetime field:
	// how long hosts keep the virtual router as a default router. If
	// zero, 3 * MaxInterval. Negative: 0 on the wire, not a default
	// router (prefixes and parameters only). Otherwise between
	// MaxInterval and 9000s; sent in whole seconds.
	DefaultLifetime time.Duration
	// CurHopLimit is AdvCurHopLimit, the hop limit hosts should use. If
	// zero, 64. Negative: 0 on the wire (unspecified). At most 255.
	CurHopLimit int
	// Managed and Other are AdvManagedFlag (M, addresses from DHCPv6)
	// and AdvOtherConfigFlag (O, other configuration from DHCPv6).
	// Default false.
	Managed, Other bool
	// Preference is the Default Router Preference (RFC 4191 section
	// 2.2). The zero value is medium.
	Preference ndp.Preference
	// ReachableTime and RetransTimer are AdvReachableTime (at most 1h)
	// and AdvRetransTimer, sent in milliseconds. Zero: unspecified.
	ReachableTime, RetransTimer time.Duration
	// MTU is AdvLinkMTU. If zero, no MTU option is sent (the RFC 4861
	// default); otherwise at least 1280.
	MTU uint32
	// Prefixes are sent as Prefix Information options, at most 44.
	Prefixes []RAPrefix
}

// RAPrefix is one Prefix Information option (RFC 4861 section 4.6.2). The
// zero value of every field but Prefix is the RFC 4861 section 6.2.1
// default: on-link, autonomous, valid 30 days, preferred 7 days.
type RAPrefix struct {
	// Prefix is the advertised IPv6 prefix; bits past its length are
	// cleared. Not link-local (hosts ignore those) nor multicast.
	Prefix netip.Prefix
	// OffLink clears the on-link flag (L); AdvOnLinkFlag is TRUE by
	// default.
	OffLink bool
	// NoAutonomous clears the autonomous address-configuration flag
	// (A); AdvAutonomousFlag is TRUE by default.
	NoAutonomous bool
	// ValidLifetime is AdvValidLifetime. If zero, 30 days; negative: 0;
	// ndp.Infinity for infinity. Sent in whole seconds.
	ValidLifetime time.Duration
	// PreferredLifetime is AdvPreferredLifetime. If zero, 7 days (or
	// ValidLifetime if that is shorter); negative: 0; ndp.Infinity for
	// infinity. Not more than ValidLifetime.
	PreferredLifetime time.Duration
}

// raParams is an RAConfig with its defaults resolved and checked.
type raParams struct {
	min, max, initial time.Duration
	// msg is the advertisement without the source link-layer address
	// option, which the sender adds.
	msg ndp.RouterAdvertisement
}

func raConfigErr(field string, format string, args ...any) error {
	return fmt.Errorf("%w: RouterAdvertisements.%s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}

// params validates c and resolves its defaults.
func (c *RAConfig) params() (*raParams, error) {
	p := &raParams{max: c.MaxInterval, min: c.MinInterval, initial: c.InitialInterval}
	if p.max == 0 {
		p.max = defaultMaxRtrAdvInterval
	}
	if p.max < minMaxRtrAdvInterval || p.max > maxMaxRtrAdvInterval {
		return nil, raConfigErr("MaxInterval", "%v: want 4s to 1800s (RFC 4861 section 6.2.1)", c.MaxInterval)
	}
	if p.min == 0 {
		if p.max >= 9*time.Second {
			p.min = p.max * 33 / 100
		} else {
			p.min = p.max * 3 / 4
		}
	}
	if p.min < minMinRtrAdvInterval || p.min > p.max*3/4 {
		return nil, raConfigErr("MinInterval", "%v: want 3s to 0.75 * MaxInterval = %v (RFC 4861 section 6.2.1)", c.MinInterval, p.max*3/4)
	}
	if p.initial == 0 {
		p.initial = maxInitialRtrAdvertInterval
	}
	if p.initial < minDelayBetweenRAs {
		return nil, raConfigErr("InitialInterval", "%v: want 3s or more (MIN_DELAY_BETWEEN_RAS, RFC 4861 section 6.2.6)", c.InitialInterval)
	}
	life := c.DefaultLifetime
	switch {
	case life == 0:
		life = 3 * p.max
	case life < 0:
		life = 0
	case life < p.max || life > maxAdvDefaultLifetime:
		return nil, raConfigErr("DefaultLifetime", "%v: want 0 (negative), or MaxInterval (%v) to 9000s (RFC 4861 section 6.2.1)", c.DefaultLifetime, p.max)
	}
	hop := c.CurHopLimit
	switch {
	case hop == 0:
		hop = defaultAdvCurHopLimit
	case hop < 0:
		hop = 0
	case hop > 255:
		return nil, raConfigErr("CurHopLimit", "%d: want at most 255", c.CurHopLimit)
	}
	switch c.Preference {
	case ndp.Low, ndp.Medium, ndp.High:
	default:
		return nil, raConfigErr("Preference", "%d: want ndp.Low, ndp.Medium or ndp.High (RFC 4191 section 2.2)", c.Preference)
	}
	if c.ReachableTime < 0 || c.ReachableTime > maxAdvReachableTime {
		return nil, raConfigErr("ReachableTime", "%v: want 0 to 1h (RFC 4861 section 6.2.1)", c.ReachableTime)
	}
	if c.RetransTimer < 0 || c.RetransTimer/time.Millisecond > 0xffffffff {
		return nil, raConfigErr("RetransTimer", "%v: want 0 to 2^32-1 ms", c.RetransTimer)
	}
	if c.MTU != 0 && c.MTU < minIPv6MTU {
		return nil, raConfigErr("MTU", "%d: want 0 (no option) or at least 1280", c.MTU)
	}
	if len(c.Prefixes) > maxRAPrefixes {
		return nil, raConfigErr("Prefixes", "%d prefixes: want at most %d (one 1500-byte packet)", len(c.Prefixes), maxRAPrefixes)
	}
	p.msg = ndp.RouterAdvertisement{
		CurrentHopLimit:           uint8(hop),
		ManagedConfiguration:      c.Managed,
		OtherConfiguration:        c.Other,
		RouterSelectionPreference: c.Preference,
		RouterLifetime:            life.Truncate(time.Second),
		ReachableTime:             c.ReachableTime,
		RetransmitTimer:           c.RetransTimer,
	}
	if c.MTU != 0 {
		p.msg.Options = append(p.msg.Options, ndp.NewMTU(c.MTU))
	}
	for i, pr := range c.Prefixes {
		pi, err := pr.option()
		if err != nil {
			return nil, raConfigErr(fmt.Sprintf("Prefixes[%d]", i), "%v", err)
		}
		p.msg.Options = append(p.msg.Options, pi)
	}
	return p, nil
}

func (pr *RAPrefix) option() (*ndp.PrefixInformation, error) {
	p := pr.Prefix
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return nil, fmt.Errorf("%v: want an IPv6 prefix", p)
	}
	p = p.Masked()
	if p.Addr().IsMulticast() || netip.MustParsePrefix("fe80::/10").Overlaps(p) {
		return nil, fmt.Errorf("%v: a link-local or multicast prefix (RFC 4861 section 6.3.4: hosts ignore it)", p)
	}
	lifetime := func(name string, d, def time.Duration) (time.Duration, error) {
		switch {
		case d == 0:
			return def, nil
		case d < 0:
			return 0, nil
		case d > ndp.Infinity:
			return 0, fmt.Errorf("%s %v: want at most ndp.Infinity (2^32-1 s)", name, d)
		}
		return d.Truncate(time.Second), nil
	}
	valid, err := lifetime("ValidLifetime", pr.ValidLifetime, defaultValidLifetime)
	if err != nil {
		return nil, err
	}
	pref, err := lifetime("PreferredLifetime", pr.PreferredLifetime, min(defaultPreferredLifetime, valid))
	if err != nil {
		return nil, err
	}
	if pref > valid {
		return nil, fmt.Errorf("PreferredLifetime %v > ValidLifetime %v (RFC 4862 section 5.5.3 c: hosts ignore the option)", pref, valid)
	}
	return &ndp.PrefixInformation{
		PrefixLength:                   uint8(p.Bits()),
		OnLink:                         !pr.OffLink,
		AutonomousAddressConfiguration: !pr.NoAutonomous,
		ValidLifetime:                  valid,
		PreferredLifetime:              pref,
		Prefix:                         p.Addr(),
	}, nil
}

// MarshalRouterAdvertisement returns the Ethernet frame of a Router
// Advertisement built from cfg (defaults resolved as RAConfig documents):
// from src to 33-33-00-00-00-01, IPv6 from srcIP to ff02::1 with hop limit
// 255, ICMPv6 type 134 with a Source Link-Layer Address option carrying
// src, then the MTU option if any, then one Prefix Information option per
// prefix. The ICMPv6 checksum covers the IPv6 pseudo-header.
//
// srcIP must be link-local (RFC 4861 section 6.1.2); an Announcer uses
// the virtual router's link-local virtual address (RFC 9568 section 5.2.9
// puts it first in the address list), so hosts keep the same default
// router across a failover.
func MarshalRouterAdvertisement(src net.HardwareAddr, srcIP netip.Addr, cfg RAConfig) ([]byte, error) {
	p, err := cfg.params()
	if err != nil {
		return nil, err
	}
	return p.marshal(src, srcIP)
}

func (p *raParams) marshal(src net.HardwareAddr, srcIP netip.Addr) ([]byte, error) {
	if !srcIP.Is6() || !srcIP.IsLinkLocalUnicast() {
		return nil, fmt.Errorf("%w: %v is not an IPv6 link-local address", ErrNoLinkLocal, srcIP)
	}
	if err := checkMAC(src); err != nil {
		return nil, err
	}
	ra := p.msg
	ra.Options = make([]ndp.Option, 0, 1+len(p.msg.Options))
	ra.Options = append(ra.Options, &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: src})
	ra.Options = append(ra.Options, p.msg.Options...)
	return marshalND(allNodesMAC, src, srcIP, allNodes, &ra)
}

// raSource returns the source address of vr's advertisements: the first
// link-local virtual address, else the link's own link-local address.
func raSource(vr *vrState) (netip.Addr, error) {
	for _, ip := range vr.addrs {
		if ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip.WithZone(""), nil
		}
	}
	if ll := vr.link.ifi.LinkLocal; ll.Is6() && ll.IsLinkLocalUnicast() {
		return ll.WithZone(""), nil
	}
	return netip.Addr{}, fmt.Errorf("%w: VRID %d has no link-local virtual address and interface %q none of its own", ErrNoLinkLocal, vr.key.vrid, vr.link.ifi.Name)
}

// parseRS validates the Router Solicitation in frame (RFC 4861 section
// 6.1.1: hop limit 255, a correct checksum, code 0, at least 8 bytes, no
// option of length zero, and no source link-layer address option from
// the unspecified address). It returns errNotForUs for other frames and
// errMalformed for invalid solicitations. Options are walked here rather
// than parsed with ndp, so that an option ndp does not know or parses
// strictly never hides a valid solicitation.
func parseRS(frame []byte) error {
	_, src, _, icmp, err := icmpv6In(frame, icmpTypeRS, 8)
	if err != nil {
		return err
	}
	var sll bool
	for o := icmp[8:]; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || int(o[1])*8 > len(o) {
			return fmt.Errorf("%w: router solicitation option", errMalformed)
		}
		if o[0] == 1 {
			sll = true
		}
		o = o[int(o[1])*8:]
	}
	if sll && src.IsUnspecified() {
		return fmt.Errorf("%w: source link-layer address option with the unspecified source address", errMalformed)
	}
	return nil
}

// The Router Advertisement schedule. An IPv6 virtual router with
// Config.RouterAdvertisements gets a raState between Take and Release.
//
// RFC 4861 section 6.2.4: every multicast advertisement resets the timer
// to a random interval in [MinInterval, MaxInterval], capped at
// InitialInterval after each of the first three. Section 6.2.6: a
// solicitation is answered by a multicast advertisement after a random
// delay of up to MAX_RA_DELAY_TIME, or at MIN_DELAY_BETWEEN_RAS after the
// last multicast advertisement plus that delay if the last one is more
// recent; if the next advertisement is scheduled earlier anyway, it
// answers.
type raState struct {
	frame []byte
	// sent counts multicast advertisements since Take.
	sent int
	// last is when the last one was sent, next when the pending one is
	// due.
	last, next time.Time
}

// randUniform returns a uniformly random duration in [lo, hi].
func randUniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rand.Int64N(int64(hi-lo)+1))
}

// startRA starts advertising for vr, which was just taken: the first
// advertisement goes out now, after the addresses are configured (RFC
// 9568 section 8.2.2). Called with the lock held.
func (a *Announcer) startRA(vr *vrState) error {
	if a.ra == nil || !vr.key.v6 {
		return nil
	}
	frame, err := a.raFrame(vr)
	if err != nil {
		return err
	}
	vr.ra = &raState{frame: frame}
	l := vr.link
	set := a.raVRs[l]
	if set == nil {
		set = make(map[*vrState]struct{})
		a.raVRs[l] = set
	}
	set[vr] = struct{}{}
	err = a.join(l, allRoutersMAC)
	a.sendRA(vr)
	return err
}

func (a *Announcer) raFrame(vr *vrState) ([]byte, error) {
	src, err := raSource(vr)
	if err != nil {
		return nil, err
	}
	b, err := a.ra.marshal(vr.hwAddr(), src)
	if err != nil {
		return nil, fmt.Errorf("arpnd: VRID %d: router advertisement: %w", vr.key.vrid, err)
	}
	return b, nil
}

// updateRA rebuilds vr's advertisement after its addresses changed. Called
// with the lock held.
func (a *Announcer) updateRA(vr *vrState) error {
	if vr.ra == nil {
		return a.startRA(vr)
	}
	frame, err := a.raFrame(vr)
	if err != nil {
		a.stopRA(vr)
		return err
	}
	vr.ra.frame = frame
	return nil
}

// stopRA stops advertising for vr. No final advertisement with a zero
// Router Lifetime is sent: see the package documentation. Called with the
// lock held.
func (a *Announcer) stopRA(vr *vrState) {
	if vr.ra == nil {
		return
	}
	a.cancel(vr, taskRA)
	vr.ra = nil
	l := vr.link
	delete(a.raVRs[l], vr)
	if len(a.raVRs[l]) == 0 {
		delete(a.raVRs, l)
	}
	a.leave(l, allRoutersMAC)
}

// sendRA sends vr's advertisement to ff02::1 and schedules the next one.
// Called with the lock held.
func (a *Announcer) sendRA(vr *vrState) {
	r := vr.ra
	if r == nil {
		return
	}
	switch c := vr.link.nd; {
	case c == nil:
		a.sendErrs.Add(1)
		a.logLimited("arpnd: no IPv6 connection for router advertisements", "interface", vr.link.ifi.Name, "vrid", vr.key.vrid)
	default:
		if _, err := c.WriteTo(r.frame, allNodesAddr); err != nil {
			a.sendErrs.Add(1)
			a.logLimited("arpnd: router advertisement send failed", "interface", vr.link.ifi.Name, "vrid", vr.key.vrid, "err", err)
		} else {
			a.ras.Add(1)
		}
	}
	now := a.clk.Now()
	r.last = now
	r.sent++
	iv := a.rand(a.ra.min, a.ra.max)
	if r.sent < maxInitialRtrAdvertisements {
		iv = min(iv, a.ra.initial)
	}
	a.scheduleRA(vr, now, iv)
}

func (a *Announcer) scheduleRA(vr *vrState, now time.Time, d time.Duration) {
	a.cancel(vr, taskRA)
	vr.ra.next = now.Add(d)
	a.after(vr, taskRA, d, func() { a.sendRA(vr) })
}

// solicited answers a valid Router Solicitation for vr (RFC 4861 section
// 6.2.6). Called with the lock held.
func (a *Announcer) solicited(vr *vrState) {
	r := vr.ra
	if r == nil {
		return
	}
	now := a.clk.Now()
	d := a.rand(0, maxRADelayTime)
	at := now.Add(d)
	if !r.last.IsZero() && now.Sub(r.last) < minDelayBetweenRAs {
		at = r.last.Add(minDelayBetweenRAs + d)
	}
	if !at.Before(r.next) {
		return // the advertisement already scheduled answers
	}
	a.scheduleRA(vr, now, at.Sub(now))
}

// handleRS handles a frame that may be a Router Solicitation received on
// l. Called with the lock held.
func (a *Announcer) handleRS(l *link, frame []byte) {
	set := a.raVRs[l]
	if len(set) == 0 {
		return
	}
	err := parseRS(frame)
	switch {
	case errors.Is(err, errNotForUs):
		return
	case err != nil:
		a.malformed.Add(1)
		a.logLimited("arpnd: dropped a router solicitation", "interface", l.ifi.Name, "err", err)
		return
	}
	a.rss.Add(1)
	for vr := range set {
		a.solicited(vr)
	}
}

// isICMPv6Type reports whether frame looks like an Ethernet IPv6 frame
// carrying ICMPv6 of type typ with no extension header (what the socket
// filters let through).
func isICMPv6Type(frame []byte, typ byte) bool {
	return len(frame) > ethHeaderLen+ipv6HeaderLen &&
		binary.BigEndian.Uint16(frame[12:14]) == etherTypeIPv6 &&
		frame[ethHeaderLen+6] == protoICMPv6 &&
		frame[ethHeaderLen+ipv6HeaderLen] == typ
}
