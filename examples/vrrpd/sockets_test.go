package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// stubConn is a shared transport of multiSys: it records its interfaces
// and whether it was closed; reading blocks until Close.
type stubConn struct {
	id     string
	fam    vrrp.Family
	mu     sync.Mutex
	ifaces []string
	closed bool
	done   chan struct{}
}

func (c *stubConn) ReadFrom([]byte) (int, transport.Meta, error) {
	<-c.done
	return 0, transport.Meta{}, transport.ErrClosed
}
func (c *stubConn) WriteTo([]byte, transport.Meta) error { return nil }
func (c *stubConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	return nil
}

// multiSys is fakeSys with shared transports that hold at most limit
// interfaces each (a socket's membership limit); the interface eth<N>
// has index N.
type multiSys struct {
	*fakeSys
	limit int
	mu    sync.Mutex
	conns []*stubConn
	log   []string // "open 4 s1", "join s1 eth1", "leave s1 eth1"
}

var _ multiSystem = (*multiSys)(nil)

func (s *multiSys) OpenMulti(fam vrrp.Family, in *Instance) (transport.Conn, error) {
	if in.Interface == "missing0" {
		return nil, errors.New(`interface "missing0": no such interface`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &stubConn{id: "s" + strconv.Itoa(len(s.conns)+1), fam: fam, done: make(chan struct{})}
	s.conns = append(s.conns, c)
	ring := ""
	if in.Ring {
		ring = "ring "
	}
	if in.ReceivePoll > 0 {
		ring = fmt.Sprintf("poll %v ", in.ReceivePoll)
	}
	s.log = append(s.log, fmt.Sprintf("open %d %s%s", fam, ring, c.id))
	return c, nil
}

func (s *multiSys) JoinMulti(tc transport.Conn, joined int, in *Instance) (int, netip.Addr, error) {
	c := tc.(*stubConn)
	c.mu.Lock()
	defer c.mu.Unlock()
	if joined != len(c.ifaces) {
		return 0, netip.Addr{}, fmt.Errorf("JoinMulti(%s): told %d interfaces joined, has %v", c.id, joined, c.ifaces)
	}
	if slices.Contains(c.ifaces, in.Interface) {
		return 0, netip.Addr{}, fmt.Errorf("JoinMulti(%s): %s joined twice", c.id, in.Interface)
	}
	if len(c.ifaces) >= s.limit {
		return 0, netip.Addr{}, fmt.Errorf("%w: %d groups", errMultiFull, len(c.ifaces))
	}
	idx, err := strconv.Atoi(strings.TrimPrefix(in.Interface, "eth"))
	if err != nil {
		return 0, netip.Addr{}, err
	}
	c.ifaces = append(c.ifaces, in.Interface)
	s.mu.Lock()
	s.log = append(s.log, "join "+c.id+" "+in.Interface)
	s.mu.Unlock()
	if c.fam == vrrp.IPv6 {
		return idx, netip.MustParseAddr(fmt.Sprintf("fe80::%d", idx)), nil
	}
	return idx, netip.AddrFrom4([4]byte{10, 0, byte(idx), 1}), nil
}

func (s *multiSys) LeaveMulti(tc transport.Conn, in *Instance) error {
	c := tc.(*stubConn)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("LeaveMulti(%s, %s): closed", c.id, in.Interface)
	}
	i := slices.Index(c.ifaces, in.Interface)
	if i < 0 {
		return fmt.Errorf("LeaveMulti(%s, %s): not joined", c.id, in.Interface)
	}
	c.ifaces = slices.Delete(c.ifaces, i, i+1)
	s.mu.Lock()
	s.log = append(s.log, "leave "+c.id+" "+in.Interface)
	s.mu.Unlock()
	return nil
}

// take returns the log since the last call.
func (s *multiSys) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log
	s.log = nil
	return l
}

func (s *multiSys) state() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]string{}
	for _, c := range s.conns {
		c.mu.Lock()
		v := strings.Join(c.ifaces, ",")
		if c.closed {
			v += " closed"
		}
		m[c.id] = v
		c.mu.Unlock()
	}
	return m
}

