package arpnd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"
)

// groupJoiner is implemented by connections that can add link-layer
// multicast groups to the interface filter (*packet.Conn). The responder
// joins the solicited-node group of each virtual IPv6 address so that a
// Neighbor Solicitation for it reaches the host.
type groupJoiner interface {
	JoinGroup(net.HardwareAddr) error
	LeaveGroup(net.HardwareAddr) error
}

// unicastAdder is implemented by connections that can add a unicast MAC to
// the interface filter (PACKET_MR_UNICAST on Linux), so that frames sent to
// the virtual MAC (a unicast ARP refresh, say) reach the responder on a
// NIC that filters by destination.
type unicastAdder interface {
	AddUnicast(net.HardwareAddr) error
	DropUnicast(net.HardwareAddr) error
}

// responding reports whether the Announcer answers ARP / ND itself.
func (a *Announcer) responding() bool {
	return a.cfg.Responder && a.cfg.Mode != ModeMacvlan
}

// startReaders starts the goroutines reading l's connections: the ARP
// one for the responder, the IPv6 one for the responder and for Router
// Solicitations. They belong to the Announcer and end when Close closes
// the connections. Called once per connection (a link's connection of a
// family opens when its first virtual router of that family comes), with
// or without the lock.
func (a *Announcer) startReaders(l *link, arp, nd bool) {
	for _, c := range []struct {
		c  PacketConn
		on bool
	}{{l.arp, arp}, {l.nd, nd}} {
		if c.c == nil || !c.on {
			continue
		}
		a.wg.Add(1)
		go a.readLoop(l, c.c)
	}
}

// netDownPause spaces the reads of a connection that keeps failing with
// ENETDOWN.
const netDownPause = 50 * time.Millisecond

func (a *Announcer) readLoop(l *link, c PacketConn) {
	defer a.wg.Done()
	buf := make([]byte, 1600)
	netDown := false
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil && isNetDown(err) {
			// The interface went down (a ModeMacvlan macvlan does at
			// every Release): the socket reports it once and receives
			// again once the interface is up. Pause if it repeats.
			if netDown {
				time.Sleep(netDownPause)
			}
			netDown = true
			continue
		}
		netDown = false
		if err != nil {
			a.mu.Lock()
			closed := a.closed
			if !closed && !errors.Is(err, net.ErrClosed) {
				a.logLimited("arpnd: responder read failed; responder stopped", "interface", l.ifi.Name, "err", err)
			}
			a.mu.Unlock()
			return
		}
		a.handle(l, c, buf[:n])
	}
}

// handle answers one received frame if it is an ARP request or a Neighbor
// Solicitation for an address of a virtual router that is master on l, or
// a Router Solicitation while an IPv6 virtual router on l advertises.
func (a *Announcer) handle(l *link, c PacketConn, frame []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	if isICMPv6Type(frame, icmpTypeRS) {
		a.handleRS(l, frame)
		return
	}
	ans := a.answers[l]
	if len(ans) == 0 {
		return
	}
	answer := func(ip netip.Addr) (net.HardwareAddr, bool) {
		vr := answerer(ans[ip])
		if vr == nil {
			return nil, false
		}
		return vr.hwAddr(), true
	}
	var (
		reply []byte
		err   error
		ctr   = &a.arpReplies
	)
	if len(frame) >= ethHeaderLen && frame[12] == 0x86 && frame[13] == 0xdd {
		reply, _, err = naReply(frame, answer)
		ctr = &a.naReplies
	} else {
		reply, _, err = arpReply(frame, answer)
	}
	switch {
	case errors.Is(err, errNotForUs):
		return
	case errors.Is(err, errMalformed):
		a.malformed.Add(1)
		a.logLimited("arpnd: responder dropped a frame", "interface", l.ifi.Name, "err", err)
		return
	case err != nil:
		a.sendErrs.Add(1)
		a.logLimited("arpnd: responder cannot build a reply", "interface", l.ifi.Name, "err", err)
		return
	}
	dst := &packet.Addr{HardwareAddr: net.HardwareAddr(reply[0:6])}
	if _, err := c.WriteTo(reply, dst); err != nil {
		a.sendErrs.Add(1)
		a.logLimited("arpnd: responder send failed", "interface", l.ifi.Name, "err", err)
		return
	}
	ctr.Add(1)
}

