package vrrp

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/govrrp/govrrp/transport"
)

// nopConn is a Conn the Router never reads here (it does not run); not
// of size zero, so that two are two.
type nopConn struct{ _ int }

func (nopConn) ReadFrom([]byte) (int, transport.Meta, error) {
	return 0, transport.Meta{}, transport.ErrClosed
}
func (nopConn) WriteTo([]byte, transport.Meta) error { return nil }
func (nopConn) Close() error                         { return nil }

// TestRxBatchesScale: a Conn shared by many virtual routers (one socket
// per family for thousands of links, issue 12) gets receive batches in
// proportion, up to rxBatchesMax, so that their advertisements can be in
// flight to the owner goroutine rather than wait in the socket while
// down timers fire; a Conn of one virtual router keeps rxBatchesPer.
func TestRxBatchesScale(t *testing.T) {
	r := NewRouter(RouterConfig{EventBuffer: -1})
	one, shared := &nopConn{}, &nopConn{}
	add := func(name string, c transport.Conn, idx int) {
		t.Helper()
		err := r.Add(VirtualRouter{Name: name, Conn: c, Interface: name, IfIndex: idx,
			Config: Config{VRID: 1, Priority: 100, Primary: netip.MustParseAddr("192.0.2.1"), Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	add("alone", one, 1)
	for i := 1; i <= 4094; i++ {
		add(fmt.Sprintf("vr%d", i), shared, i)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := r.conns[one].batches; got != rxBatchesPer {
		t.Errorf("a Conn of one virtual router: %d batches; want %d", got, rxBatchesPer)
	}
	if got, n := r.conns[shared].batches, len(r.conns[shared].free); got != rxBatchesMax || n != rxBatchesMax {
		t.Errorf("a Conn of 4,094 virtual routers: %d batches, %d free; want %d", got, n, rxBatchesMax)
	}
	r.mu.Unlock()
	for i := 1; i <= 4000; i++ {
		if err := r.Remove(fmt.Sprintf("vr%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	if got, want := r.conns[shared].batches, rxBatchesPer+94/rxVRsPerBatch; got != want {
		t.Errorf("94 virtual routers left on the Conn: %d batches; want %d", got, want)
	}
}
