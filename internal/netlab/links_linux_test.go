//go:build linux

package netlab

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

var linksN = flag.Int("netlab.links", 64, "links TestLinks builds (up to 4094)")

// TestLinks builds a Links lab and checks every link: its name and
// addresses on both hosts, and that host 1 reaches host 2 over it. With
// -netlab.links 4094 it measures the build time of the full lab (logged).
func TestLinks(t *testing.T) {
	l := NewLinks(t, "lk", *linksN)
	ctx := context.Background()
	for _, h := range l.Hosts() {
		out, err := h.Run(ctx, "ip", "-4", "-o", "addr", "show")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[2] == "inet" {
				got[f[1]] = f[3]
			}
		}
		for i := 1; i <= l.N; i++ {
			want := fmt.Sprintf("%s/24", LinkAddr(i, h.N))
			if got[LinkName(i)] != want {
				t.Errorf("%s: %s has %q, want %s", h.Name, LinkName(i), got[LinkName(i)], want)
			}
		}
		if len(got) != l.N+1 { // and lo
			t.Errorf("%s: %d interfaces with IPv4 addresses, want %d links and lo", h.Name, len(got), l.N)
		}
		out, err = h.Run(ctx, "ip", "-o", "link", "show", "up")
		if err != nil {
			t.Fatal(err)
		}
		if up := strings.Count(string(out), "state UP"); up != l.N {
			t.Errorf("%s: %d links state UP, want %d", h.Name, up, l.N)
		}
		if h.IfIndex == 0 || h.Iface != "l1" || h.Addr4 != LinkAddr(1, h.N) {
			t.Errorf("%s: Iface %q IfIndex %d Addr4 %v, want l1, its index and %v", h.Name, h.Iface, h.IfIndex, h.Addr4, LinkAddr(1, h.N))
		}
	}
	// Reachability over the first, a middle and the last link: a UDP
	// datagram from host 1's address to host 2's on each.
	for _, i := range []int{1, (l.N + 1) / 2, l.N} {
		if err := udpOver(l, i); err != nil {
			t.Errorf("link %d: %v", i, err)
		}
	}
}

// udpOver sends a datagram from host 1 to host 2 over link i and waits
// for it.
func udpOver(l *Links, i int) error {
	var rx *net.UDPConn
	if err := l.Host(2).Do(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: LinkAddr(i, 2).AsSlice(), Port: 9999})
		rx = c
		return err
	}); err != nil {
		return err
	}
	defer rx.Close()
	var tx *net.UDPConn
	if err := l.Host(1).Do(func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: LinkAddr(i, 1).AsSlice()}, &net.UDPAddr{IP: LinkAddr(i, 2).AsSlice(), Port: 9999})
		tx = c
		return err
	}); err != nil {
		return err
	}
	defer tx.Close()
	if _, err := tx.Write([]byte("hello")); err != nil {
		return err
	}
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, from, err := rx.ReadFromUDP(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "hello" || !from.IP.Equal(LinkAddr(i, 1).AsSlice()) {
		return fmt.Errorf("got %q from %v, want \"hello\" from %v", buf[:n], from, LinkAddr(i, 1))
	}
	return nil
}
