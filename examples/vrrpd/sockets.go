package main

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// multiSystem is implemented by a system that serves the multicast
// instances of a family on every interface with a few shared transports
// instead of one per interface (linuxSystem: raw.ListenMulti, and a group
// join per interface; DESIGN.md "Scale to plan for", issue 12). The
// Router demultiplexes a shared transport by interface index and VRID.
type multiSystem interface {
	// OpenMulti returns a new transport of the family serving no
	// interface yet, for in's interface to join first, receiving through
	// a TPACKET_V3 ring if in.Ring: its errors are those of Open for in
	// (a missing interface, a missing capability).
	OpenMulti(fam vrrp.Family, in *Instance) (transport.Conn, error)
	// JoinMulti adds in's interface to c, a transport from OpenMulti
	// holding joined interfaces already (joins the VRRP group there), and
	// returns the interface index and
	// this router's primary address on it. An error matching errMultiFull
	// says c holds as many interfaces as the kernel lets one socket join:
	// the daemon then puts the interface on another transport.
	JoinMulti(c transport.Conn, joined int, in *Instance) (ifIndex int, primary netip.Addr, err error)
	// LeaveMulti removes in's interface from c (leaves the group there).
	LeaveMulti(c transport.Conn, in *Instance) error
}

// errMultiFull: a shared transport cannot take one more interface: the
// kernel refused the group membership for its per-socket limits
// (net.ipv4.igmp_max_memberships, net.core.optmem_max) although
// transport/raw puts the memberships on helper sockets under them.
var errMultiFull = errors.New("the shared VRRP socket is full")

// multiConn is one shared transport of a family and what uses it.
type multiConn struct {
	fam vrrp.Family
	// ring: it receives through a TPACKET_V3 ring (Instance.Ring); only
	// instances that asked for the ring go on it, and only they.
	ring bool
	// poll: it is polled every poll (Instance.ReceivePoll); only
	// instances that agree on it share it.
	poll time.Duration
	conn transport.Conn
	// ifaces is how many interfaces are joined on it; refs how many
	// virtual routers use it (the Router closes it when the last one is
	// removed).
	ifaces, refs int
	// full: a join failed with errMultiFull; no more interfaces go on it.
	full bool
}

// shareable reports whether in can go on a shared transport: a multicast
// instance (no unicast peers) with the interface's own source address.
// Instances with ring share one of their own per family (a TPACKET_V3
// ring on every interface, raw.ListenMulti with raw.Config.Ring): one
// ring per interface would be 1 MiB each.
func shareable(in *Instance) bool {
	return len(in.Peers) == 0 && !in.Src.IsValid()
}

// joinMultiLocked puts in's interface on a shared transport of its family
// with room (opening one if none has), and returns the sharedConn for
// key. Called with d.mu held, when no sharedConn of key exists.
func (d *daemon) joinMultiLocked(ms multiSystem, key connKey, in *Instance) (*sharedConn, error) {
	fam := in.Family()
	for _, mc := range d.multi {
		if mc.fam != fam || mc.ring != in.Ring || mc.poll != in.ReceivePoll || mc.full {
			continue
		}
		idx, primary, err := ms.JoinMulti(mc.conn, mc.ifaces, in)
		if errors.Is(err, errMultiFull) {
			mc.full = true
			d.log.Info("shared VRRP socket full, using another", "family", fam, "interfaces", mc.ifaces, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		mc.ifaces++
		return &sharedConn{key: key, conn: mc.conn, ifIndex: idx, primary: primary, multi: mc}, nil
	}
	c, err := ms.OpenMulti(fam, in)
	if err != nil {
		return nil, err
	}
	mc := &multiConn{fam: fam, ring: in.Ring, poll: in.ReceivePoll, conn: c}
	idx, primary, err := ms.JoinMulti(c, 0, in)
	if err != nil {
		c.Close()
		if errors.Is(err, errMultiFull) {
			// Even a new socket cannot join one group: the limit is 0.
			return nil, fmt.Errorf("interface %q: %w", in.Interface, err)
		}
		return nil, err
	}
	mc.ifaces = 1
	d.multi = append(d.multi, mc)
	return &sharedConn{key: key, conn: c, ifIndex: idx, primary: primary, multi: mc}, nil
}

// releaseConnLocked drops a reference on sc: the virtual router that
// held it was removed from the Router (added is true), or its Add failed
// (false: the Router never held it). With the last reference on the
// interface it leaves the group there; the Router closed the transport
// with its last virtual router, the daemon closes it itself when the
// Router never took it. Called with d.mu held.
func (d *daemon) releaseConnLocked(sc *sharedConn, added bool) {
	if added {
		sc.refs--
		if sc.multi != nil {
			sc.multi.refs--
		}
	}
	if sc.refs > 0 {
		return
	}
	// Filed under its key unless a change of peers in place re-keyed it
	// away (rekeyLocked): another transport may have that key now.
	if d.conns[sc.key] == sc {
		delete(d.conns, sc.key)
	}
	mc := sc.multi
	if mc == nil {
		if !added {
			sc.conn.Close()
		}
		return
	}
	mc.ifaces--
	if mc.refs > 0 {
		// Others still use the socket: leave this interface's group.
		if ms, ok := d.sys.(multiSystem); ok {
			in := Instance{Interface: sc.key.iface}
			if err := ms.LeaveMulti(mc.conn, &in); err != nil {
				d.log.Warn("leaving the VRRP group", "interface", sc.key.iface, "err", err)
			}
		}
		mc.full = false
		return
	}
	if !added {
		mc.conn.Close() // no virtual router ever used it
	}
	// Otherwise the Router closed it with its last virtual router.
	d.multi = slices.DeleteFunc(d.multi, func(m *multiConn) bool { return m == mc })
}
