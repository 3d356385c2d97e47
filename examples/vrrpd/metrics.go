package main

import (
	"bufio"
	"cmp"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// GET /metrics: vrrpd's figures in the Prometheus text format 0.0.4, or
// OpenMetrics 1.0 when the Accept header asks for it (Prometheus does).
//
// The names derive from the RFC 8347 (ietf-vrrp) leaves, prefixed vrrp_:
// statistics/advertisement-rcvd is vrrp_advertisement_rcvd_total,
// priority-zero-pkts-sent vrrp_priority_zero_pkts_sent_total, the global
// checksum-errors vrrp_checksum_errors_total. RFC 6527 figures that RFC
// 8347 lacks, and govrrp's own, follow the same pattern. The virtual
// router's labels are vrrp_instance (its name: "instance" is the label
// Prometheus gives every target, so an exported "instance" would be
// renamed exported_instance), interface, vrid and family ("ipv4",
// "ipv6"). See METRICS.md beside this file for the list.

// observeHandler serves GET /metrics and GET /ietf-vrrp, and passes
// every other request to next (the JSON status).
func (d *daemon) observeHandler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		serveMetrics(w, r, d.snapshot())
	})
	mux.HandleFunc("GET /ietf-vrrp", func(w http.ResponseWriter, r *http.Request) {
		d.serveIETF(w)
	})
	mux.Handle("/", next)
	return mux
}

// serveMetrics writes s as the request's Accept header asks.
func serveMetrics(w http.ResponseWriter, r *http.Request, s snapshot) {
	om := wantOpenMetrics(r.Header.Get("Accept"))
	ct := contentTypeText
	if om {
		ct = contentTypeOpenMetrics
	}
	w.Header().Set("Content-Type", ct)
	// Streamed through writeExposition's buffer: 16 MB at 4,094
	// instances are never in memory at once.
	_ = writeMetrics(w, om, s)
}

// metricsPassFamilies is how many families writeMetrics builds at once.
// Every family held at once costs a sample per instance (64 B, more with
// labels): all ~50 of them were 18 MB live at 4,094 instances during a
// scrape, which raised the GC's heap goal and the RSS with it (issue
// 12). Each pass walks the instances again (cheap next to writing).
const metricsPassFamilies = 8

// writeMetrics writes the exposition of s as writeExposition(w, om,
// metricFamilies(s)) does, byte for byte, building only
// metricsPassFamilies families at a time.
func writeMetrics(w io.Writer, om bool, s snapshot) error {
	b := bufio.NewWriterSize(w, expositionBuffer)
	bases := make([]string, len(s.Instances))
	for lo := 0; ; lo += metricsPassFamilies {
		fams, total := metricFamiliesIn(s, lo, lo+metricsPassFamilies, bases)
		if err := writeFamilies(b, om, fams); err != nil {
			return err
		}
		if lo+metricsPassFamilies >= total {
			break
		}
	}
	if om {
		b.WriteString("# EOF\n")
	}
	return b.Flush()
}

// familyName is the label value of a family.
func familyName(f vrrp.Family) string {
	if f == vrrp.IPv4 {
		return "ipv4"
	}
	return "ipv6"
}

// trackValue is a tracked object's status as a gauge: 1 up, 0 down, -1
// not known yet.
func trackValue(st int8) float64 {
	switch st {
	case statusUp:
		return 1
	case statusDown:
		return 0
	}
	return -1
}

// unixSeconds is t in seconds since the epoch, with its fraction.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// metricFamilies returns the families of s, in a fixed order (per
// instance first, then router-wide, then the daemon's own), samples in
// the order of the instances.
func metricFamilies(s snapshot) []family {
	fams, _ := metricFamiliesIn(s, 0, math.MaxInt, make([]string, len(s.Instances)))
	return fams
}

