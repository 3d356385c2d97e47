package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// GET /ietf-vrrp: the operational state and statistics of every virtual
// router as an RFC 7951 JSON instance of the RFC 8347 model: the
// interfaces that run VRRP (ietf-interfaces, RFC 8343) with their
// ietf-ip:ipv4 / ietf-ip:ipv6 containers (RFC 8344) holding the
// ietf-vrrp:vrrp/vrrp-instance lists, and the global ietf-vrrp:vrrp
// container. It validates with yanglint against the published modules
// (testdata/yang; METRICS.md beside this file has the command). It uses
// the features ietf-interfaces:if-mib (admin-status, if-index),
// ietf-vrrp:validate-interval-errors and
// ietf-vrrp:validate-address-list-errors, which vrrpd implements
// (yanglint enables every feature unless told otherwise).
//
// RFC 7951 encodings: 64-bit counters are JSON strings, 32-bit numbers
// are numbers; identities carry their module's name
// ("ietf-vrrp:master"), enumerations do not ("priority").
//
// Where govrrp and the model differ:
//   - FAULT (interface down, tracking) has no vrrp-state-type: it is
//     reported as ietf-vrrp:initialize, as RFC 9568 puts a router whose
//     interface is down in Initialize.
//   - priority ranges 1..254 in the model: the address owner (255) has
//     no priority leaf but is-owner true.
//   - The interface's type is iana-if-type:ethernetCsmacd (VRRP runs on
//     Ethernet-like links); its oper-status is up or down as vrrpd knows
//     it (unknown before the first look).
//   - Tracking (RFC 8347 track) is left out: vrrpd's weights add as well
//     as subtract, and a weight of 0 means fault, which priority-decrement
//     cannot say.

// ietfDoc is the whole document.
type ietfDoc struct {
	Interfaces ietfInterfaces `json:"ietf-interfaces:interfaces"`
	VRRP       ietfGlobal     `json:"ietf-vrrp:vrrp"`
}

type ietfInterfaces struct {
	Interface []ietfInterface `json:"interface"`
}

type ietfInterface struct {
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	AdminStatus string        `json:"admin-status"`
	OperStatus  string        `json:"oper-status"`
	IfIndex     int32         `json:"if-index"`
	Statistics  ietfIfStats   `json:"statistics"`
	IPv4        *ietfIPFamily `json:"ietf-ip:ipv4,omitempty"`
	IPv6        *ietfIPFamily `json:"ietf-ip:ipv6,omitempty"`
}

type ietfIfStats struct {
	DiscontinuityTime string `json:"discontinuity-time"`
}

type ietfIPFamily struct {
	VRRP ietfVRRPList `json:"ietf-vrrp:vrrp"`
}

type ietfVRRPList struct {
	Instance []ietfInstance `json:"vrrp-instance"`
}

type ietfPreempt struct {
	Enabled  bool   `json:"enabled"`
	HoldTime uint16 `json:"hold-time"`
}

type ietfVIP4 struct {
	Address string `json:"ipv4-address"`
}

type ietfVIP6 struct {
	Address string `json:"ipv6-address"`
}

type ietfVIPs4 struct {
	List []ietfVIP4 `json:"virtual-ipv4-address"`
}

type ietfVIPs6 struct {
	List []ietfVIP6 `json:"virtual-ipv6-address"`
}

// ietfInstance is one vrrp-instance: vrrp-ipv4-attributes or
// vrrp-ipv6-attributes, and vrrp-state-attributes.
type ietfInstance struct {
	VRID       uint8       `json:"vrid"`
	Version    string      `json:"version"`
	Preempt    ietfPreempt `json:"preempt"`
	Priority   *uint8      `json:"priority,omitempty"`
	AcceptMode *bool       `json:"accept-mode,omitempty"`
	// advertise-interval-sec (VRRPv2) or advertise-interval-centi-sec
	// (VRRPv3).
	IntervalSec      *uint8     `json:"advertise-interval-sec,omitempty"`
	IntervalCentiSec *uint16    `json:"advertise-interval-centi-sec,omitempty"`
	VIPs4            *ietfVIPs4 `json:"virtual-ipv4-addresses,omitempty"`
	VIPs6            *ietfVIPs6 `json:"virtual-ipv6-addresses,omitempty"`

	State              string        `json:"state"`
	IsOwner            bool          `json:"is-owner"`
	LastAdvSource      string        `json:"last-adv-source,omitempty"`
	UpDatetime         string        `json:"up-datetime,omitempty"`
	MasterDownInterval uint32        `json:"master-down-interval"`
	SkewTime           uint32        `json:"skew-time"`
	LastEvent          string        `json:"last-event"`
	NewMasterReason    string        `json:"new-master-reason"`
	Statistics         ietfInstStats `json:"statistics"`
}

