package main

import (
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
)

// TestDaemonDiagnostics: a host that sends with TTL 64 is named in the
// status (discards) and the metrics (vrrp_discarded_advertisements_total);
// a second master heard by the master is counted in both.
func TestDaemonDiagnostics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		a := startHost(t, lan, 1, cfgOf(inst("VI_1", 1, 200, "10.0.0.100/24")))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := states(a)["VI_1"]; got != "MASTER" {
			t.Fatalf("a is %s", got)
		}
		sendFrom := func(src netip.Addr, ttl int, prio uint8, n int) {
			ep, err := lan.Attach(memnet.EndpointConfig{Name: src.String(), Addrs: []netip.Addr{src}, TTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			adv := packet.Advertisement{Version: 3, Type: packet.TypeAdvertisement, VRID: 1, Priority: prio, MaxAdvertInt: 10,
				Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
			b, err := adv.Append(nil, src, packet.GroupIPv4, packet.ChecksumUnknown)
			if err != nil {
				t.Fatal(err)
			}
			for range n {
				if err := ep.WriteTo(b, transport.Meta{Src: src}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		ttlHost, rogue := netip.MustParseAddr("10.0.0.66"), netip.MustParseAddr("10.0.0.77")
		sendFrom(ttlHost, 64, 100, 5)
		sendFrom(rogue, 255, 100, 3)
		synctest.Wait()

		st := a.d.status()
		if len(st.Discards) != 1 {
			t.Fatalf("discards %+v, want one row", st.Discards)
		}
		if d := st.Discards[0]; d.Source != "10.0.0.66" || d.Reason != "ttl" || d.Count != 5 || d.Instance != "VI_1" || d.VRID != 1 || d.Interface != "eth0" {
			t.Errorf("discard row %+v", d)
		}
		if n := st.Instances[0].Stats.SecondMaster; n != 3 {
			t.Errorf("stats SecondMaster %d, want 3", n)
		}
		_, body := scrape(t, a.d.snapshot(), "")
		text := string(body)
		for _, want := range []string{
			`vrrp_discarded_advertisements_total{vrrp_instance="VI_1",interface="eth0",vrid="1",source="10.0.0.66",reason="ttl"} 5`,
			`vrrp_second_master_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4"} 3`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}
