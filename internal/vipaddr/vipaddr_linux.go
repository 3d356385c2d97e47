//go:build linux

package vipaddr

import (
	"errors"
	"fmt"
	"github.com/govrrp/govrrp/internal/ifaceio"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Manager adds and removes addresses on the interfaces of the network
// namespace it was created in. It is safe for concurrent use.
type Manager struct {
	log *slog.Logger

	mu sync.Mutex
	h  *netlink.Handle
	// rt is a route socket with strict checking, for address dumps
	// filtered by interface in the kernel and for the interface index
	// lookups (ioctl); seq numbers its requests; buf receives the dumps
	// (kept, and touched at New: a takeover's Add allocates little and
	// touches no fresh page).
	rt     int
	seq    uint32
	buf    []byte
	owned  []Entry // added by us and not removed since, in order
	closed bool
}

// New returns a Manager bound to the calling thread's network namespace
// (its netlink socket is opened there). A nil logger discards.
func New(log *slog.Logger) (*Manager, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, wrap("open netlink", Entry{}, err)
	}
	rt, err := ifaceio.OpenRouteSocket()
	if err != nil {
		h.Close()
		return nil, wrap("open netlink", Entry{}, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	buf := make([]byte, ifaceio.DumpBufferSize)
	for i := 0; i < len(buf); i += 1024 {
		buf[i] = 1 // fault the pages in now, not at a takeover
	}
	return &Manager{log: log, h: h, rt: rt, buf: buf}, nil
}

func wrap(op string, e Entry, err error) error {
	if err == nil {
		return nil
	}
	ve := &Error{Op: op, Entry: e, Err: err}
	if errors.Is(err, os.ErrPermission) {
		ve.Cap = "CAP_NET_ADMIN"
	}
	return ve
}

func ipnet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// family returns the address family of a.
func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// linkAddrs lists the addresses of one family on the interface: a dump
// the kernel filters by interface index (NETLINK_GET_STRICT_CHK), not the
// dump of every address of the namespace that netlink.AddrList filters
// here, which cost O(N) per call and O(N^2) for a takeover of N links
// (issue 12). It asks on m.rt, in the Manager's namespace; m.mu held.
func (m *Manager) linkAddrs(link netlink.Link, fam int) ([]ifaceio.Addr, error) {
	m.seq++
	return ifaceio.AddrsInto(m.rt, m.seq, link.Attrs().Index, fam, m.buf)
}

// lookup returns the interface for the address requests: its index,
// by one ioctl on m.rt (in the Manager's namespace), and its name. Not
// netlink.LinkByName, whose RTM_GETLINK reply (the whole link with its
// statistics, ~1.5 kB) it parses into a Link, and whose acknowledgement
// it leaves for the next request to skip. m.mu held.
func (m *Manager) lookup(ifname string) (netlink.Link, error) {
	if len(ifname) >= unix.IFNAMSIZ {
		// An alternative name (IFLA_ALT_IFNAME), which ioctls do not know.
		l, err := m.h.LinkByName(ifname)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			err = fmt.Errorf("%w: %w", err, unix.ENODEV)
		}
		return l, err
	}
	idx, err := ifaceio.IndexByNameOn(m.rt, ifname)
	if err != nil {
		return nil, err
	}
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: idx, Name: ifname}}, nil
}

// present reports whether the interface has address a (any prefix length).
func (m *Manager) present(link netlink.Link, a netip.Addr) (bool, error) {
	list, err := m.linkAddrs(link, family(a))
	if err != nil {
		return false, err
	}
	for _, x := range list {
		if x.Prefix.Addr() == a {
			return true, nil
		}
	}
	return false, nil
}

// Add assigns p to the interface unless the address is already there. It
// records the address as its own only when it added it; an address that
// was present before is left alone by Del and Close. IPv6 addresses are
// added without duplicate address detection (the backups do not hold
// them).
func (m *Manager) Add(ifname string, p netip.Prefix) error {
	p = netip.PrefixFrom(p.Addr().WithZone(""), p.Bits())
	e := Entry{Interface: ifname, Prefix: p}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return wrap("add", e, net.ErrClosed)
	}
	if slices.Contains(m.owned, e) {
		return nil
	}
	link, err := m.lookup(ifname)
	if err != nil {
		return wrap("lookup", Entry{Interface: ifname}, err)
	}
	if ok, err := m.present(link, p.Addr()); err != nil {
		return wrap("list", e, err)
	} else if ok {
		m.log.Debug("virtual address already present, not taking ownership", "address", p, "interface", ifname)
		return nil
	}
	ad := &netlink.Addr{IPNet: ipnet(p)}
	if p.Addr().Is6() {
		ad.Flags = unix.IFA_F_NODAD
	} else {
		ad.Label = Label(ifname) // "" when the name is too long: unmarked
	}
	if err := m.h.AddrAdd(link, ad); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil
		}
		return wrap("add", e, err)
	}
	m.owned = append(m.owned, e)
	m.log.Debug("virtual address added", "address", p, "interface", ifname)
	return nil
}

