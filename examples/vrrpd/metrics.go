package main

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/govrrp/govrrp/internal/httpd"
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
func (d *daemon) observeHandler(next httpd.Handler) httpd.Handler {
	return func(r *httpd.Request) httpd.Response {
		switch r.Path {
		case "/metrics":
			if !readOnly(r) {
				return methodNotAllowed
			}
			return metricsResponse(r.Accept, d.snapshot)
		case "/ietf-vrrp":
			if !readOnly(r) {
				return methodNotAllowed
			}
			return httpd.Response{ContentType: contentTypeYANG, Body: d.serveIETF}
		}
		return next(r)
	}
}

// metricsResponse answers GET /metrics with the snapshot snap takes (when
// the body is written: not for HEAD), as the request's Accept header
// asks.
func metricsResponse(accept string, snap func() snapshot) httpd.Response {
	om := wantOpenMetrics(accept)
	ct := contentTypeText
	if om {
		ct = contentTypeOpenMetrics
	}
	// Streamed through writeExposition's buffer: 16 MB at 4,094
	// instances are never in memory at once.
	return httpd.Response{ContentType: ct, Body: func(w io.Writer) error {
		return writeMetrics(w, om, snap())
	}}
}

// writeMetrics writes the exposition of s as writeExposition(w, om,
// metricFamilies(s)) does, byte for byte, family by family, each sample
// as it is read: what it holds is the buffer, not the samples (issue 12:
// every family held at once was 18 MB live at 4,094 instances during a
// scrape; eight at a time still 5 MB).
func writeMetrics(w io.Writer, om bool, s snapshot) error {
	o := metricsOut{b: bufio.NewWriterSize(w, expositionBuffer), om: om}
	emitMetrics(&o, &s)
	if om {
		o.b.WriteString("# EOF\n")
	}
	return o.b.Flush()
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
// the order of the instances: what writeMetrics writes, collected.
func metricFamilies(s snapshot) []family {
	var o metricsOut
	emitMetrics(&o, &s)
	return o.fams
}

// metricsOut is where emitMetrics puts the samples: written to b as they
// come (writeMetrics), or, b nil, collected in fams (metricFamilies).
type metricsOut struct {
	b    *bufio.Writer
	om   bool
	fams []family
	// The current family, its HELP and TYPE written once it has a sample
	// (a family without samples is left out).
	cur        family
	sampleName string
	started    bool
	// is is the instance whose samples come (its four labels first), nil
	// for the families that are not per instance (base is then theirs).
	is   *instSnap
	base string
	num  [32]byte
}

// family starts a new family.
func (o *metricsOut) family(name string, typ metricType, help string) {
	o.cur = family{name: name, typ: typ, help: help}
	o.sampleName = o.cur.sampleName()
	o.started = false
	o.is, o.base = nil, ""
}

func (o *metricsOut) gauge(v float64, ls ...label) {
	o.put(sample{labels: ls, value: v})
}

func (o *metricsOut) count(n uint64, ls ...label) {
	o.put(sample{labels: ls, count: n, exact: true})
}

// put writes or collects s, with the current instance's labels or base
// first.
func (o *metricsOut) put(s sample) {
	if o.b == nil {
		if !o.started {
			o.fams = append(o.fams, o.cur)
			o.started = true
		}
		base := o.base
		if o.is != nil {
			base = instanceLabels(o.is)
		}
		// A copy of the labels: s's stay on the caller's stack (a
		// sample written is not kept).
		f := &o.fams[len(o.fams)-1]
		f.samples = append(f.samples, sample{base: base, labels: slices.Clone(s.labels), value: s.value, count: s.count, exact: s.exact})
		return
	}
	if !o.started {
		writeFamilyHead(o.b, o.om, &o.cur)
		o.started = true
	}
	b := o.b
	b.WriteString(o.sampleName)
	base := o.is != nil || o.base != ""
	if base || len(s.labels) > 0 {
		b.WriteByte('{')
		if o.is != nil {
			writeInstanceLabels(b, o.is, &o.num)
		} else {
			b.WriteString(o.base)
		}
		writeLabels(b, base, s.labels)
		b.WriteByte('}')
	}
	writeSampleValue(b, &s, &o.num)
}

// instanceLabels is the labels of is as a sample writes them:
// vrrp_instance, interface, vrid, family.
func instanceLabels(is *instSnap) string {
	return joinLabels(label{"vrrp_instance", is.Name}, label{"interface", is.Interface},
		label{"vrid", strconv.Itoa(int(is.VRID))}, label{"family", familyName(is.Family)})
}

// writeInstanceLabels writes instanceLabels(is) to b, without
// allocating.
func writeInstanceLabels(b *bufio.Writer, is *instSnap, num *[32]byte) {
	b.WriteString(`vrrp_instance="`)
	b.WriteString(escapeLabel(is.Name))
	b.WriteString(`",interface="`)
	b.WriteString(escapeLabel(is.Interface))
	b.WriteString(`",vrid="`)
	b.Write(strconv.AppendUint(num[:0], uint64(is.VRID), 10))
	b.WriteString(`",family="`)
	b.WriteString(familyName(is.Family))
	b.WriteByte('"')
}

// instFamily is a family of one or more samples per instance: emit puts
// those of is.
type instFamily struct {
	name string
	typ  metricType
	help string
	emit func(o *metricsOut, s *snapshot, is *instSnap)
}

// vrrpStates are the states of vrrp_state, in its order.
var vrrpStates = [...]struct {
	name string
	s    vrrp.State
}{{"initialize", vrrp.Initialize}, {"backup", vrrp.Backup}, {"master", vrrp.Master}, {"fault", vrrp.Fault}}

// instanceFamilies are the families per instance, in their order.
var instanceFamilies = []instFamily{
	{"vrrp_state", gaugeType, "1 for the state the virtual router is in (initialize, backup, master, fault), 0 for the others.", func(o *metricsOut, s *snapshot, is *instSnap) {
		for _, st := range vrrpStates {
			o.gauge(b2f(is.Running && is.State == st.s), label{"state", st.name})
		}
	}},
	{"vrrp_priority", gaugeType, "Configured priority (RFC 8347 priority; 255: the address owner).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(float64(is.Base))
	}},
	{"vrrp_effective_priority", gaugeType, "Priority in use, after tracking adjusted the configured one.", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(float64(is.Priority))
	}},
	{"vrrp_is_owner", gaugeType, "1 if this router owns the virtual addresses (priority 255) (RFC 8347 is-owner).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(b2f(is.Base == 255))
	}},
	{"vrrp_last_adv_source", infoType, "Current master as this router knows it: its own primary address while master, the source of the last accepted advertisement otherwise (RFC 8347 last-adv-source).", func(o *metricsOut, s *snapshot, is *instSnap) {
		if is.Master.IsValid() {
			o.gauge(1, label{"last_adv_source", is.Master.String()})
		}
	}},
	{"vrrp_new_master_reason", infoType, "Why this router last became master (RFC 6527 vrrpv3StatisticsNewMasterReason: none, priority, preempted, masterNoResponse).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(1, label{"new_master_reason", is.Stats.NewMasterReason.String()})
	}},
	{"vrrp_last_event", infoType, "The last transition: its RFC 8347 vrrp-event-type identity, govrrp's reason and the states.", func(o *metricsOut, s *snapshot, is *instSnap) {
		if !is.Last.Time.IsZero() {
			o.gauge(1, label{"last_event", ietfEvent(is.Last.Reason)}, label{"reason", is.Last.Reason.String()},
				label{"from", stateLabel(is.Last.From)}, label{"to", stateLabel(is.Last.To)})
		}
	}},
	{"vrrp_last_transition_timestamp_seconds", gaugeType, "When the last transition happened, in seconds since the epoch.", func(o *metricsOut, s *snapshot, is *instSnap) {
		if !is.Last.Time.IsZero() {
			o.gauge(unixSeconds(is.Last.Time))
		}
	}},
	{"vrrp_seconds_since_last_transition", gaugeType, "Seconds since the last transition.", func(o *metricsOut, s *snapshot, is *instSnap) {
		if !is.Last.Time.IsZero() {
			o.gauge(max(s.Time.Sub(is.Last.Time).Seconds(), 0))
		}
	}},
	{"vrrp_up_timestamp_seconds", gaugeType, "When the virtual router last left the initialize state, in seconds since the epoch (RFC 8347 up-datetime).", func(o *metricsOut, s *snapshot, is *instSnap) {
		if !is.Up.IsZero() {
			o.gauge(unixSeconds(is.Up))
		}
	}},
	{"vrrp_discontinuity_timestamp_seconds", gaugeType, "When the virtual router's counters started, in seconds since the epoch (RFC 8347 statistics/discontinuity-datetime).", func(o *metricsOut, s *snapshot, is *instSnap) {
		if !is.Stats.DiscontinuityTime.IsZero() {
			o.gauge(unixSeconds(is.Stats.DiscontinuityTime))
		}
	}},
	{"vrrp_refresh_rate_seconds", gaugeType, "Advertisement interval in use: ours as master, the master's as backup, 0 in initialize and fault (RFC 6527 vrrpv3StatisticsRefreshRate).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(is.Stats.RefreshRate.Seconds())
	}},
	{"vrrp_advertise_interval_seconds", gaugeType, "Configured advertisement interval (RFC 8347 advertise-interval-centi-sec / -sec).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(is.Interval.Seconds())
	}},
	{"vrrp_interface_up", gaugeType, "1 if the virtual router's interface is up, 0 if down, -1 if not known yet.", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(trackValue(is.LinkStatus))
	}},
	{"vrrp_tracking_fault", gaugeType, "1 while the virtual router's own tracking (a tracked interface or script of weight 0) holds it in fault.", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(b2f(is.TrackFault))
	}},
	{"vrrp_track_interface_up", gaugeType, "Status of a tracked interface: 1 up, 0 down, -1 not known yet.", func(o *metricsOut, s *snapshot, is *instSnap) {
		for _, t := range is.TrackIfaces {
			o.gauge(trackValue(t.Status), label{"track_interface", t.Name})
		}
	}},
	{"vrrp_track_script_up", gaugeType, "Status of a tracked script: 1 succeeding, 0 failing, -1 no result yet.", func(o *metricsOut, s *snapshot, is *instSnap) {
		for _, t := range is.TrackScripts {
			o.gauge(trackValue(t.Status), label{"track_script", t.Name})
		}
	}},
	{"vrrp_track_file_value", gaugeType, "The number read from a tracked file (absent until read).", func(o *metricsOut, s *snapshot, is *instSnap) {
		for _, t := range is.TrackFiles {
			if t.Status != statusUnknown {
				o.gauge(float64(t.Value), label{"track_file", t.Name})
			}
		}
	}},
	{"vrrp_track_process_up", gaugeType, "Status of a tracked process: 1 quorum held, 0 not, -1 not known yet.", func(o *metricsOut, s *snapshot, is *instSnap) {
		for _, t := range is.TrackProcs {
			o.gauge(trackValue(t.Status), label{"track_process", t.Name})
		}
	}},
	{"vrrp_track_process_count", gaugeType, "Processes of a tracked process counted at the last scan.", func(o *metricsOut, s *snapshot, is *instSnap) {
		for _, t := range is.TrackProcs {
			if t.Status != statusUnknown {
				o.gauge(float64(t.Value), label{"track_process", t.Name})
			}
		}
	}},
	{"vrrp_master_transitions", counterType, "Transitions to master (RFC 8347 master-transitions).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.count(is.Stats.MasterTransitions)
	}},
	{"vrrp_transitions", counterType, "Transitions seen by vrrpd, by from and to state and reason (govrrp's vrrp.Reason); every transition, without loss.", func(o *metricsOut, s *snapshot, is *instSnap) {
		for _, c := range is.Transitions {
			k := c.key
			o.count(c.n, label{"from", stateLabel(k.From)}, label{"to", stateLabel(k.To)}, label{"reason", k.Reason.String()})
		}
	}},
	statFamily("vrrp_advertisement_rcvd", "Advertisements received and accepted for processing (RFC 8347 advertisement-rcvd).", func(st *vrrp.Stats) uint64 { return st.RcvdAdvertisements }),
	statFamily("vrrp_advertisement_sent", "Advertisements sent, priority 0 included (RFC 8347 advertisement-sent).", func(st *vrrp.Stats) uint64 { return st.SentAdvertisements }),
	statFamily("vrrp_priority_zero_pkts_rcvd", "Advertisements received with priority 0 (RFC 8347 priority-zero-pkts-rcvd).", func(st *vrrp.Stats) uint64 { return st.RcvdPriZeroPackets }),
	statFamily("vrrp_priority_zero_pkts_sent", "Advertisements sent with priority 0 (RFC 8347 priority-zero-pkts-sent).", func(st *vrrp.Stats) uint64 { return st.SentPriZeroPackets }),
	statFamily("vrrp_interval_errors", "Advertisements whose interval differs from ours or is 0 (RFC 8347 interval-errors).", func(st *vrrp.Stats) uint64 { return st.AdvIntervalErrors }),
	statFamily("vrrp_invalid_type_pkts_rcvd", "Packets whose type is not ADVERTISEMENT (RFC 8347 invalid-type-pkts-rcvd).", func(st *vrrp.Stats) uint64 { return st.RcvdInvalidTypePackets }),
	statFamily("vrrp_address_list_errors", "Advertisements whose address list differs from ours or is empty (RFC 8347 address-list-errors).", func(st *vrrp.Stats) uint64 { return st.AddressListErrors }),
	statFamily("vrrp_packet_length_errors", "Packets too short for what they claim, or of another address family (RFC 8347 packet-length-errors).", func(st *vrrp.Stats) uint64 { return st.PacketLengthErrors }),
	statFamily("vrrp_instance_ip_ttl_errors", "Advertisements for this virtual router with a TTL / hop limit other than 255 (RFC 6527 vrrpv3StatisticsIpTtlErrors).", func(st *vrrp.Stats) uint64 { return st.IPTTLErrors }),
	statFamily("vrrp_auth_errors", "VRRPv2 advertisements dropped for their authentication type or data (RFC 2787).", func(st *vrrp.Stats) uint64 { return st.AuthErrors }),
	statFamily("vrrp_owner_advertisement_rcvd", "Advertisements the address owner received.", func(st *vrrp.Stats) uint64 { return st.OwnerRcvdAdvertisements }),
	statFamily("vrrp_no_link_local_first", "IPv6 advertisements whose first address is not link-local (processed, as keepalived sends them).", func(st *vrrp.Stats) uint64 { return st.NoLinkLocalFirst }),
	{"vrrp_advertisement_rcvd_checksum_form", counterType, "Accepted VRRPv3 IPv4 advertisements by checksum form: pseudo-header (RFC 5798, keepalived, FRR) or message (RFC 9568 section 5.2.8).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.count(is.Stats.RcvdChecksumPseudo, label{"checksum", "pseudo-header"})
		o.count(is.Stats.RcvdChecksumMessage, label{"checksum", "message"})
	}},
	{"vrrp_protocol_error_reason", infoType, "The last protocol error (RFC 6527 vrrpv3StatisticsProtoErrReason).", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.gauge(1, label{"protocol_error_reason", is.Stats.ProtoErrReason.String()})
	}},
	{"vrrp_second_responder", gaugeType, "1 while a MAC that is not this router's answers the master's probes for the virtual address (a host still holding it, another cluster), 0 otherwise; only with probing on (probe_interval).", func(o *metricsOut, s *snapshot, is *instSnap) {
		if !is.Probe.On {
			return
		}
		for _, p := range is.VIPs {
			a := p.Addr().String()
			alarmed := slices.ContainsFunc(is.Probe.Alarms, func(al SecondResponder) bool { return al.Address == a })
			o.gauge(b2f(alarmed), label{"address", a})
		}
	}},
	probeFamily("vrrp_second_responder_episodes", "Second-responder alarms raised (each is logged once, with the address and the MAC).", func(ps *ProbeStatus) uint64 { return ps.Episodes }),
	probeFamily("vrrp_second_responder_answers", "Answers to the master's probes from MACs that are not this router's.", func(ps *ProbeStatus) uint64 { return ps.Answers }),
	probeFamily("vrrp_address_probes_sent", "ARP probes and Neighbor Solicitations the master sent for its virtual addresses.", func(ps *ProbeStatus) uint64 { return ps.Sent }),
	probeFamily("vrrp_address_probe_send_errors", "Probes that could not be sent.", func(ps *ProbeStatus) uint64 { return ps.SendErrors }),
	{"vrrp_second_master", counterType, "Advertisements of this VRID heard from another router while master (two masters: a split brain, or a preemption); the first of each episode is logged with the source.", func(o *metricsOut, s *snapshot, is *instSnap) {
		o.count(is.Stats.SecondMaster)
	}},
}

