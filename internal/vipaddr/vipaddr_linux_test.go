//go:build linux

package vipaddr

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/govrrp/govrrp/internal/netlab"
)

func addrs(t *testing.T, h *netlab.Host) string {
	t.Helper()
	out, err := h.Run(context.Background(), "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestManager(t *testing.T) {
	lab := netlab.New(t, "vip", 1)
	h := lab.Host(1)
	var m *Manager
	if err := h.Do(func() (err error) { m, err = New(nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	vip4 := netip.MustParsePrefix("10.99.0.100/24")
	vip6 := HostPrefix(netip.MustParseAddr("fd99::100"))
	own := netip.MustParsePrefix("10.99.0.1/24") // the host's own address
	for _, p := range []netip.Prefix{vip4, vip6, own, vip4} {
		if err := m.Add("eth0", p); err != nil {
			t.Fatalf("Add %v: %v", p, err)
		}
	}
	got := addrs(t, h)
	// Marked as added by a Manager: the IPv4 label, IPv6 nodad.
	for _, want := range []string{" 10.99.0.100/24 ", " fd99::100/128 ", "eth0:vip", "nodad"} {
		if !strings.Contains(got, want) {
			t.Errorf("after Add: no %q in\n%s", want, got)
		}
	}
	want := []Entry{{"eth0", vip4}, {"eth0", vip6}}
	if diff := cmp.Diff(want, m.Owned(), cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("Owned (-want +got):\n%s", diff)
	}

	// Not ours: Del leaves it.
	if err := m.Del("eth0", own); err != nil {
		t.Fatal(err)
	}
	if err := m.Del("eth0", vip6); err != nil {
		t.Fatal(err)
	}
	got = addrs(t, h)
	if !strings.Contains(got, " 10.99.0.1/24 ") || strings.Contains(got, "fd99::100") {
		t.Errorf("after Del:\n%s", got)
	}
	// Someone else removed it: not an error.
	if _, err := h.Run(context.Background(), "ip", "addr", "del", "10.99.0.100/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := m.Add("eth0", HostPrefix(netip.MustParseAddr("10.99.0.101"))); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	got = addrs(t, h)
	if strings.Contains(got, "10.99.0.101") || !strings.Contains(got, " 10.99.0.1/24 ") {
		t.Errorf("after Close:\n%s", got)
	}

	var lerr *Error
	err := h.Do(func() error {
		m2, err := New(nil)
		if err != nil {
			return err
		}
		defer m2.Close()
		return m2.Add("eth9", vip4)
	})
	if !errors.As(err, &lerr) || lerr.Op != "lookup" || !strings.Contains(err.Error(), "eth9") {
		t.Errorf("missing interface: %v", err)
	}
}

// Without CAP_NET_ADMIN the error names it. Runs the test binary again
// with the capability dropped.
func TestManagerNoCapability(t *testing.T) {
	if os.Getenv("VIPADDR_CHILD") == "1" {
		m, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		err = m.Add("lo", netip.MustParsePrefix("127.0.0.99/32"))
		if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "(needs CAP_NET_ADMIN)") {
			t.Fatalf("Add without CAP_NET_ADMIN: %v", err)
		}
		return
	}
	netlab.RequireTool(t, "setpriv")
	h := netlab.New(t, "vipc", 1).Host(1) // never touch the host's own lo
	c := h.Command(context.Background(), "setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin",
		os.Args[0], "-test.run", "^TestManagerNoCapability$")
	c.Env = append(os.Environ(), "VIPADDR_CHILD=1")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Errorf("child did not run: %s", out)
	}
}

// TestRemoveStale: an address a previous run left behind (kill -9),
// marked as a Manager marks what it adds, is removed whatever its prefix
// length; one this Manager added, and other addresses, are left alone.
func TestRemoveStale(t *testing.T) {
	lab := netlab.New(t, "vipst", 1)
	h := lab.Host(1)
	for _, args := range [][]string{
		{"ip", "addr", "add", "10.99.0.100/24", "dev", "eth0", "label", "eth0:vip"},
		{"ip", "addr", "add", "fd99::100/128", "dev", "eth0", "nodad"},
	} {
		if out, err := h.Run(context.Background(), args[0], args[1:]...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	var m *Manager
	if err := h.Do(func() (err error) { m, err = New(nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mine := netip.MustParsePrefix("10.99.0.200/24")
	if err := m.Add("eth0", mine); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		a    string
		want bool
	}{{"10.99.0.100", true}, {"fd99::100", true}, {"10.99.0.100", false}, {"10.99.0.200", false}, {"10.99.0.77", false}} {
		got, err := m.RemoveStale("eth0", netip.MustParseAddr(c.a))
		if err != nil || got != c.want {
			t.Errorf("RemoveStale(%s) = %v, %v; want %v", c.a, got, err, c.want)
		}
	}
	got := addrs(t, h)
	for _, gone := range []string{" 10.99.0.100/", " fd99::100/"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q still on eth0:\n%s", gone, got)
		}
	}
	for _, kept := range []string{" 10.99.0.1/24 ", " 10.99.0.200/24 "} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q removed from eth0:\n%s", kept, got)
		}
	}
	if removed, err := m.RemoveStale("nosuch0", netip.MustParseAddr("10.99.0.100")); removed || err != nil {
		t.Errorf("RemoveStale on a missing interface = %v, %v", removed, err)
	}
}

// TestRemoveStaleNotAdded (issue 15 item 4): an address RemoveStale
// cannot prove a Manager added is never removed: the host's own address,
// any address without the mark, and a marked one that is the only
// address of its family. The error matches ErrNotAdded.
func TestRemoveStaleNotAdded(t *testing.T) {
	lab := netlab.New(t, "vipna", 1)
	h := lab.Host(1)
	run := func(args ...string) {
		t.Helper()
		if out, err := h.Run(context.Background(), args[0], args[1:]...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "addr", "add", "10.99.0.100/24", "dev", "eth0")                    // no label
	run("ip", "addr", "add", "10.99.0.101/32", "dev", "eth0", "label", "eth0:x") // another label
	run("ip", "addr", "add", "fd99::100/128", "dev", "eth0")                     // with DAD
	var m *Manager
	if err := h.Do(func() (err error) { m, err = New(nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, a := range []string{"10.99.0.1", "10.99.0.100", "10.99.0.101", "fd99::100"} {
		removed, err := m.RemoveStale("eth0", netip.MustParseAddr(a))
		var e *Error
		if removed || !errors.Is(err, ErrNotAdded) || !errors.As(err, &e) || e.Entry.Prefix.Addr().String() != a {
			t.Errorf("RemoveStale(%s) = %v, %v; want it left, with an error matching ErrNotAdded naming it", a, removed, err)
		}
	}
	got := addrs(t, h)
	for _, kept := range []string{" 10.99.0.1/24 ", " 10.99.0.100/24 ", " 10.99.0.101/32 ", " fd99::100/128 "} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q removed from eth0:\n%s", kept, got)
		}
	}

	// A marked address that is the only IPv4 address of the interface.
	run("ip", "addr", "flush", "dev", "eth0", "scope", "global")
	run("ip", "addr", "add", "10.99.0.150/24", "dev", "eth0", "label", "eth0:vip")
	if removed, err := m.RemoveStale("eth0", netip.MustParseAddr("10.99.0.150")); removed || !errors.Is(err, ErrNotAdded) {
		t.Errorf("RemoveStale of the only address = %v, %v; want it left (ErrNotAdded)", removed, err)
	}
	if !strings.Contains(addrs(t, h), " 10.99.0.150/24 ") {
		t.Errorf("the only address was removed")
	}
}