// answering is what startAnswering acquired for a virtual router, so that
// stopAnswering gives back exactly that: the addresses it answers for, one
// reference per group MAC it joined (solicited-node MACs repeat when two
// addresses share their last 24 bits; all-nodes last), and whether it holds
// a reference on the interface's unicast filter entry for its MAC.
type answering struct {
	addrs   []netip.Addr
	groups  []net.HardwareAddr
	unicast bool
}

// startAnswering makes the responder answer for vr's addresses. It is all
// or nothing: on error it gives back what it acquired (group memberships,
// the unicast filter entry) and vr answers for none of its addresses.
// Called with the lock held.
func (a *Announcer) startAnswering(vr *vrState) error {
	if !a.responding() {
		return nil
	}
	if vr.answering != nil {
		a.stopAnswering(vr) // never twice: the references would leak
	}
	l := vr.link
	h := &answering{}
	vr.answering = h
	fail := func(err error) error {
		a.stopAnswering(vr)
		return fmt.Errorf("arpnd: interface %q, VRID %d: responder: %w", l.ifi.Name, vr.key.vrid, err)
	}
	if vr.key.v6 {
		groups := make([]net.HardwareAddr, 0, len(vr.addrs)+1)
		for _, ip := range vr.addrs {
			groups = append(groups, multicastMAC(solicitedNode(ip)))
		}
		for _, mac := range append(groups, allNodesMAC) {
			ok, err := a.joinGroup(l, mac)
			if err != nil {
				return fail(fmt.Errorf("join %v: %w", mac, err))
			}
			if ok {
				h.groups = append(h.groups, mac)
			}
		}
	}
	if a.cfg.Mode == ModeVirtualMAC {
		ok, err := a.addUnicast(l, vr)
		if err != nil {
			return fail(fmt.Errorf("add %v to the unicast filter: %w", vr.hwAddr(), err))
		}
		h.unicast = ok
	}
	// Answer only once everything above is in place.
	ans := a.answers[l]
	if ans == nil {
		ans = make(map[netip.Addr]map[*vrState]struct{})
		a.answers[l] = ans
	}
	for _, ip := range vr.addrs {
		if ans[ip] == nil {
			ans[ip] = make(map[*vrState]struct{})
		}
		ans[ip][vr] = struct{}{}
	}
	h.addrs = append([]netip.Addr(nil), vr.addrs...)
	return nil
}

// stopAnswering undoes startAnswering: it gives back exactly what that
// acquired (nothing if vr is not answering), whatever vr's addresses are
// now. Called with the lock held.
func (a *Announcer) stopAnswering(vr *vrState) {
	h := vr.answering
	if h == nil {
		return
	}
	vr.answering = nil
	l := vr.link
	for _, ip := range h.addrs {
		// Only vr's answer: another virtual router holding the same
		// address (another VRID on the link, say) goes on answering.
		if vrs := a.answers[l][ip]; vrs != nil {
			delete(vrs, vr)
			if len(vrs) == 0 {
				delete(a.answers[l], ip)
			}
		}
	}
	if len(a.answers[l]) == 0 {
		delete(a.answers, l)
	}
	for _, mac := range h.groups {
		a.leaveGroup(l, mac)
	}
	if h.unicast {
		a.dropUnicast(l, vr)
	}
}

// answerer returns the virtual router whose MAC answers for an address
// that several virtual routers on one link are master for: the lowest
// VRID (then interface name and index), so that the answer does not
// depend on map order. Nil if vrs is empty.
func answerer(vrs map[*vrState]struct{}) *vrState {
	var best *vrState
	for vr := range vrs {
		if best == nil || vrLess(vr.key, best.key) {
			best = vr
		}
	}
	return best
}

