//go:build linux

package arpnd

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// TestProberLAN (privileged, lab "arpp"): h1's Prober probes two
// addresses, IPv4 and IPv6; nobody answers while no host holds them;
// once h2 adds them, h2's kernel answers each probe (ARP reply, NA) with
// h2's MAC, reported to OnAnswer and by the next Send; once h2 removes
// them, rounds are quiet again. h1's own interface MAC, given as its own,
// never counts (h1 holds the addresses too in the last part).
func TestProberLAN(t *testing.T) {
	lab := netlab.New(t, "arpp", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	var p *Prober
	if err := h1.Do(func() (err error) { p, err = NewProber(ProberConfig{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	heard := make(chan string, 16)
	var probes []*Probe
	for _, a := range []netip.Addr{lanVIP4, lanVIP6} {
		// Added from this goroutine's namespace: the Prober looks the
		// interface up in h1's.
		pr, err := p.Add(ProbeTarget{IfIndex: h1.IfIndex, Addr: a, OnAnswer: func(m net.HardwareAddr) {
			select {
			case heard <- a.String() + " " + m.String():
			default:
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		probes = append(probes, pr)
	}
	// round sends a probe for each address, waits (generously) and
	// returns what the round heard.
	round := func() map[string]bool {
		t.Helper()
		for _, pr := range probes {
			if _, err := pr.Send(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond)
		got := map[string]bool{}
		for _, pr := range probes {
			for _, m := range pr.Heard() {
				got[pr.Addr().String()+" "+m.String()] = true
			}
		}
		return got
	}
	ip := func(h *netlab.Host, args ...string) {
		t.Helper()
		if out, err := h.Run(context.Background(), "ip", args...); err != nil {
			t.Fatalf("%s: ip %v: %v: %s", h.Name, args, err, out)
		}
	}
	if got := round(); len(got) != 0 {
		t.Fatalf("nobody holds the addresses, heard %v", got)
	}
	ip(h2, "addr", "add", lanVIP4.String()+"/32", "dev", h2.Iface)
	ip(h2, "addr", "add", lanVIP6.String()+"/128", "dev", h2.Iface, "nodad")
	want := map[string]bool{lanVIP4.String() + " " + h2.MAC.String(): true, lanVIP6.String() + " " + h2.MAC.String(): true}
	var got map[string]bool
	for range 5 { // the first NS may go before h2 joined the solicited-node group
		if got = round(); len(got) == 2 {
			break
		}
	}
	if len(got) != 2 || !got[lanVIP4.String()+" "+h2.MAC.String()] || !got[lanVIP6.String()+" "+h2.MAC.String()] {
		t.Fatalf("h2 holds the addresses: heard %v, want %v", got, want)
	}
	select {
	case s := <-heard:
		if !want[s] {
			t.Errorf("OnAnswer %q", s)
		}
	default:
		t.Error("OnAnswer not called")
	}
	ip(h2, "addr", "del", lanVIP4.String()+"/32", "dev", h2.Iface)
	ip(h2, "addr", "del", lanVIP6.String()+"/128", "dev", h2.Iface)
	round() // ends the round that may still hold answers
	if got := round(); len(got) != 0 {
		t.Errorf("h2 removed the addresses: heard %v", got)
	}
	for _, pr := range probes {
		if st := pr.Stats(); st.Sent < 4 || st.SendErrors != 0 {
			t.Errorf("%v: stats %+v", pr.Addr(), st)
		}
	}
	if st := p.Stats(); st.Malformed != 0 || st.ReadErrors != 0 {
		t.Errorf("prober stats %+v", st)
	}
}