// metricFamiliesIn returns the families of s numbered lo to hi-1 (in
// metricFamilies' order; the others are left out) and the number of
// families of s in all. bases[i] is the joined labels of instance i,
// computed if "" (a pass after the first reuses them).
func metricFamiliesIn(s snapshot, lo, hi int, bases []string) ([]family, int) {
	type fam struct {
		family
		on bool // numbered lo to hi-1: its samples are kept
	}
	var fs []*fam
	// room: the samples a family will have, most families one per
	// instance (the slices are not regrown, instance after instance).
	room := len(s.Instances)
	add := func(name string, typ metricType, help string) *fam {
		f := &fam{family: family{name: name, typ: typ, help: help}, on: len(fs) >= lo && len(fs) < hi}
		if f.on {
			f.samples = make([]sample, 0, room)
		}
		fs = append(fs, f)
		return f
	}
	// A sample's labels: base (joined, escaped: an instance's four,
	// written once per instance rather than once per sample) then ls.
	gauge := func(f *fam, v float64, base string, ls ...label) {
		if f.on {
			f.samples = append(f.samples, sample{base: base, labels: ls, value: v})
		}
	}
	count := func(f *fam, n uint64, base string, ls ...label) {
		if f.on {
			f.samples = append(f.samples, sample{base: base, labels: ls, count: n, exact: true})
		}
	}

	state := add("vrrp_state", gaugeType, "1 for the state the virtual router is in (initialize, backup, master, fault), 0 for the others.")
	prio := add("vrrp_priority", gaugeType, "Configured priority (RFC 8347 priority; 255: the address owner).")
	eprio := add("vrrp_effective_priority", gaugeType, "Priority in use, after tracking adjusted the configured one.")
	owner := add("vrrp_is_owner", gaugeType, "1 if this router owns the virtual addresses (priority 255) (RFC 8347 is-owner).")
	master := add("vrrp_last_adv_source", infoType, "Current master as this router knows it: its own primary address while master, the source of the last accepted advertisement otherwise (RFC 8347 last-adv-source).")
	nmr := add("vrrp_new_master_reason", infoType, "Why this router last became master (RFC 6527 vrrpv3StatisticsNewMasterReason: none, priority, preempted, masterNoResponse).")
	lastEv := add("vrrp_last_event", infoType, "The last transition: its RFC 8347 vrrp-event-type identity, govrrp's reason and the states.")
	lastTs := add("vrrp_last_transition_timestamp_seconds", gaugeType, "When the last transition happened, in seconds since the epoch.")
	since := add("vrrp_seconds_since_last_transition", gaugeType, "Seconds since the last transition.")
	upTs := add("vrrp_up_timestamp_seconds", gaugeType, "When the virtual router last left the initialize state, in seconds since the epoch (RFC 8347 up-datetime).")
	disc := add("vrrp_discontinuity_timestamp_seconds", gaugeType, "When the virtual router's counters started, in seconds since the epoch (RFC 8347 statistics/discontinuity-datetime).")
	refresh := add("vrrp_refresh_rate_seconds", gaugeType, "Advertisement interval in use: ours as master, the master's as backup, 0 in initialize and fault (RFC 6527 vrrpv3StatisticsRefreshRate).")
	interval := add("vrrp_advertise_interval_seconds", gaugeType, "Configured advertisement interval (RFC 8347 advertise-interval-centi-sec / -sec).")
	ifUp := add("vrrp_interface_up", gaugeType, "1 if the virtual router's interface is up, 0 if down, -1 if not known yet.")
	tfault := add("vrrp_tracking_fault", gaugeType, "1 while the virtual router's own tracking (a tracked interface or script of weight 0) holds it in fault.")
	tif := add("vrrp_track_interface_up", gaugeType, "Status of a tracked interface: 1 up, 0 down, -1 not known yet.")
	tsc := add("vrrp_track_script_up", gaugeType, "Status of a tracked script: 1 succeeding, 0 failing, -1 no result yet.")
	tfv := add("vrrp_track_file_value", gaugeType, "The number read from a tracked file (absent until read).")
	tpu := add("vrrp_track_process_up", gaugeType, "Status of a tracked process: 1 quorum held, 0 not, -1 not known yet.")
	tpn := add("vrrp_track_process_count", gaugeType, "Processes of a tracked process counted at the last scan.")
	mt := add("vrrp_master_transitions", counterType, "Transitions to master (RFC 8347 master-transitions).")
	tr := add("vrrp_transitions", counterType, "Transitions seen by vrrpd, by from and to state and reason (govrrp's vrrp.Reason); every transition, without loss.")
	rcvd := add("vrrp_advertisement_rcvd", counterType, "Advertisements received and accepted for processing (RFC 8347 advertisement-rcvd).")
	sent := add("vrrp_advertisement_sent", counterType, "Advertisements sent, priority 0 included (RFC 8347 advertisement-sent).")
	p0r := add("vrrp_priority_zero_pkts_rcvd", counterType, "Advertisements received with priority 0 (RFC 8347 priority-zero-pkts-rcvd).")
	p0s := add("vrrp_priority_zero_pkts_sent", counterType, "Advertisements sent with priority 0 (RFC 8347 priority-zero-pkts-sent).")
	ivl := add("vrrp_interval_errors", counterType, "Advertisements whose interval differs from ours or is 0 (RFC 8347 interval-errors).")
	typ := add("vrrp_invalid_type_pkts_rcvd", counterType, "Packets whose type is not ADVERTISEMENT (RFC 8347 invalid-type-pkts-rcvd).")
	addr := add("vrrp_address_list_errors", counterType, "Advertisements whose address list differs from ours or is empty (RFC 8347 address-list-errors).")
	plen := add("vrrp_packet_length_errors", counterType, "Packets too short for what they claim, or of another address family (RFC 8347 packet-length-errors).")
	ttl := add("vrrp_instance_ip_ttl_errors", counterType, "Advertisements for this virtual router with a TTL / hop limit other than 255 (RFC 6527 vrrpv3StatisticsIpTtlErrors).")
	auth := add("vrrp_auth_errors", counterType, "VRRPv2 advertisements dropped for their authentication type or data (RFC 2787).")
	ownr := add("vrrp_owner_advertisement_rcvd", counterType, "Advertisements the address owner received.")
	nll := add("vrrp_no_link_local_first", counterType, "IPv6 advertisements whose first address is not link-local (processed, as keepalived sends them).")
	csum := add("vrrp_advertisement_rcvd_checksum_form", counterType, "Accepted VRRPv3 IPv4 advertisements by checksum form: pseudo-header (RFC 5798, keepalived, FRR) or message (RFC 9568 section 5.2.8).")
	perr := add("vrrp_protocol_error_reason", infoType, "The last protocol error (RFC 6527 vrrpv3StatisticsProtoErrReason).")
	sr := add("vrrp_second_responder", gaugeType, "1 while a MAC that is not this router's answers the master's probes for the virtual address (a host still holding it, another cluster), 0 otherwise; only with probing on (probe_interval).")
	sre := add("vrrp_second_responder_episodes", counterType, "Second-responder alarms raised (each is logged once, with the address and the MAC).")
	sra := add("vrrp_second_responder_answers", counterType, "Answers to the master's probes from MACs that are not this router's.")
	prs := add("vrrp_address_probes_sent", counterType, "ARP probes and Neighbor Solicitations the master sent for its virtual addresses.")
	pre := add("vrrp_address_probe_send_errors", counterType, "Probes that could not be sent.")
	smc := add("vrrp_second_master", counterType, "Advertisements of this VRID heard from another router while master (two masters: a split brain, or a preemption); the first of each episode is logged with the source.")

	for i, is := range s.Instances {
		if bases[i] == "" {
			bases[i] = joinLabels(label{"vrrp_instance", is.Name}, label{"interface", is.Interface},
				label{"vrid", strconv.Itoa(int(is.VRID))}, label{"family", familyName(is.Family)})
		}
		base := bases[i]
		// The calls with labels are made only for a family of the
		// pass: their labels are allocated whatever the family.
		for _, st := range []struct {
			name string
			s    vrrp.State
		}{{"initialize", vrrp.Initialize}, {"backup", vrrp.Backup}, {"master", vrrp.Master}, {"fault", vrrp.Fault}} {
			v := 0.0
			if is.Running && is.State == st.s {
				v = 1
			}
			if state.on {
				gauge(state, v, base, label{"state", st.name})
			}
		}
		gauge(prio, float64(is.Base), base)
		gauge(eprio, float64(is.Priority), base)
		gauge(owner, b2f(is.Base == 255), base)
		if is.Master.IsValid() {
			if master.on {
				gauge(master, 1, base, label{"last_adv_source", is.Master.String()})
			}
		}
		if nmr.on {
			gauge(nmr, 1, base, label{"new_master_reason", is.Stats.NewMasterReason.String()})
		}
		if !is.Last.Time.IsZero() {
			if lastEv.on {
				gauge(lastEv, 1, base, label{"last_event", ietfEvent(is.Last.Reason)}, label{"reason", is.Last.Reason.String()},
					label{"from", stateLabel(is.Last.From)}, label{"to", stateLabel(is.Last.To)})
			}
			gauge(lastTs, unixSeconds(is.Last.Time), base)
			gauge(since, max(s.Time.Sub(is.Last.Time).Seconds(), 0), base)
		}
		if !is.Up.IsZero() {
			gauge(upTs, unixSeconds(is.Up), base)
		}
		if !is.Stats.DiscontinuityTime.IsZero() {
			gauge(disc, unixSeconds(is.Stats.DiscontinuityTime), base)
		}
		gauge(refresh, is.Stats.RefreshRate.Seconds(), base)
		gauge(interval, is.Interval.Seconds(), base)
		gauge(ifUp, trackValue(is.LinkStatus), base)
		gauge(tfault, b2f(is.TrackFault), base)
		for _, t := range is.TrackIfaces {
			if !tif.on {
				break
			}
			gauge(tif, trackValue(t.Status), base, label{"track_interface", t.Name})
		}
		for _, t := range is.TrackScripts {
			if !tsc.on {
				break
			}
			gauge(tsc, trackValue(t.Status), base, label{"track_script", t.Name})
		}
		for _, t := range is.TrackFiles {
			if tfv.on && t.Status != statusUnknown {
				gauge(tfv, float64(t.Value), base, label{"track_file", t.Name})
			}
		}
		for _, t := range is.TrackProcs {
			if tpu.on {
				gauge(tpu, trackValue(t.Status), base, label{"track_process", t.Name})
			}
			if tpn.on && t.Status != statusUnknown {
				gauge(tpn, float64(t.Value), base, label{"track_process", t.Name})
			}
		}
		st := is.Stats
		count(mt, st.MasterTransitions, base)
		if tr.on {
			for _, k := range sortedTransitions(is.Transitions) {
				count(tr, is.Transitions[k], base, label{"from", stateLabel(k.From)}, label{"to", stateLabel(k.To)}, label{"reason", k.Reason.String()})
			}
		}
		count(rcvd, st.RcvdAdvertisements, base)
		count(sent, st.SentAdvertisements, base)
		count(p0r, st.RcvdPriZeroPackets, base)
		count(p0s, st.SentPriZeroPackets, base)
		count(ivl, st.AdvIntervalErrors, base)
		count(typ, st.RcvdInvalidTypePackets, base)
		count(addr, st.AddressListErrors, base)
		count(plen, st.PacketLengthErrors, base)
		count(ttl, st.IPTTLErrors, base)
		count(auth, st.AuthErrors, base)
		count(ownr, st.OwnerRcvdAdvertisements, base)
		count(nll, st.NoLinkLocalFirst, base)
		if csum.on {
			count(csum, st.RcvdChecksumPseudo, base, label{"checksum", "pseudo-header"})
		}
		if csum.on {
			count(csum, st.RcvdChecksumMessage, base, label{"checksum", "message"})
		}
		if perr.on {
			gauge(perr, 1, base, label{"protocol_error_reason", st.ProtoErrReason.String()})
		}
		count(smc, st.SecondMaster, base)
		if is.Probe.On {
			alarmed := map[string]bool{}
			for _, a := range is.Probe.Alarms {
				alarmed[a.Address] = true
			}
			for _, p := range is.VIPs {
				if !sr.on {
					break
				}
				a := p.Addr().String()
				gauge(sr, b2f(alarmed[a]), base, label{"address", a})
			}
			ps := is.Probe.Status
			count(sre, ps.Episodes, base)
			count(sra, ps.Answers, base)
			count(prs, ps.Sent, base)
			count(pre, ps.SendErrors, base)
		}
	}

	room = 0
	// The Router's bounded table of discarded advertisements: at most
	// vrrp.DiscardTableLen series each, so the cardinality stays bounded.
	// A row evicted for a new source disappears; if it comes back its
	// counter starts again (a counter reset to Prometheus).
	dsc := add("vrrp_discarded_advertisements", counterType, "Advertisements dropped, by source address and reason (ttl, checksum, addressListMismatch, authentication, ...), for the top sources only (a bounded table: the sources with the largest counts and the most recent).")
	dsl := add("vrrp_discarded_advertisement_last_seen_timestamp_seconds", gaugeType, "When the last advertisement of that source was dropped for that reason, in seconds since the epoch.")
	for _, d := range s.Discards {
		ls := joinLabels(label{"vrrp_instance", d.Name}, label{"interface", d.Interface}, label{"vrid", strconv.Itoa(int(d.VRID))},
			label{"source", d.Src.String()}, label{"reason", d.Reason})
		count(dsc, d.Count, ls)
		gauge(dsl, unixSeconds(d.Last), ls)
	}

	rs := s.Router
	ifaces := map[string]bool{}
	for _, is := range s.Instances {
		ifaces[is.Interface] = true
	}
	gauge(add("vrrp_virtual_routers", gaugeType, "Virtual routers configured (RFC 8347 virtual-routers)."), float64(len(s.Instances)), "")
	gauge(add("vrrp_interfaces", gaugeType, "Interfaces with VRRP configured (RFC 8347 interfaces)."), float64(len(ifaces)), "")
	gauge(add("vrrp_global_discontinuity_timestamp_seconds", gaugeType, "When the router-wide counters started: vrrpd's start, in seconds since the epoch (RFC 8347 statistics/discontinuity-datetime)."), unixSeconds(s.Started), "")
	count(add("vrrp_checksum_errors", counterType, "Packets received with an invalid checksum (RFC 8347 checksum-errors)."), rs.ChecksumErrors, "")
	count(add("vrrp_version_errors", counterType, "Packets received with an unknown or unsupported version (RFC 8347 version-errors)."), rs.VersionErrors, "")
	count(add("vrrp_vrid_errors", counterType, "Packets received for a VRID no virtual router here has (RFC 8347 vrid-errors)."), rs.VRIDErrors, "")
	count(add("vrrp_ip_ttl_errors", counterType, "Packets of a known virtual router dropped on arrival for a TTL / hop limit other than 255 (RFC 8347 ip-ttl-errors)."), rs.TTLErrors, "")
	count(add("vrrp_router_short_packets", counterType, "Packets too short to carry a version and VRID, or without a valid source address."), rs.ShortPackets, "")
	count(add("vrrp_router_packets_rcvd", counterType, "Packets handed to a virtual router."), rs.Received, "")
	count(add("vrrp_router_advertisements_sent", counterType, "Advertisements written without error, all virtual routers."), rs.Sent, "")
	count(add("vrrp_router_send_errors", counterType, "Advertisements that could not be sent."), rs.SendErrors, "")
	count(add("vrrp_router_read_errors", counterType, "Transport read errors."), rs.ReadErrors, "")
	count(add("vrrp_router_events_dropped", counterType, "Events the Router's lossy Events channel dropped; vrrpd takes transitions from its hook without loss and reads no events, so 0."), rs.EventsDropped, "")
	gauge(add("vrrpd_notify_queue_length", gaugeType, "Notify commands waiting to run."), float64(s.NotifyQueue), "")
	count(add("vrrpd_notify_failures", counterType, "Notify commands that failed or timed out."), s.NotifyFailed, "")
	count(add("vrrpd_notify_dropped", counterType, "Notify commands dropped because the queue was full (beyond its cap; each virtual router's latest state is kept)."), s.NotifyDropped, "")
	if s.FIFO != nil {
		count(add("vrrpd_notify_fifo_lines_written", counterType, "Lines written to the notify FIFO."), s.FIFO.Written, "")
		count(add("vrrpd_notify_fifo_lines_dropped", counterType, "Lines the notify FIFO dropped: its queue was full (nothing reading), or they were left when it closed."), s.FIFO.Dropped, "")
	}
	if s.Probing {
		count(add("vrrpd_probe_frames_malformed", counterType, "ARP replies and Neighbor Advertisements the second-responder prober dropped as malformed."), s.ProbeDropped, "")
	}

	var out []family
	for _, f := range fs {
		if f.on {
			out = append(out, f.family)
		}
	}
	return out, len(fs)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// stateLabel is a state as a label value: initialize, backup, master,
// fault.
func stateLabel(s vrrp.State) string {
	switch s {
	case vrrp.Initialize:
		return "initialize"
	case vrrp.Backup:
		return "backup"
	case vrrp.Master:
		return "master"
	case vrrp.Fault:
		return "fault"
	}
	return s.String()
}

// sortedTransitions returns the keys of ts in a fixed order.
func sortedTransitions(ts map[transitionKey]uint64) []transitionKey {
	ks := make([]transitionKey, 0, len(ts))
	for k := range ts {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b transitionKey) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Reason, b.Reason))
	})
	return ks
}