func vrLess(a, b vrKey) bool {
	if a.vrid != b.vrid {
		return a.vrid < b.vrid
	}
	if a.ifname != b.ifname {
		return a.ifname < b.ifname
	}
	return a.ifidx < b.ifidx
}

func (a *Announcer) connFor(vr *vrState) PacketConn {
	if vr.key.v6 {
		return vr.link.nd
	}
	return vr.link.arp
}

// addUnicast takes a reference on the interface's unicast filter entry
// for vr's MAC, adding the entry with the first. It reports whether it took
// one: false with a nil error when the connection has no unicast filter.
// On error it takes none.
func (a *Announcer) addUnicast(l *link, vr *vrState) (bool, error) {
	ua, ok := a.connFor(vr).(unicastAdder)
	if !ok {
		return false, nil
	}
	r := l.refs()
	k := string(vr.mac[:])
	if r.unicast[k] == 0 {
		if err := ua.AddUnicast(vr.hwAddr()); err != nil {
			return false, err
		}
	}
	if r.unicast == nil {
		r.unicast = make(map[string]int)
	}
	r.unicast[k]++
	return true, nil
}

// dropUnicast gives back a reference taken by addUnicast, removing the
// entry with the last.
func (a *Announcer) dropUnicast(l *link, vr *vrState) {
	r := l.refs()
	k := string(vr.mac[:])
	if r.unicast[k] <= 0 {
		return // not held: never remove another holder's entry
	}
	if r.unicast[k]--; r.unicast[k] == 0 {
		delete(r.unicast, k)
		if ua, ok := a.connFor(vr).(unicastAdder); ok {
			_ = ua.DropUnicast(vr.hwAddr())
		}
	}
}

// joinGroup takes a reference on the link-layer multicast group mac of
// l's IPv6 connection, joining it with the first. It reports whether it
// took one: false with a nil error when the connection cannot join groups.
// On error it takes none.
func (a *Announcer) joinGroup(l *link, mac net.HardwareAddr) (bool, error) {
	gj, ok := l.nd.(groupJoiner)
	if !ok {
		return false, nil
	}
	r := l.refs()
	k := string(mac)
	if r.groups[k] == 0 {
		if err := gj.JoinGroup(mac); err != nil {
			return false, err
		}
	}
	if r.groups == nil {
		r.groups = make(map[string]int)
	}
	r.groups[k]++
	return true, nil
}

// leaveGroup gives back a reference taken by joinGroup, leaving the group
// with the last.
func (a *Announcer) leaveGroup(l *link, mac net.HardwareAddr) {
	r := l.refs()
	k := string(mac)
	if r.groups[k] <= 0 {
		return // not held: never leave a group another holder needs
	}
	if r.groups[k]--; r.groups[k] == 0 {
		delete(r.groups, k)
		if gj, ok := l.nd.(groupJoiner); ok {
			_ = gj.LeaveGroup(mac)
		}
	}
}

// join and leave are joinGroup and leaveGroup for a caller that pairs each
// join with one leave without remembering whether the join succeeded (the
// Router Advertisement code): a failed join is remembered on the link, and
// the leave paired with it gives nothing back, so that it cannot remove a
// membership another holder took in between.
func (a *Announcer) join(l *link, mac net.HardwareAddr) error {
	r := l.refs()
	if _, err := a.joinGroup(l, mac); err != nil {
		if r.failedJoins == nil {
			r.failedJoins = make(map[string]int)
		}
		r.failedJoins[string(mac)]++
		return err
	}
	return nil
}

func (a *Announcer) leave(l *link, mac net.HardwareAddr) {
	r := l.refs()
	k := string(mac)
	if r.failedJoins[k] > 0 {
		if r.failedJoins[k]--; r.failedJoins[k] == 0 {
			delete(r.failedJoins, k)
		}
		return
	}
	a.leaveGroup(l, mac)
}
