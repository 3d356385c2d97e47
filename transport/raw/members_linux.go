//go:build linux

package raw

import (
	"errors"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// members holds the VRRP group memberships of a ListenMulti socket on
// sockets of their own: unbound UDP sockets that receive nothing and only
// join the group on each interface, so that the kernel delivers the
// group's packets there. The receiving socket joins nothing and takes
// every group joined on the host (IP_MULTICAST_ALL / IPV6_MULTICAST_ALL
// on), dropping by interface index those of interfaces not joined
// (Stats.OtherIface).
//
// Why: for every multicast packet the kernel delivers to a raw socket it
// looks the packet's (group, interface) up in that socket's list of
// memberships, one by one (ip_mc_sf_allow, inet6_mc_check). With one
// receiving socket holding the memberships of N interfaces, each of N
// advertisements a second scanned up to N entries: at 4,094 links, 16
// million steps a second in the kernel (issue 12). A socket with no
// membership answers at once. The helper sockets' lists are never
// scanned for VRRP: they are not raw sockets of protocol 112.
//
// One socket may join only so many groups (net.ipv4.igmp_max_memberships,
// 20 by default; net.core.optmem_max for both families): a join refused
// with ENOBUFS or ENOMEM goes on a new helper socket.
type members struct {
	family int
	mu     sync.Mutex
	socks  []*memberSock
	by     map[int]*memberSock // interface index -> its socket
}

type memberSock struct {
	fd     int
	joined int
	full   bool
}

func newMembers(family int) *members {
	return &members{family: family, by: make(map[int]*memberSock)}
}

// memberLimit reports whether a join was refused for the socket's
// membership limit.
func memberLimit(err error) bool {
	return errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM)
}

func (m *members) join(ifindex int, group net.IP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by[ifindex] != nil {
		return nil
	}
	for _, s := range m.socks {
		if s.full {
			continue
		}
		err := m.setsockopt(s.fd, true, ifindex, group)
		if memberLimit(err) {
			s.full = true
			continue
		}
		if err != nil {
			return err
		}
		s.joined++
		m.by[ifindex] = s
		return nil
	}
	domain := unix.AF_INET
	if m.family == 6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return err
	}
	if err := m.setsockopt(fd, true, ifindex, group); err != nil {
		unix.Close(fd)
		return err // even a new socket cannot join one group
	}
	s := &memberSock{fd: fd, joined: 1}
	m.socks = append(m.socks, s)
	m.by[ifindex] = s
	return nil
}

func (m *members) leave(ifindex int, group net.IP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.by[ifindex]
	if s == nil {
		return nil
	}
	delete(m.by, ifindex)
	err := m.setsockopt(s.fd, false, ifindex, group)
	s.joined--
	s.full = false
	if s.joined == 0 {
		unix.Close(s.fd)
		for i, x := range m.socks {
			if x == s {
				m.socks = append(m.socks[:i], m.socks[i+1:]...)
				break
			}
		}
	}
	return err
}

// sockets returns how many helper sockets hold the memberships.
func (m *members) sockets() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.socks)
}

func (m *members) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.socks {
		unix.Close(s.fd)
	}
	m.socks, m.by = nil, map[int]*memberSock{}
}

func (m *members) setsockopt(fd int, join bool, ifindex int, group net.IP) error {
	if m.family == 4 {
		mr := &unix.IPMreqn{Ifindex: int32(ifindex)}
		copy(mr.Multiaddr[:], group.To4())
		opt := unix.IP_ADD_MEMBERSHIP
		if !join {
			opt = unix.IP_DROP_MEMBERSHIP
		}
		return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, opt, mr)
	}
	mr := &unix.IPv6Mreq{Interface: uint32(ifindex)}
	copy(mr.Multiaddr[:], group.To16())
	opt := unix.IPV6_JOIN_GROUP
	if !join {
		opt = unix.IPV6_LEAVE_GROUP
	}
	return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, opt, mr)
}

// multicastAll turns IP_MULTICAST_ALL (IPV6_MULTICAST_ALL) back on, which
// newConn turned off: the socket then receives the group from every
// interface where a socket of the host joined it.
func (c *Conn) multicastAll() error {
	var err error
	if c.family == 4 {
		err = c.setsockopt(unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 1)
	} else {
		err = c.setsockopt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 1)
		if errors.Is(err, unix.ENOPROTOOPT) {
			err = nil // before Linux 4.20: on by default, and not settable
		}
	}
	return opError("", "socket option", err)
}
