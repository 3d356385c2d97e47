package arpnd

import (
	"errors"
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
// the connections. Called once per link, before the link is used, with or
// without the lock.
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
		return vr.mac, true
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

// startAnswering makes the responder answer for vr's addresses. Called with
// the lock held.
func (a *Announcer) startAnswering(vr *vrState) error {
	if !a.responding() {
		return nil
	}
	l := vr.link
	ans := a.answers[l]
	if ans == nil {
		ans = make(map[netip.Addr]map[*vrState]struct{})
		a.answers[l] = ans
	}
	var errs []error
	for _, ip := range vr.addrs {
		if ans[ip] == nil {
			ans[ip] = make(map[*vrState]struct{})
		}
		ans[ip][vr] = struct{}{}
		if vr.key.v6 {
			errs = append(errs, a.join(l, multicastMAC(solicitedNode(ip))))
		}
	}
	if vr.key.v6 {
		errs = append(errs, a.join(l, allNodesMAC))
	}
	if a.cfg.Mode == ModeVirtualMAC {
		errs = append(errs, a.addUnicast(l, vr))
	}
	return errors.Join(errs...)
}

// stopAnswering undoes startAnswering. Called with the lock held.
func (a *Announcer) stopAnswering(vr *vrState) {
	if !a.responding() {
		return
	}
	l := vr.link
	for _, ip := range vr.addrs {
		// Only vr's answer: another virtual router holding the same
		// address (another VRID on the link, say) goes on answering.
		if vrs := a.answers[l][ip]; vrs != nil {
			delete(vrs, vr)
			if len(vrs) == 0 {
				delete(a.answers[l], ip)
			}
		}
		if vr.key.v6 {
			a.leave(l, multicastMAC(solicitedNode(ip)))
		}
	}
	if vr.key.v6 {
		a.leave(l, allNodesMAC)
	}
	if a.cfg.Mode == ModeVirtualMAC {
		if ua, ok := a.connFor(vr).(unicastAdder); ok {
			k := string(vr.mac)
			if l.unicast[k]--; l.unicast[k] <= 0 {
				delete(l.unicast, k)
				_ = ua.DropUnicast(vr.mac)
			}
		}
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

func (a *Announcer) addUnicast(l *link, vr *vrState) error {
	ua, ok := a.connFor(vr).(unicastAdder)
	if !ok {
		return nil
	}
	if l.unicast == nil {
		l.unicast = make(map[string]int)
	}
	k := string(vr.mac)
	if l.unicast[k] == 0 {
		if err := ua.AddUnicast(vr.mac); err != nil {
			return err
		}
	}
	l.unicast[k]++
	return nil
}

func (a *Announcer) join(l *link, mac net.HardwareAddr) error {
	gj, ok := l.nd.(groupJoiner)
	if !ok {
		return nil
	}
	if l.groups == nil {
		l.groups = make(map[string]int)
	}
	k := string(mac)
	if l.groups[k] == 0 {
		if err := gj.JoinGroup(mac); err != nil {
			return err
		}
	}
	l.groups[k]++
	return nil
}

func (a *Announcer) leave(l *link, mac net.HardwareAddr) {
	gj, ok := l.nd.(groupJoiner)
	if !ok {
		return
	}
	k := string(mac)
	if l.groups[k]--; l.groups[k] <= 0 {
		delete(l.groups, k)
		_ = gj.LeaveGroup(mac)
	}
}
