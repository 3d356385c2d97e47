package main

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/govrrp/govrrp/packet"
)

var (
	handoverPcap = filepath.Join("..", "..", "testdata", "captures", "keepalived-v2-v3-ipv4-ipv6-handover.pcap")
	failoverPcap = filepath.Join("..", "..", "testdata", "captures", "keepalived-v3-ipv4-10ms-crash-failover.pcap")
	pcapngDir    = filepath.Join("..", "..", "internal", "pcap", "testdata")
)

func dumpOK(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := dump(t, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("vrrpdump %v: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// TestPcapng dumps the pcapng files tshark's tools wrote from the pcap
// captures (internal/pcap/testdata) and compares with the dump of the
// pcap: the same output, with -v and -summary too. The live dumpcap
// capture of the replayed frames has other times and its two interfaces'
// frames in batches: the same lines but for the time, and tshark agrees
// with every line (checkTsharkVerbose, which also checks the checksum
// verdicts, since checkTshark needs microsecond times).
func TestPcapng(t *testing.T) {
	for _, tt := range []struct{ pcap, pcapng string }{
		{handoverPcap, "handover-editcap.pcapng"},
		{handoverPcap, "handover-nsec-editcap.pcapng"},
		{failoverPcap, "failover-editcap.pcapng"},
	} {
		for _, args := range [][]string{nil, {"-v", "-summary"}} {
			want := dumpOK(t, append(args, "-r", tt.pcap)...)
			got := dumpOK(t, append(args, "-r", filepath.Join(pcapngDir, tt.pcapng))...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %v (-pcap +pcapng):\n%s", tt.pcapng, args, diff)
			}
		}
	}

	live := filepath.Join(pcapngDir, "handover-dumpcap.pcapng")
	untimed := func(out string) []string {
		var ls []string
		for _, l := range splitLines(out) {
			_, rest, _ := strings.Cut(l, " ")
			ls = append(ls, rest)
		}
		slices.Sort(ls)
		return ls
	}
	want := dumpOK(t, "-v", "-r", handoverPcap)
	got := dumpOK(t, "-v", "-r", live)
	if diff := cmp.Diff(untimed(want), untimed(got)); diff != "" {
		t.Errorf("dumpcap capture, lines without their time (-pcap +pcapng):\n%s", diff)
	}

	requireTshark(t)
	checkTsharkVerbose(t, handoverPcap, splitLines(want))
	checkTsharkVerbose(t, live, splitLines(got))
}

// TestCountAndVRID checks -c and -vrid, alone and together, with -v and
// with -summary.
func TestCountAndVRID(t *testing.T) {
	all := splitLines(dumpOK(t, "-r", handoverPcap))
	if got := splitLines(dumpOK(t, "-c", "2", "-r", handoverPcap)); !slices.Equal(got, all[:2]) {
		t.Errorf("-c 2: %q, want the first two lines", got)
	}
	if got := splitLines(dumpOK(t, "-c", "100", "-r", handoverPcap)); !slices.Equal(got, all) {
		t.Errorf("-c 100: %d lines, want all %d", len(got), len(all))
	}
	var vr52 []string
	for _, l := range all {
		if strings.Contains(l, " vrid=52 ") {
			vr52 = append(vr52, l)
		}
	}
	if len(vr52) != 9 {
		t.Fatalf("%d lines of VRID 52, want 9", len(vr52))
	}
	if got := splitLines(dumpOK(t, "-vrid", "52", "-r", handoverPcap)); !slices.Equal(got, vr52) {
		t.Errorf("-vrid 52 (-want +got):\n%s", cmp.Diff(vr52, got))
	}

	// -v -vrid 52 -c 3: three VRRP lines of VRID 52 and the NAs for
	// fd99::100, which VRID 52 advertises, after the first of them; no
	// gratuitous ARP (other virtual routers' addresses).
	var vrrp, nas int
	for _, l := range splitLines(dumpOK(t, "-v", "-vrid", "52", "-c", "3", "-r", handoverPcap)) {
		f := vfields(t, l)
		switch f["kind"] {
		case "vrrp":
			vrrp++
			if f["vrid"] != "52" {
				t.Errorf("line %q: not VRID 52", l)
			}
		case "na":
			nas++
			if vrrp == 0 || f["addr"] != "fd99::100" {
				t.Errorf("line %q before VRID 52 advertised fd99::100", l)
			}
		default:
			t.Errorf("line %q: not of VRID 52", l)
		}
	}
	if vrrp != 3 || nas != 4 {
		t.Errorf("%d VRRP lines and %d NA lines, want 3 and 4", vrrp, nas)
	}

	// The summary covers the packets shown.
	got := splitLines(dumpOK(t, "-vrid", "53", "-c", "5", "-summary", "-q", "-r", handoverPcap))
	if len(got) == 0 || !strings.HasPrefix(got[0], "summary vrid=53 family=ipv4 adverts=5 prio0=1 invalid=0 sources=2 masters=2 ") {
		t.Errorf("-vrid 53 -c 5 -summary -q: %q", got)
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "summary vrid=53 ") {
			t.Errorf("line %q: not a summary of VRID 53", l)
		}
	}

	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-vrid", "256", "-r", handoverPcap}, "-vrid 256 out of range: want 1-255, or 0 for all"},
		{[]string{"-vrid", "-1", "-r", handoverPcap}, "-vrid -1 out of range"},
		{[]string{"-c", "-1", "-r", handoverPcap}, "-c -1 out of range"},
		{[]string{"-c", "x", "-r", handoverPcap}, "invalid value"},
	} {
		out, errOut, code := dump(t, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.stderr)
		}
	}
}