// statFamily is a counter family of one of the instances' vrrp.Stats.
func statFamily(name, help string, f func(*vrrp.Stats) uint64) instFamily {
	return instFamily{name, counterType, help, func(o *metricsOut, s *snapshot, is *instSnap) { o.count(f(&is.Stats)) }}
}

// probeFamily is a counter family of the instances' probing, for those
// that probe.
func probeFamily(name, help string, f func(*ProbeStatus) uint64) instFamily {
	return instFamily{name, counterType, help, func(o *metricsOut, s *snapshot, is *instSnap) {
		if is.Probe.On {
			o.count(f(&is.Probe.Status))
		}
	}}
}

// emitMetrics puts the samples of s into o, family by family, in
// metricFamilies' order.
func emitMetrics(o *metricsOut, s *snapshot) {
	for _, f := range instanceFamilies {
		o.family(f.name, f.typ, f.help)
		for i := range s.Instances {
			o.is = &s.Instances[i]
			f.emit(o, s, o.is)
		}
	}

	// The Router's bounded table of discarded advertisements: at most
	// vrrp.DiscardTableLen series each, so the cardinality stays bounded.
	// A row evicted for a new source disappears; if it comes back its
	// counter starts again (a counter reset to Prometheus).
	discardLabels := func(d *vrrp.Discard) string {
		return joinLabels(label{"vrrp_instance", d.Name}, label{"interface", d.Interface}, label{"vrid", strconv.Itoa(int(d.VRID))},
			label{"source", d.Src.String()}, label{"reason", d.Reason})
	}
	o.family("vrrp_discarded_advertisements", counterType, "Advertisements dropped, by source address and reason (ttl, checksum, addressListMismatch, authentication, ...), for the top sources only (a bounded table: the sources with the largest counts and the most recent).")
	for i := range s.Discards {
		o.base = discardLabels(&s.Discards[i])
		o.count(s.Discards[i].Count)
	}
	o.family("vrrp_discarded_advertisement_last_seen_timestamp_seconds", gaugeType, "When the last advertisement of that source was dropped for that reason, in seconds since the epoch.")
	for i := range s.Discards {
		o.base = discardLabels(&s.Discards[i])
		o.gauge(unixSeconds(s.Discards[i].Last))
	}

	rs := s.Router
	gauge := func(name, help string, v float64) {
		o.family(name, gaugeType, help)
		o.gauge(v)
	}
	count := func(name, help string, n uint64) {
		o.family(name, counterType, help)
		o.count(n)
	}
	gauge("vrrp_virtual_routers", "Virtual routers configured (RFC 8347 virtual-routers).", float64(len(s.Instances)))
	ifaces := make(map[string]struct{})
	for i := range s.Instances {
		ifaces[s.Instances[i].Interface] = struct{}{}
	}
	gauge("vrrp_interfaces", "Interfaces with VRRP configured (RFC 8347 interfaces).", float64(len(ifaces)))
	gauge("vrrp_global_discontinuity_timestamp_seconds", "When the router-wide counters started: vrrpd's start, in seconds since the epoch (RFC 8347 statistics/discontinuity-datetime).", unixSeconds(s.Started))
	count("vrrp_checksum_errors", "Packets received with an invalid checksum (RFC 8347 checksum-errors).", rs.ChecksumErrors)
	count("vrrp_version_errors", "Packets received with an unknown or unsupported version (RFC 8347 version-errors).", rs.VersionErrors)
	count("vrrp_vrid_errors", "Packets received for a VRID no virtual router here has (RFC 8347 vrid-errors).", rs.VRIDErrors)
	count("vrrp_ip_ttl_errors", "Packets of a known virtual router dropped on arrival for a TTL / hop limit other than 255 (RFC 8347 ip-ttl-errors).", rs.TTLErrors)
	count("vrrp_router_short_packets", "Packets too short to carry a version and VRID, or without a valid source address.", rs.ShortPackets)
	count("vrrp_router_packets_rcvd", "Packets handed to a virtual router.", rs.Received)
	count("vrrp_router_advertisements_sent", "Advertisements written without error, all virtual routers.", rs.Sent)
	count("vrrp_router_send_errors", "Advertisements that could not be sent.", rs.SendErrors)
	count("vrrp_router_read_errors", "Transport read errors.", rs.ReadErrors)
	count("vrrp_router_queue_drops", "Packets the receive sockets dropped while their queues were full: this host fell behind its sockets, not the network.", rs.QueueDrops)
	count("vrrp_router_loss_holds", "Master_Down_Timers restarted instead of firing because a receive socket dropped packets during the silence that would have fired them.", rs.LossHolds)
	count("vrrp_router_events_dropped", "Events the Router's lossy Events channel dropped; vrrpd takes transitions from its hook without loss and reads no events, so 0.", rs.EventsDropped)
	gauge("vrrpd_notify_queue_length", "Notify commands waiting to run.", float64(s.NotifyQueue))
	count("vrrpd_notify_failures", "Notify commands that failed or timed out.", s.NotifyFailed)
	count("vrrpd_notify_dropped", "Notify commands dropped because the queue was full (beyond its cap; each virtual router's latest state is kept).", s.NotifyDropped)
	if s.FIFO != nil {
		count("vrrpd_notify_fifo_lines_written", "Lines written to the notify FIFO.", s.FIFO.Written)
		count("vrrpd_notify_fifo_lines_dropped", "Lines the notify FIFO dropped: its queue was full (nothing reading), or they were left when it closed.", s.FIFO.Dropped)
	}
	if s.Probing {
		count("vrrpd_probe_frames_malformed", "ARP replies and Neighbor Advertisements the second-responder prober dropped as malformed.", s.ProbeDropped)
	}
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
