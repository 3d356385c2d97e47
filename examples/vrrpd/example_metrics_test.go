package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// exportRouter is what a program that embeds vrrp.Router needs to serve
// vrrpd's main figures on its own /metrics (Prometheus text format): no
// metrics library, only Router.Stats, Router.State, Router.Master and
// Router.RouterStats, under vrrpd's names. With
// prometheus/client_golang instead, the same reads go in a Collector's
// Collect, each figure a prometheus.MustNewConstMetric(desc,
// prometheus.CounterValue, float64(s.RcvdAdvertisements), name).
func exportRouter(w io.Writer, r *vrrp.Router, names ...string) {
	counters := []struct {
		name string
		get  func(vrrp.Stats) uint64
	}{
		{"vrrp_advertisement_rcvd_total", func(s vrrp.Stats) uint64 { return s.RcvdAdvertisements }},
		{"vrrp_advertisement_sent_total", func(s vrrp.Stats) uint64 { return s.SentAdvertisements }},
		{"vrrp_priority_zero_pkts_rcvd_total", func(s vrrp.Stats) uint64 { return s.RcvdPriZeroPackets }},
		{"vrrp_master_transitions_total", func(s vrrp.Stats) uint64 { return s.MasterTransitions }},
		{"vrrp_address_list_errors_total", func(s vrrp.Stats) uint64 { return s.AddressListErrors }},
		{"vrrp_second_master_total", func(s vrrp.Stats) uint64 { return s.SecondMaster }},
	}
	for _, name := range names {
		s, err := r.Stats(name)
		if err != nil {
			continue // removed meanwhile
		}
		state, _ := r.State(name)
		master, _ := r.Master(name)
		l := fmt.Sprintf("vrrp_instance=%q", name)
		for _, c := range counters {
			fmt.Fprintf(w, "%s{%s} %d\n", c.name, l, c.get(s))
		}
		fmt.Fprintf(w, "vrrp_state{%s,state=%q} 1\n", l, strings.ToLower(state.String()))
		if master.IsValid() {
			fmt.Fprintf(w, "vrrp_last_adv_source_info{%s,last_adv_source=%q} 1\n", l, master)
		}
		fmt.Fprintf(w, "vrrp_new_master_reason_info{%s,new_master_reason=%q} 1\n", l, s.NewMasterReason)
	}
	rs := r.RouterStats()
	fmt.Fprintf(w, "vrrp_checksum_errors_total %d\nvrrp_version_errors_total %d\n", rs.ChecksumErrors, rs.VersionErrors)
	fmt.Fprintf(w, "vrrp_vrid_errors_total %d\nvrrp_ip_ttl_errors_total %d\n", rs.VRIDErrors, rs.TTLErrors)
	for _, d := range r.Discards() { // at most vrrp.DiscardTableLen rows
		fmt.Fprintf(w, "vrrp_discarded_advertisements_total{vrrp_instance=%q,source=%q,reason=%q} %d\n", d.Name, d.Src, d.Reason, d.Count)
	}
}

// An embedder exports the same figures as vrrpd's GET /metrics from its
// vrrp.Router in a few lines (exportRouter). Here a Router not yet
// running: every counter is zero.
func Example_exportRouter() {
	lan := memnet.New(memnet.Config{})
	defer lan.Close()
	primary := netip.MustParseAddr("10.0.0.1")
	conn, err := lan.Attach(memnet.EndpointConfig{Name: "h1", Addrs: []netip.Addr{primary}})
	if err != nil {
		panic(err)
	}
	r := vrrp.NewRouter(vrrp.RouterConfig{})
	err = r.Add(vrrp.VirtualRouter{Name: "web", Conn: conn, Interface: "eth0",
		Config: vrrp.Config{VRID: 51, Priority: 150, Primary: primary,
			Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}})
	if err != nil {
		panic(err)
	}
	exportRouter(os.Stdout, r, "web")
	// Output:
	// vrrp_advertisement_rcvd_total{vrrp_instance="web"} 0
	// vrrp_advertisement_sent_total{vrrp_instance="web"} 0
	// vrrp_priority_zero_pkts_rcvd_total{vrrp_instance="web"} 0
	// vrrp_master_transitions_total{vrrp_instance="web"} 0
	// vrrp_address_list_errors_total{vrrp_instance="web"} 0
	// vrrp_second_master_total{vrrp_instance="web"} 0
	// vrrp_state{vrrp_instance="web",state="initialize"} 1
	// vrrp_new_master_reason_info{vrrp_instance="web",new_master_reason="none"} 1
	// vrrp_checksum_errors_total 0
	// vrrp_version_errors_total 0
	// vrrp_vrid_errors_total 0
	// vrrp_ip_ttl_errors_total 0
}