// TestSummaryCaptures checks the summary of the two keepalived captures:
// the master terms, the largest gap (in the crash failover, the backup's
// Master_Down_Interval: 3 intervals of 10 ms and the skew time), the
// counts per source (tshark -Y vrrp counts the same).
func TestSummaryCaptures(t *testing.T) {
	got := dumpOK(t, "-summary", "-q", "-r", failoverPcap)
	want := `summary vrid=61 family=ipv4 adverts=193 prio0=0 invalid=0 sources=2 masters=2 maxgap=36.788ms gapfrom=2026-11-25T17:44:32.311668Z gapto=2026-11-25T17:44:32.348456Z
summary vrid=61 family=ipv4 source=10.99.0.1 adverts=99 prio0=0 first=2026-11-25T17:44:31.317649Z last=2026-11-25T17:44:32.311668Z
summary vrid=61 family=ipv4 source=10.99.0.2 adverts=94 prio0=0 first=2026-11-25T17:44:32.348456Z last=2026-11-25T17:44:33.290913Z
summary vrid=61 family=ipv4 master=10.99.0.1 from=2026-11-25T17:44:31.317649Z to=2026-11-25T17:44:32.311668Z adverts=99 end=taken
summary vrid=61 family=ipv4 master=10.99.0.2 from=2026-11-25T17:44:32.348456Z to=2026-11-25T17:44:33.290913Z adverts=94 end=capture-end
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failover summary (-want +got):\n%s", diff)
	}

	got = dumpOK(t, "-summary", "-q", "-r", handoverPcap)
	want = `summary vrid=51 family=ipv4 adverts=9 prio0=2 invalid=0 sources=2 masters=2 maxgap=1.003527s gapfrom=2026-11-25T17:43:28.894736Z gapto=2026-11-25T17:43:29.898263Z
summary vrid=51 family=ipv4 source=10.99.0.1 adverts=4 prio0=1 first=2026-11-25T17:43:25.709356Z last=2026-11-25T17:43:28.284296Z
summary vrid=51 family=ipv4 source=10.99.0.2 adverts=5 prio0=1 first=2026-11-25T17:43:28.894736Z last=2026-11-25T17:43:32.295610Z
summary vrid=51 family=ipv4 master=10.99.0.1 from=2026-11-25T17:43:25.709356Z to=2026-11-25T17:43:28.284296Z adverts=4 end=prio0
summary vrid=51 family=ipv4 master=10.99.0.2 from=2026-11-25T17:43:28.894736Z to=2026-11-25T17:43:32.295610Z adverts=5 end=prio0
summary vrid=53 family=ipv4 adverts=9 prio0=2 invalid=0 sources=2 masters=2 maxgap=1.005667s gapfrom=2026-11-25T17:43:28.899548Z gapto=2026-11-25T17:43:29.905215Z
summary vrid=53 family=ipv4 source=10.99.0.1 adverts=4 prio0=1 first=2026-11-25T17:43:25.710087Z last=2026-11-25T17:43:28.284671Z
summary vrid=53 family=ipv4 source=10.99.0.2 adverts=5 prio0=1 first=2026-11-25T17:43:28.899548Z last=2026-11-25T17:43:32.300179Z
summary vrid=53 family=ipv4 master=10.99.0.1 from=2026-11-25T17:43:25.710087Z to=2026-11-25T17:43:28.284671Z adverts=4 end=prio0
summary vrid=53 family=ipv4 master=10.99.0.2 from=2026-11-25T17:43:28.899548Z to=2026-11-25T17:43:32.300179Z adverts=5 end=prio0
summary vrid=52 family=ipv6 adverts=9 prio0=2 invalid=0 sources=2 masters=2 maxgap=1.007208s gapfrom=2026-11-25T17:43:28.897982Z gapto=2026-11-25T17:43:29.905190Z
summary vrid=52 family=ipv6 source=fe80::ff:fe00:1 adverts=4 prio0=1 first=2026-11-25T17:43:25.709751Z last=2026-11-25T17:43:28.284537Z
summary vrid=52 family=ipv6 source=fe80::ff:fe00:2 adverts=5 prio0=1 first=2026-11-25T17:43:28.897982Z last=2026-11-25T17:43:32.297974Z
summary vrid=52 family=ipv6 master=fe80::ff:fe00:1 from=2026-11-25T17:43:25.709751Z to=2026-11-25T17:43:28.284537Z adverts=4 end=prio0
summary vrid=52 family=ipv6 master=fe80::ff:fe00:2 from=2026-11-25T17:43:28.897982Z to=2026-11-25T17:43:32.297974Z adverts=5 end=prio0
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("handover summary (-want +got):\n%s", diff)
	}
	// tshark counts the same advertisements per source and finds the
	// same largest gaps.
	requireTshark(t)
	for _, path := range []string{handoverPcap, failoverPcap} {
		checkSummaryTshark(t, path, dumpOK(t, "-summary", "-q", "-r", path))
	}

	// Without -q the packet lines come first, unchanged.
	withLines := dumpOK(t, "-summary", "-r", handoverPcap)
	if plain := dumpOK(t, "-r", handoverPcap); withLines != plain+want {
		t.Errorf("-summary without -q: not the packet lines then the summary:\n%s", withLines)
	}
}

