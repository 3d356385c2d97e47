//go:build linux

package arpnd

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// TestProberLAN (privileged, lab "arpp"): h1's Prober probes two
// addresses, IPv4 and IPv6; nobody answers while no host holds them;
// once h2 adds them, h2's kernel answers each probe (ARP reply, NA) with
// h2's MAC, reported to OnAnswer and by the next Send; once h2 removes
// them, rounds are quiet again. h1's own interface MAC, given as its own,
// never counts (h1 holds the addresses too in the last part). Rounds
// alternate Send and SendBatch (one sendmmsg per family); the batch
// rounds carry a probe on an interface that does not exist between the
// others: it fails alone, the probes after it still go out.
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
	bogus, err := p.Add(ProbeTarget{IfIndex: 1 << 20, Addr: netip.MustParseAddr("192.0.2.55"), HardwareAddr: h1.MAC})
	if err != nil {
		t.Fatal(err)
	}
	batch := []*Probe{probes[0], bogus, probes[1]}
	res := make([]ProbeResult, len(batch))
	// round sends a probe for each address, waits (generously) and
	// returns what the round heard.
	rounds := 0
	round := func() map[string]bool {
		t.Helper()
		if rounds++; rounds%2 == 0 {
			p.SendBatch(batch, res)
			for i, r := range res {
				if (r.Err == nil) == (batch[i] == bogus) {
					t.Fatalf("SendBatch: %v: err %v", batch[i].Addr(), r.Err)
				}
			}
		} else {
			for _, pr := range probes {
				if _, err := pr.Send(); err != nil {
					t.Fatal(err)
				}
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
	if st := bogus.Stats(); st.Sent != 0 || st.SendErrors != uint64(rounds/2) {
		t.Errorf("probe on no interface: stats %+v after %d batch rounds", st, rounds/2)
	}
	if st := p.Stats(); st.Malformed != 0 || st.ReadErrors != 0 {
		t.Errorf("prober stats %+v", st)
	}
}

// BenchmarkProberLoopback (root, GOVRRP_PRIVILEGED=1): a round of 4,094
// ARP probes (issue 12's scale) through a real AF_PACKET probe socket,
// on the loopback interface of the host (the kernel drops ARP there: lo
// is NOARP), Send by Send (a sendto each) or in one SendBatch (sendmmsg
// of up to probeBatchMax): the system's cost of a round, syscalls
// included, which BenchmarkProberSend / BenchmarkProberSendBatch leave
// out.
func BenchmarkProberLoopback(b *testing.B) {
	if os.Getenv("GOVRRP_PRIVILEGED") != "1" {
		b.Skip("needs root: set GOVRRP_PRIVILEGED=1")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		b.Fatal(err)
	}
	c, err := openProbeConn(false)
	if err != nil {
		b.Fatal(err)
	}
	p := NewProberConn(ProberConfig{}, c, nil)
	defer p.Close()
	const n = 4094
	prs := make([]*Probe, n)
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		if prs[i], err = p.Add(ProbeTarget{IfIndex: lo.Index, Addr: a, HardwareAddr: hostMAC}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sendto", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for _, pr := range prs {
				if _, err := pr.Send(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(n, "syscalls/round")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
	})
	b.Run("sendmmsg", func(b *testing.B) {
		res := make([]ProbeResult, n)
		p.SendBatch(prs, res) // grows the scratch
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			p.SendBatch(prs, res)
			for _, r := range res {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		b.ReportMetric(float64((n+probeBatchMax-1)/probeBatchMax), "syscalls/round")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
	})
}