func instOn(name, iface string, vrid uint8, vip string) Instance {
	in := inst(name, vrid, 100, vip)
	in.Interface = iface
	return in
}

// TestSharedSockets: the multicast instances of a family share a few
// transports (one per membership limit's worth of interfaces), each
// interface joined once whatever the number of instances on it, left
// with its last instance, and a transport the Router closed with its
// last virtual router is forgotten (issue 12). Instances with unicast
// peers keep a transport of their own.
func TestSharedSockets(t *testing.T) {
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	sys := &multiSys{fakeSys: newFakeSys(lan, 1), limit: 3}
	d := newDaemon(Config{}, sys, slog.New(slog.DiscardHandler), nil, (&recorder{}).run)
	add := func(in Instance) {
		t.Helper()
		d.mu.Lock()
		defer d.mu.Unlock()
		if err := d.addLocked(in); err != nil {
			t.Fatalf("add %s: %v", in.Name, err)
		}
	}
	remove := func(name string) {
		t.Helper()
		d.mu.Lock()
		defer d.mu.Unlock()
		d.removeLocked(name)
	}
	check := func(what string, wantLog []string, wantState map[string]string) {
		t.Helper()
		if diff := cmp.Diff(wantLog, sys.take()); diff != "" {
			t.Errorf("%s: calls (-want +got):\n%s", what, diff)
		}
		if diff := cmp.Diff(wantState, sys.state()); diff != "" {
			t.Errorf("%s: sockets (-want +got):\n%s", what, diff)
		}
	}

	for i := 1; i <= 4; i++ {
		add(instOn(fmt.Sprintf("A%d", i), fmt.Sprintf("eth%d", i), 1, fmt.Sprintf("10.0.%d.100", i)))
	}
	add(instOn("B1", "eth1", 2, "10.0.1.101"))   // same interface: no second join
	add(instOn("V6", "eth1", 1, "fe80::100"))    // other family: its own socket
	peer := instOn("P", "eth9", 3, "10.0.9.100") // unicast: Open
	peer.Peers = []netip.Addr{netip.MustParseAddr("10.0.9.2")}
	add(peer)
	check("added", []string{
		"open 4 s1", "join s1 eth1", "join s1 eth2", "join s1 eth3",
		"open 4 s2", "join s2 eth4",
		"open 6 s3", "join s3 eth1",
	}, map[string]string{"s1": "eth1,eth2,eth3", "s2": "eth4", "s3": "eth1"})
	if sys.opens != 1 {
		t.Errorf("Open called %d times; want 1 (the unicast instance)", sys.opens)
	}
	d.mu.Lock()
	if d.vrs["A1"].conn.conn != d.vrs["A3"].conn.conn || d.vrs["A1"].conn != d.vrs["B1"].conn {
		t.Error("A1, A3 and B1 do not share their socket")
	}
	if got := d.vrs["A2"].conn.ifIndex; got != 2 {
		t.Errorf("A2's interface index %d; want 2", got)
	}
	d.mu.Unlock()

	remove("A1")
	check("A1 removed, B1 on eth1 still", nil, map[string]string{"s1": "eth1,eth2,eth3", "s2": "eth4", "s3": "eth1"})
	remove("B1")
	check("B1 removed", []string{"leave s1 eth1"}, map[string]string{"s1": "eth2,eth3", "s2": "eth4", "s3": "eth1"})
	add(instOn("A5", "eth5", 1, "10.0.5.100")) // the room eth1 left
	check("A5 added", []string{"join s1 eth5"}, map[string]string{"s1": "eth2,eth3,eth5", "s2": "eth4", "s3": "eth1"})

	remove("A4") // s2's last: the Router closes it, no leave
	check("A4 removed", nil, map[string]string{"s1": "eth2,eth3,eth5", "s2": "eth4 closed", "s3": "eth1"})
	add(instOn("A6", "eth6", 1, "10.0.6.100"))
	check("A6 added", []string{"open 4 s4", "join s4 eth6"},
		map[string]string{"s1": "eth2,eth3,eth5", "s2": "eth4 closed", "s3": "eth1", "s4": "eth6"})

	// A failed Add (a duplicate VRID on the interface) holds nothing: the
	// interface it joined is left, a socket opened for it closed.
	dup := instOn("D", "eth7", 1, "10.0.7.100")
	add(dup)
	sys.take()
	d.mu.Lock()
	dup.Name = "D2"
	err := d.addLocked(dup)
	d.mu.Unlock()
	if !errors.Is(err, vrrp.ErrDuplicate) {
		t.Fatalf("duplicate add: %v; want ErrDuplicate", err)
	}
	check("duplicate on a joined interface", nil,
		map[string]string{"s1": "eth2,eth3,eth5", "s2": "eth4 closed", "s3": "eth1", "s4": "eth6,eth7"})

	for _, n := range []string{"A2", "A3", "A5", "A6", "D", "V6", "P"} {
		remove(n)
	}
	check("all removed", []string{"leave s1 eth2", "leave s1 eth3", "leave s4 eth6"},
		map[string]string{"s1": "eth5 closed", "s2": "eth4 closed", "s3": "eth1 closed", "s4": "eth7 closed"})
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.conns) != 0 || len(d.multi) != 0 {
		t.Errorf("after removing everything: %d conns, %d shared sockets left", len(d.conns), len(d.multi))
	}
}

