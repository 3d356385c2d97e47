//go:build linux

package raw

import (
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport"
)

// TestSetPeers: SetPeers on a running unicast Conn moves both its admit
// filter and its destinations to the new set; a switch to multicast, a
// peer of the other family and any peer on a multicast Conn are refused
// and change nothing.
func TestSetPeers(t *testing.T) {
	forFamilies(t, func(t *testing.T, fam int) {
		lab := netlab.New(t, "tsp", 3)
		h1, h2, h3 := lab.Host(1), lab.Host(2), lab.Host(3)
		addr := func(h *netlab.Host) netip.Addr { return srcOf(h, fam).WithZone("") }
		c1 := listen(t, h1, &Config{Family: fam, Peers: []netip.Addr{addr(h2)}})
		c2 := listen(t, h2, &Config{Family: fam, Peers: []netip.Addr{addr(h1)}})
		c3 := listen(t, h3, &Config{Family: fam, Peers: []netip.Addr{addr(h1)}})
		write := func(c *Conn, who string) {
			t.Helper()
			if err := c.WriteTo(vecOf(fam), transport.Meta{}); err != nil {
				t.Fatalf("%s WriteTo: %v", who, err)
			}
		}
		from := func(c *Conn, who string, h *netlab.Host) {
			t.Helper()
			if _, m := recv(t, c, who); m.Src.WithZone("") != addr(h) {
				t.Errorf("%s: packet from %v, want %v", who, m.Src, addr(h))
			}
		}

		// Before: h1 talks to h2 only, and does not hear h3.
		write(c3, "h3")
		write(c1, "h1")
		from(c2, "h2", h1)
		expectNothing(t, c1, "h1")
		expectNothing(t, c3, "h3")
		if s := c1.Stats(); s.NotPeer != 1 {
			t.Errorf("h1 Stats before SetPeers = %+v, want NotPeer 1", s)
		}

		if err := c1.SetPeers([]netip.Addr{srcOf(h3, fam)}); err != nil { // zoned: compared without
			t.Fatal(err)
		}
		if got := c1.Peers(); !slices.Equal(got, []netip.Addr{addr(h3)}) {
			t.Errorf("Peers = %v, want [%v]", got, addr(h3))
		}
		// After: h1's packets go to h3, not h2; h1 hears h3, not h2.
		write(c1, "h1")
		from(c3, "h3", h1)
		expectNothing(t, c2, "h2")
		write(c2, "h2")
		write(c3, "h3")
		from(c1, "h1", h3)
		expectNothing(t, c1, "h1")
		if s := c1.Stats(); s.NotPeer != 2 || s.Received != 1 {
			t.Errorf("h1 Stats after SetPeers = %+v, want NotPeer 2, Received 1", s)
		}

		// Refused, and nothing changes.
		other := h2.Addr4
		if fam == 4 {
			other = h2.LinkLocal()
		}
		for _, ps := range [][]netip.Addr{nil, {other}, {groupOf(fam)}} {
			if err := c1.SetPeers(ps); err == nil {
				t.Errorf("SetPeers(%v) on a unicast Conn succeeded", ps)
			}
		}
		if got := c1.Peers(); !slices.Equal(got, []netip.Addr{addr(h3)}) {
			t.Errorf("Peers after refused changes = %v, want [%v]", got, addr(h3))
		}
		mc := listen(t, h2, &Config{Family: fam})
		if err := mc.SetPeers([]netip.Addr{addr(h1)}); err == nil {
			t.Error("SetPeers on a multicast Conn succeeded")
		}
		if got := mc.Peers(); len(got) != 0 {
			t.Errorf("multicast Conn's Peers = %v", got)
		}
	})
}

// TestSetPeersConcurrent changes the peers over and over while a reader
// reads and a writer writes, for the race detector: each packet is
// admitted or sent by one whole set.
func TestSetPeersConcurrent(t *testing.T) {
	lab := netlab.New(t, "tspc", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	c1 := listen(t, h1, &Config{Family: 4, Peers: []netip.Addr{h2.Addr4}})
	c2 := listen(t, h2, &Config{Family: 4, Peers: []netip.Addr{h1.Addr4}})
	stranger := netip.MustParseAddr("10.99.0.77") // on the link, no host: sent into the void
	const n = 200
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // h2 reads what h1 sends
		defer wg.Done()
		ms := batchBufs(8)
		for got := 0; got < n/2; {
			k, err := c2.ReadBatch(ms)
			if err != nil {
				t.Errorf("h2 ReadBatch: %v", err)
				return
			}
			got += k
			for i := range ms {
				ms[i].Buf = ms[i].Buf[:cap(ms[i].Buf)]
			}
		}
	}()
	go func() { // h1 sends to whichever set is current
		defer wg.Done()
		for range n {
			if err := c1.WriteTo(vecA, transport.Meta{}); err != nil {
				t.Errorf("h1 WriteTo: %v", err)
				return
			}
		}
	}()
	for i := range n {
		// Every other set leaves h2 out; it always stays a peer of one.
		ps := []netip.Addr{h2.Addr4}
		if i%2 == 1 {
			ps = []netip.Addr{stranger}
		}
		if err := c1.SetPeers(ps); err != nil {
			t.Fatal(err)
		}
		if err := c2.SetPeers([]netip.Addr{h1.Addr4, stranger}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c1.SetPeers([]netip.Addr{h2.Addr4}); err != nil {
		t.Fatal(err)
	}
	// Top up so that the reader gets its n/2 whatever the interleaving.
	for range n / 2 {
		if err := c1.WriteTo(vecA, transport.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
