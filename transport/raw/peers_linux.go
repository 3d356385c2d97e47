//go:build linux

package raw

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/govrrp/govrrp/transport"
)

var _ transport.PeerSetter = (*Conn)(nil)

// SetPeers replaces the unicast peers (Config.Peers) of a Conn opened
// with peers, while it runs: from its return, ReadFrom and ReadBatch
// admit packets only from peers (the others are dropped and counted in
// Stats.NotPeer), on the socket and on the receive ring alike, and
// WriteTo and WriteBatch with a zero transport.Meta.Dst send a copy to
// each of them. It is safe concurrently with the reader, writers, Join
// and Leave: the set is swapped under the lock they read it under, so
// each packet is filtered or sent by the old set or by the new one,
// never by a mix.
//
// The peers are checked as Config.Peers are: unicast addresses of the
// Conn's family (an IPv6 link-local peer is compared without its zone).
// A Conn does not switch between multicast and unicast: one opened
// without peers has joined the VRRP group and one opened with peers has
// not, so SetPeers refuses an empty list on a unicast Conn and any peer
// on a multicast one, and keeps its peers; open a new Conn for the other
// mode. Conn implements transport.PeerSetter.
func (c *Conn) SetPeers(peers []netip.Addr) error {
	unzoned := make([]netip.Addr, 0, len(peers))
	for i, p := range peers {
		switch {
		case !p.IsValid() || addrFamily(p) != c.family:
			return &Error{Iface: c.name, Op: "set peers", Err: fmt.Errorf("peers[%d] %v: must be an IPv%d address", i, p, c.family)}
		case p.IsMulticast() || p.IsUnspecified():
			return &Error{Iface: c.name, Op: "set peers", Err: fmt.Errorf("peers[%d] %v: must be a unicast address", i, p)}
		}
		unzoned = append(unzoned, p.Unmap().WithZone(""))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case len(c.peers) == 0 && len(unzoned) > 0:
		return &Error{Iface: c.name, Op: "set peers", Err: errors.New("a multicast Conn (opened without peers) cannot switch to unicast: open a new one")}
	case len(c.peers) > 0 && len(unzoned) == 0:
		return &Error{Iface: c.name, Op: "set peers", Err: errors.New("a unicast Conn needs at least one peer: open a new one for multicast")}
	}
	// New slices: a reader holding the old ones under the read lock is
	// done with them before Lock returned, and nothing keeps them after.
	c.peers = unzoned
	for _, st := range c.ifaces {
		st.peers = netAddrs(unzoned)
	}
	return nil
}

// Peers returns a copy of the unicast peers (Config.Peers, or the last
// SetPeers), unzoned; none means multicast.
func (c *Conn) Peers() []netip.Addr {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]netip.Addr(nil), c.peers...)
}

// netAddrs returns peers as the net.Addrs the send path uses.
func netAddrs(peers []netip.Addr) []net.Addr {
	var as []net.Addr
	for _, p := range peers {
		as = append(as, &net.IPAddr{IP: p.AsSlice()})
	}
	return as
}