// TestSharedRingSockets: instances with ring share a transport of their
// own per family, opened with the ring (one ring for every interface;
// before, each opened its own, 1 MiB of ring per interface), and never
// one of the instances without it, which the ring would take past the
// host firewall (issue 15 item 6).
func TestSharedRingSockets(t *testing.T) {
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	sys := &multiSys{fakeSys: newFakeSys(lan, 1), limit: 8}
	d := newDaemon(Config{}, sys, slog.New(slog.DiscardHandler), nil, (&recorder{}).run)
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, name := range []string{"P1", "R1", "R2", "P2", "R3"} {
		in := instOn(name, fmt.Sprintf("eth%d", i+1), 1, fmt.Sprintf("10.0.%d.100", i+1))
		in.Ring = name[0] == 'R'
		if err := d.addLocked(in); err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
	}
	want := []string{
		"open 4 s1", "join s1 eth1",
		"open 4 ring s2", "join s2 eth2", "join s2 eth3",
		"join s1 eth4",
		"join s2 eth5",
	}
	if diff := cmp.Diff(want, sys.take()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if sys.opens != 0 {
		t.Errorf("Open called %d times; want 0 (every instance shares)", sys.opens)
	}
	if d.vrs["R1"].conn.conn != d.vrs["R3"].conn.conn || d.vrs["P1"].conn.conn == d.vrs["R1"].conn.conn {
		t.Error("R1 and R3 (ring) do not share, or share with P1 (no ring)")
	}
}

// TestSharedSocketErrors: a missing interface is reported as with Open;
// a socket that cannot join even one group is an error naming the limit,
// and is closed.
func TestSharedSocketErrors(t *testing.T) {
	sys := &multiSys{fakeSys: newFakeSys(nil, 1), limit: 0}
	d := newDaemon(Config{}, sys, slog.New(slog.DiscardHandler), nil, (&recorder{}).run)
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.addLocked(instOn("M", "missing0", 1, "10.0.0.100"))
	if err == nil || !strings.Contains(err.Error(), `interface "missing0": no such interface`) {
		t.Errorf("missing interface: %v", err)
	}
	err = d.addLocked(instOn("A1", "eth1", 1, "10.0.1.100"))
	if !errors.Is(err, errMultiFull) || !strings.Contains(err.Error(), `interface "eth1"`) {
		t.Errorf("limit 0: %v; want errMultiFull naming the interface", err)
	}
	if diff := cmp.Diff(map[string]string{"s1": " closed"}, sys.state()); diff != "" {
		t.Errorf("sockets (-want +got):\n%s", diff)
	}
	if len(d.conns) != 0 || len(d.multi) != 0 {
		t.Errorf("%d conns, %d shared sockets left", len(d.conns), len(d.multi))
	}
}