// Del removes p from the interface if this Manager added it; otherwise it
// does nothing. An address already gone is not an error.
func (m *Manager) Del(ifname string, p netip.Prefix) error {
	p = netip.PrefixFrom(p.Addr().WithZone(""), p.Bits())
	e := Entry{Interface: ifname, Prefix: p}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.Index(m.owned, e)
	if i < 0 || m.closed {
		return nil
	}
	if err := m.del(e); err != nil {
		return err
	}
	m.owned = slices.Delete(m.owned, i, i+1)
	return nil
}

func (m *Manager) del(e Entry) error {
	link, err := m.lookup(e.Interface)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil // the interface and its addresses are gone
		}
		return wrap("lookup", Entry{Interface: e.Interface}, err)
	}
	err = m.h.AddrDel(link, &netlink.Addr{IPNet: ipnet(e.Prefix)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return wrap("delete", e, err)
	}
	m.log.Debug("virtual address removed", "address", e.Prefix, "interface", e.Interface)
	return nil
}

// RemoveStale removes address a from the interface if a Manager added it
// (Marked) and this Manager did not: a virtual address a previous run
// left behind when it did not exit cleanly (kill -9, a crash), which a
// router that starts as backup must not hold (RFC 9568 section 6.4.2: a
// backup "MUST NOT accept packets addressed to the IPvX address(es)
// associated with the Virtual Router"), as keepalived removes them when
// it starts. It reports whether it removed one.
//
// An address it cannot prove a Manager added is never removed: one
// without the mark (the host's own address, configured by somebody else,
// or left by a version that did not mark its addresses), or the only
// address of its family on the interface. RemoveStale then returns an
// *Error matching ErrNotAdded, and the caller must not run a virtual
// router that would take that address over. The caller must not pass the
// address of an owner (priority 255), which is the interface's own. A
// missing interface is not an error.
func (m *Manager) RemoveStale(ifname string, a netip.Addr) (bool, error) {
	a = a.WithZone("")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, wrap("remove stale", Entry{Interface: ifname, Prefix: HostPrefix(a)}, net.ErrClosed)
	}
	if slices.ContainsFunc(m.owned, func(e Entry) bool { return e.Interface == ifname && e.Prefix.Addr() == a }) {
		return false, nil
	}
	link, err := m.lookup(ifname)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return false, nil
		}
		return false, wrap("lookup", Entry{Interface: ifname}, err)
	}
	list, err := m.linkAddrs(link, family(a))
	if err != nil {
		return false, wrap("list", Entry{Interface: ifname, Prefix: HostPrefix(a)}, err)
	}
	removed := false
	for _, x := range list {
		if x.Prefix.Addr() != a {
			continue
		}
		e := Entry{Interface: ifname, Prefix: x.Prefix}
		switch {
		case !marked(ifname, x):
			return removed, &Error{Op: "remove stale", Entry: e, Err: errNotMarked}
		case len(list) == 1:
			return removed, &Error{Op: "remove stale", Entry: e, Err: errOnlyAddress}
		}
		if err := m.h.AddrDel(link, &netlink.Addr{IPNet: ipnet(x.Prefix)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
			return removed, wrap("delete", e, err)
		}
		m.log.Warn("removed a virtual address left on the interface (a previous run did not exit cleanly?)", "address", e.Prefix, "interface", ifname)
		removed = true
	}
	return removed, nil
}

// marked reports whether x carries the mark Add puts on the addresses
// it adds: for IPv4 the label Label(ifname), for IPv6 the IFA_F_NODAD
// flag (IPv6 addresses have no label).
func marked(ifname string, x ifaceio.Addr) bool {
	if x.Prefix.Addr().Is4() {
		l := Label(ifname)
		return l != "" && x.Label == l
	}
	return x.Flags&unix.IFA_F_NODAD != 0
}

// Owned returns the addresses this Manager added and has not removed.
func (m *Manager) Owned() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.owned)
}

// Close removes every address this Manager added and releases its netlink
// socket. Later calls do nothing.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	var errs []error
	for _, e := range m.owned {
		errs = append(errs, m.del(e))
	}
	m.owned = nil
	m.closed = true
	m.h.Close()
	unix.Close(m.rt)
	return errors.Join(errs...)
}