// ietfInstStats is vrrp-state-attributes/statistics: counter64 leaves
// are strings (RFC 7951 section 6.1), master-transitions (counter32) a
// number.
type ietfInstStats struct {
	DiscontinuityDatetime string `json:"discontinuity-datetime,omitempty"`
	MasterTransitions     uint32 `json:"master-transitions"`
	AdvertisementRcvd     string `json:"advertisement-rcvd"`
	AdvertisementSent     string `json:"advertisement-sent"`
	IntervalErrors        string `json:"interval-errors"`
	PriorityZeroRcvd      string `json:"priority-zero-pkts-rcvd"`
	PriorityZeroSent      string `json:"priority-zero-pkts-sent"`
	InvalidTypeRcvd       string `json:"invalid-type-pkts-rcvd"`
	AddressListErrors     string `json:"address-list-errors"`
	PacketLengthErrors    string `json:"packet-length-errors"`
}

// ietfGlobal is the top-level ietf-vrrp:vrrp container.
type ietfGlobal struct {
	VirtualRouters uint32          `json:"virtual-routers"`
	Interfaces     uint32          `json:"interfaces"`
	Statistics     ietfGlobalStats `json:"statistics"`
}

type ietfGlobalStats struct {
	DiscontinuityDatetime string `json:"discontinuity-datetime"`
	ChecksumErrors        string `json:"checksum-errors"`
	VersionErrors         string `json:"version-errors"`
	VRIDErrors            string `json:"vrid-errors"`
	IPTTLErrors           string `json:"ip-ttl-errors"`
}

// contentTypeYANG is the media type of the /ietf-vrrp document (RFC 8040
// section 11.3.2).
const contentTypeYANG = "application/yang-data+json"

// writeIETFSnapshot writes s as RFC 8347 JSON, one interface at a time.
func writeIETFSnapshot(w io.Writer, s snapshot) error {
	iw := ietfWriter{w: w, el: elemWriter{prefix: "      "}}
	// The interfaces in the order of their first instance.
	var ifaces []string
	byIf := map[string][]int{}
	for i, is := range s.Instances {
		if _, ok := byIf[is.Interface]; !ok {
			ifaces = append(ifaces, is.Interface)
		}
		byIf[is.Interface] = append(byIf[is.Interface], i)
	}
	var ins []instSnap
	for _, name := range ifaces {
		ins = ins[:0]
		for _, i := range byIf[name] {
			ins = append(ins, s.Instances[i])
		}
		if err := iw.iface(s.Started, ins); err != nil {
			return err
		}
	}
	return iw.finish(s.Started, s.Router)
}