// checkSummaryTshark recomputes from tshark's decode of the capture at
// path (every frame there is a valid advertisement) the adverts and prio0
// of each source and the largest gap of each virtual router, and compares
// them with the summary.
func checkSummaryTshark(t *testing.T, path, summary string) {
	t.Helper()
	rows := tsharkRows(t, path, []string{"-Y", "vrrp"}, []string{"ip.src", "ipv6.src", "vrrp.virt_rtr_id", "vrrp.prio"})
	var times []time.Time
	for at := range rows {
		times = append(times, at)
	}
	slices.SortFunc(times, time.Time.Compare)
	want := map[string]string{}
	last := map[string]time.Time{}
	gaps := map[string]time.Duration{}
	counts := map[string][2]int{}
	for _, at := range times {
		for _, r := range rows[at] {
			src, fam := r["ip.src"], "ipv4"
			if src == "" {
				src, fam = r["ipv6.src"], "ipv6"
			}
			vr := "vrid=" + r["vrrp.virt_rtr_id"] + " family=" + fam
			if l, ok := last[vr]; ok && at.Sub(l) > gaps[vr] {
				gaps[vr] = at.Sub(l)
			}
			last[vr] = at
			c := counts[vr+" source="+src]
			c[0]++
			if r["vrrp.prio"] == "0" {
				c[1]++
			}
			counts[vr+" source="+src] = c
		}
	}
	for k, c := range counts {
		want["summary "+k] = "adverts=" + strconv.Itoa(c[0]) + " prio0=" + strconv.Itoa(c[1])
	}
	for vr, g := range gaps {
		want["summary "+vr] = "maxgap=" + g.String()
	}
	got := map[string]string{}
	for _, l := range splitLines(summary) {
		if i := strings.Index(l, " source="); i >= 0 {
			j := strings.Index(l, " adverts=")
			k := strings.Index(l, " first=")
			got[l[:j]] = l[j+1 : k]
		} else if i := strings.Index(l, " maxgap="); i >= 0 {
			g, _, _ := strings.Cut(l[i+1:], " ")
			got[l[:strings.Index(l, " adverts=")]] = g
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: summary against tshark (-tshark +vrrpdump):\n%s", path, diff)
	}
}

// TestSummarySplitBrain checks the summary of hand-made advertisements:
// two routers advertising in turn (split brain), a master resigning
// with two priority-0 advertisements, invalid packets counted apart, an
// IPv6 virtual router of the same VRID apart.
func TestSummarySplitBrain(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	a6 := netip.MustParseAddr("fe80::1")
	adv := func(src netip.Addr, prio uint8) []byte {
		ad := packet.Advertisement{Version: 3, VRID: 7, Priority: prio, MaxAdvertInt: 100, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.7")}}
		dst := packet.GroupIPv4
		if src.Is6() {
			ad.Addrs, dst = []netip.Addr{netip.MustParseAddr("fe80::7")}, packet.GroupIPv6
		}
		m, err := ad.Append(nil, src, dst, 0)
		if err != nil {
			t.Fatal(err)
		}
		return ipPacket(src, dst, 255, 112, m)
	}
	bad := adv(a, 100)
	bad[len(bad)-1] ^= 1
	ttl := adv(b, 100)
	ttl[8] = 64
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	frames := []struct {
		ms   int
		data []byte
	}{
		{0, adv(a, 100)}, {1500, adv(a, 100)}, {2000, adv(a, 100)},
		{2500, adv(b, 100)}, {3000, adv(a, 100)}, {3500, adv(b, 100)},
		{3600, bad}, {3700, ttl},
		{4000, adv(a, 0)}, {4010, adv(a, 0)},
		{4500, adv(a6, 100)},
		{5000, adv(b, 100)},
	}
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WriteRecord(at(f.ms), f.data); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "split.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := func(ms int) string { return at(ms).Format(timeFormat) }
	h := "summary vrid=7 family=ipv4 "
	want := strings.Join([]string{
		h + "adverts=9 prio0=2 invalid=2 sources=2 masters=6 maxgap=1.5s gapfrom=" + ts(0) + " gapto=" + ts(1500),
		h + "source=192.0.2.1 adverts=6 prio0=2 first=" + ts(0) + " last=" + ts(4010),
		h + "source=192.0.2.2 adverts=3 prio0=0 first=" + ts(2500) + " last=" + ts(5000),
		h + "master=192.0.2.1 from=" + ts(0) + " to=" + ts(2000) + " adverts=3 end=taken",
		h + "master=192.0.2.2 from=" + ts(2500) + " to=" + ts(2500) + " adverts=1 end=taken",
		h + "master=192.0.2.1 from=" + ts(3000) + " to=" + ts(3000) + " adverts=1 end=taken",
		h + "master=192.0.2.2 from=" + ts(3500) + " to=" + ts(3500) + " adverts=1 end=taken",
		h + "master=192.0.2.1 from=" + ts(4000) + " to=" + ts(4010) + " adverts=2 end=prio0",
		h + "master=192.0.2.2 from=" + ts(5000) + " to=" + ts(5000) + " adverts=1 end=capture-end",
		"summary vrid=7 family=ipv6 adverts=1 prio0=0 invalid=0 sources=1 masters=1 maxgap=-",
		"summary vrid=7 family=ipv6 source=fe80::1 adverts=1 prio0=0 first=" + ts(4500) + " last=" + ts(4500),
		"summary vrid=7 family=ipv6 master=fe80::1 from=" + ts(4500) + " to=" + ts(4500) + " adverts=1 end=capture-end",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, dumpOK(t, "-summary", "-q", "-r", path)); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// FuzzPacket feeds arbitrary frames to the -v -summary dumper: raw IPv4,
// IPv6 and ARP packets, and arbitrary VRRP and ICMPv6 payloads behind
// valid IP headers. Nothing panics; every VRRP line has the -v keys.
func FuzzPacket(f *testing.F) {
	src4, src6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fe80::1")
	v3 := packet.Advertisement{Version: 3, VRID: 9, Priority: 100, MaxAdvertInt: 5, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	m, err := v3.Append(nil, src4, packet.GroupIPv4, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(3), uint8(255), m)
	f.Add(uint8(0), uint8(0), ipPacket(src4, packet.GroupIPv4, 255, 112, m))
	f.Add(uint8(2), uint8(0), arpPacket(1, "02:00:00:00:00:01", src4, src4))
	f.Add(uint8(5), uint8(255), naPacket(0x20, src6, "02:00:00:00:00:01"))
	v2 := packet.Advertisement{Version: 2, VRID: 10, Priority: 1, MaxAdvertInt: 1, AuthType: packet.AuthPass, AuthData: [8]byte{'x'}, Addrs: []netip.Addr{src4}}
	m2, err := v2.Append(nil, src4, packet.GroupIPv4, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(3), uint8(64), m2)
	f.Fuzz(func(t *testing.T, kind, ttl uint8, b []byte) {
		var out bytes.Buffer
		d := newDumper(&out, options{verbose: true, summary: true})
		fr := frame{t: time.Unix(1, 0), smac: []byte{2, 0, 0, 0, 0, 1}}
		switch kind % 6 {
		case 0:
			fr.etherType, fr.b = pcap.EtherTypeIPv4, b
		case 1:
			fr.etherType, fr.b = pcap.EtherTypeIPv6, b
		case 2:
			fr.etherType, fr.b = etherTypeARP, b
		case 3:
			fr.etherType, fr.b = pcap.EtherTypeIPv4, ipPacket(src4, packet.GroupIPv4, ttl, 112, b)
		case 4:
			fr.etherType, fr.b = pcap.EtherTypeIPv6, ipPacket(src6, packet.GroupIPv6, ttl, 112, b)
		case 5:
			fr.etherType, fr.b = pcap.EtherTypeIPv6, ipPacket(src6, allNodes, ttl, 58, b)
		}
		for _, snapped := range []bool{false, true} {
			fr.snapped = snapped
			if err := d.packet(fr); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.sum.write(io.Discard); err != nil {
			t.Fatal(err)
		}
		for _, l := range splitLines(out.String()) {
			if !strings.Contains(l, " garp ") && !strings.Contains(l, " na ") && !strings.Contains(l, " errs=") {
				t.Fatalf("line %q: no errs=", l)
			}
		}
	})
}