// serveIETF writes the daemon's /ietf-vrrp document as it reads it, one
// interface at a time: what it holds is one interface's instances and
// their encoding, not the whole document nor a snapshot of every
// instance (issue 12: 0.7 kB per instance, 3 MB at 4,094, held while
// the document was written; TestIETFReadHoldsLittle). Each interface's instances are read
// together, as snapshot reads them; an instance removed meanwhile is left
// out, one added meanwhile too.
func (d *daemon) serveIETF(w io.Writer) error {
	bw := bufio.NewWriterSize(w, statusWriteBuffer)
	if err := d.writeIETF(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// writeIETF writes the daemon's /ietf-vrrp document (serveIETF).
func (d *daemon) writeIETF(w io.Writer) error {
	d.mu.Lock()
	// The interfaces in the order of their first instance, and the
	// instances on each: names only.
	var ifaces []string
	byIf := map[string][]string{}
	for _, name := range d.order {
		ifname := d.vrs[name].in.Interface
		if _, ok := byIf[ifname]; !ok {
			ifaces = append(ifaces, ifname)
		}
		byIf[ifname] = append(byIf[ifname], name)
	}
	weights := d.scriptWeightsLocked()
	d.obs.prune(d.order)
	d.mu.Unlock()
	rs := d.router.RouterStats()
	iw := ietfWriter{w: w, el: elemWriter{prefix: "      "}}
	for _, ifname := range ifaces {
		if ins := d.instSnaps(byIf[ifname], weights); len(ins) > 0 {
			if err := iw.iface(processStart, ins); err != nil {
				return err
			}
		}
	}
	return iw.finish(processStart, rs)
}

// ietfHead is how the indented ietfDoc begins with no interface.
const ietfHead = "{\n  \"ietf-interfaces:interfaces\": {\n    \"interface\": []"

// errIETFLayout: the document's encoding does not begin with its
// interfaces (ietfHead), which ietfWriter relies on.
var errIETFLayout = errors.New("ietf-vrrp document: the interface list is not its first member")

// ietfWriter writes the /ietf-vrrp document, byte for byte as
// json.MarshalIndent with "", "  " (and a newline) of the whole
// document (ietfDocument), given the instances one interface at a time
// (iface), then the Router's counters (finish): it holds one interface's
// part, never the whole document.
type ietfWriter struct {
	w        io.Writer
	el       elemWriter
	vrs, ifs int
}

// iface writes the interface of the instances ins (all on one
// interface, in the configuration's order); started is the counters'
// discontinuity time.
func (iw *ietfWriter) iface(started time.Time, ins []instSnap) error {
	doc := ietfDocument(snapshot{Started: started, Instances: ins})
	for i := range doc.Interfaces.Interface {
		if iw.el.n == 0 {
			if _, err := io.WriteString(iw.w, ietfHead[:len(ietfHead)-1]); err != nil {
				return err
			}
		}
		if err := iw.el.write(iw.w, &doc.Interfaces.Interface[i]); err != nil {
			return err
		}
		iw.ifs++
	}
	iw.vrs += len(ins)
	return nil
}

// finish writes the end of the interface list and the global
// ietf-vrrp:vrrp container.
func (iw *ietfWriter) finish(started time.Time, rs vrrp.RouterStats) error {
	doc := ietfDocument(snapshot{Started: started, Router: rs})
	doc.VRRP.VirtualRouters, doc.VRRP.Interfaces = uint32(iw.vrs), uint32(iw.ifs)
	head, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	head = append(head, '\n')
	if !bytes.HasPrefix(head, []byte(ietfHead)) {
		return errIETFLayout
	}
	if iw.el.n == 0 {
		_, err := iw.w.Write(head)
		return err
	}
	if _, err := io.WriteString(iw.w, "\n    ]"); err != nil {
		return err
	}
	_, err = iw.w.Write(head[len(ietfHead):])
	return err
}

// yangTime is a yang:date-and-time (RFC 3339, UTC).
func yangTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func c64(n uint64) string { return strconv.FormatUint(n, 10) }

// ietfState is the vrrp-state-type identity of s.
func ietfState(s vrrp.State) string {
	switch s {
	case vrrp.Backup:
		return "ietf-vrrp:backup"
	case vrrp.Master:
		return "ietf-vrrp:master"
	}
	return "ietf-vrrp:initialize" // Initialize, Fault
}

// ietfNewMasterReason is the new-master-reason-type enum of r.
func ietfNewMasterReason(r vrrp.Reason) string {
	switch r {
	case vrrp.ReasonPriority:
		return "priority"
	case vrrp.ReasonPreempted:
		return "preempted"
	case vrrp.ReasonMasterNoResponse:
		return "no-response"
	}
	return "not-master"
}

// ietfDocument builds the document of s.
func ietfDocument(s snapshot) ietfDoc {
	doc := ietfDoc{Interfaces: ietfInterfaces{Interface: []ietfInterface{}}}
	byName := map[string]int{}
	for _, is := range s.Instances {
		i, ok := byName[is.Interface]
		if !ok {
			oper := "unknown"
			switch is.LinkStatus {
			case statusUp:
				oper = "up"
			case statusDown:
				oper = "down"
			}
			i = len(doc.Interfaces.Interface)
			byName[is.Interface] = i
			doc.Interfaces.Interface = append(doc.Interfaces.Interface, ietfInterface{
				Name:        is.Interface,
				Type:        "iana-if-type:ethernetCsmacd",
				AdminStatus: "up",
				OperStatus:  oper,
				IfIndex:     int32(max(is.IfIndex, 1)),
				Statistics:  ietfIfStats{DiscontinuityTime: yangTime(s.Started)},
			})
		}
		itf := &doc.Interfaces.Interface[i]
		fam := &itf.IPv4
		if is.Family == vrrp.IPv6 {
			fam = &itf.IPv6
		}
		if *fam == nil {
			*fam = &ietfIPFamily{}
		}
		(*fam).VRRP.Instance = append((*fam).VRRP.Instance, ietfInstanceOf(is))
	}
	for i := range doc.Interfaces.Interface {
		for _, f := range []*ietfIPFamily{doc.Interfaces.Interface[i].IPv4, doc.Interfaces.Interface[i].IPv6} {
			if f != nil {
				// The list's key is vrid.
				slices.SortFunc(f.VRRP.Instance, func(a, b ietfInstance) int { return int(a.VRID) - int(b.VRID) })
			}
		}
	}
	rs := s.Router
	doc.VRRP = ietfGlobal{
		VirtualRouters: uint32(len(s.Instances)),
		Interfaces:     uint32(len(doc.Interfaces.Interface)),
		Statistics: ietfGlobalStats{
			DiscontinuityDatetime: yangTime(s.Started),
			ChecksumErrors:        c64(rs.ChecksumErrors),
			VersionErrors:         c64(rs.VersionErrors),
			VRIDErrors:            c64(rs.VRIDErrors),
			IPTTLErrors:           c64(rs.TTLErrors),
		},
	}
	return doc
}

// ietfInstanceOf is one virtual router's vrrp-instance.
func ietfInstanceOf(is instSnap) ietfInstance {
	st := is.Stats
	in := ietfInstance{
		VRID:            is.VRID,
		Version:         "ietf-vrrp:vrrp-v3",
		Preempt:         ietfPreempt{Enabled: !is.NoPreempt, HoldTime: uint16(min(is.PreemptDelay/time.Second, 65535))},
		State:           ietfState(is.State),
		IsOwner:         is.Base == 255,
		UpDatetime:      yangTime(is.Up),
		LastEvent:       "ietf-vrrp:vrrp-event-none",
		NewMasterReason: ietfNewMasterReason(st.NewMasterReason),
		Statistics: ietfInstStats{
			DiscontinuityDatetime: yangTime(st.DiscontinuityTime),
			MasterTransitions:     uint32(st.MasterTransitions),
			AdvertisementRcvd:     c64(st.RcvdAdvertisements),
			AdvertisementSent:     c64(st.SentAdvertisements),
			IntervalErrors:        c64(st.AdvIntervalErrors),
			PriorityZeroRcvd:      c64(st.RcvdPriZeroPackets),
			PriorityZeroSent:      c64(st.SentPriZeroPackets),
			InvalidTypeRcvd:       c64(st.RcvdInvalidTypePackets),
			AddressListErrors:     c64(st.AddressListErrors),
			PacketLengthErrors:    c64(st.PacketLengthErrors),
		},
	}
	if !is.Running {
		in.State = "ietf-vrrp:initialize"
	}
	if is.Base != 255 {
		p := min(max(is.Base, 1), 254)
		in.Priority = &p
	}
	if is.Master.IsValid() {
		in.LastAdvSource = is.Master.String()
	}
	if !is.Last.Time.IsZero() {
		in.LastEvent = "ietf-vrrp:" + ietfEvent(is.Last.Reason)
	}
	// Master_Down_Interval and Skew_Time from the interval in use (the
	// master's, learned, as backup) and the effective priority: RFC 9568
	// section 6.1; VRRPv2: RFC 3768 section 6.1, Skew_Time in seconds
	// whatever the interval.
	adv := is.Interval
	if st.RefreshRate > 0 {
		adv = st.RefreshRate
	}
	skew := time.Duration(256-int(is.Priority)) * adv / 256
	if is.Version == 2 {
		in.Version = "ietf-vrrp:vrrp-v2"
		skew = time.Duration(256-int(is.Priority)) * time.Second / 256
		sec := uint8(min(max(is.Interval/time.Second, 1), 254))
		in.IntervalSec = &sec
	} else {
		cs := uint16(min(max(is.Interval/(10*time.Millisecond), 1), 4095))
		in.IntervalCentiSec = &cs
		acc := is.Accept
		in.AcceptMode = &acc
	}
	in.SkewTime = uint32(skew / time.Microsecond)
	in.MasterDownInterval = uint32((3*adv + skew) / (10 * time.Millisecond))
	if is.Family == vrrp.IPv4 {
		in.VIPs4 = &ietfVIPs4{List: []ietfVIP4{}}
		for _, p := range is.VIPs {
			in.VIPs4.List = append(in.VIPs4.List, ietfVIP4{Address: p.Addr().String()})
		}
	} else {
		in.VIPs6 = &ietfVIPs6{List: []ietfVIP6{}}
		for _, p := range is.VIPs {
			in.VIPs6.List = append(in.VIPs6.List, ietfVIP6{Address: p.Addr().String()})
		}
	}
	return in
}
