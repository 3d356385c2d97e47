package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/govrrp/govrrp/packet"
)

// vfields splits a -v line into its key=value pairs; a garp or na line's
// kind is under "kind". VRRP lines must have every key of the default
// line and then smac dmac auth sum want errs, in that order.
func vfields(t *testing.T, line string) map[string]string {
	t.Helper()
	parts := strings.Fields(line)
	m := map[string]string{}
	var keys []string
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			if i != 1 || (p != "garp" && p != "na") {
				t.Fatalf("line %q: field %q", line, p)
			}
			k, v = "kind", p
		}
		if _, dup := m[k]; dup {
			t.Fatalf("line %q: key %q twice", line, k)
		}
		m[k] = v
		keys = append(keys, k)
	}
	var want []string
	switch m["kind"] {
	case "":
		m["kind"] = "vrrp"
		want = []string{"time", "src", "dst", "ttl", "ver", "vrid", "prio", "interval", "addrs", "checksum", "err", "smac", "dmac", "auth", "sum", "want", "errs"}
	case "garp":
		want = []string{"time", "kind", "addr", "mac", "op", "smac", "dmac"}
	case "na":
		want = []string{"time", "kind", "addr", "mac", "flags", "src", "dst", "ttl", "smac", "dmac"}
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("line %q: keys %v, want %v", line, keys, want)
	}
	return m
}

func splitLines(out string) []string {
	if out == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// eth wraps p in an Ethernet header.
func eth(dst, src string, et uint16, p []byte) []byte {
	d, _ := net.ParseMAC(dst)
	s, _ := net.ParseMAC(src)
	f := append(append(bytes.Clone(d), s...), byte(et>>8), byte(et))
	return append(f, p...)
}

// arpPacket is an Ethernet/IPv4 ARP packet (RFC 826).
func arpPacket(op uint16, sha string, spa, tpa netip.Addr) []byte {
	mac, _ := net.ParseMAC(sha)
	b := []byte{0, 1, 8, 0, 6, 4, byte(op >> 8), byte(op)}
	b = append(b, mac...)
	b = append(b, spa.AsSlice()...)
	b = append(b, make([]byte, 6)...)
	return append(b, tpa.AsSlice()...)
}

// naPacket is an ICMPv6 neighbor advertisement (RFC 4861 section 4.4)
// with the given flags byte, and a target link-layer address option when
// mac is not empty.
func naPacket(flags byte, target netip.Addr, mac string) []byte {
	b := []byte{136, 0, 0, 0, flags, 0, 0, 0}
	b = append(b, target.AsSlice()...)
	if mac != "" {
		m, _ := net.ParseMAC(mac)
		b = append(append(b, 2, 1), m...)
	}
	return b
}

// TestVerbose dumps, with -v, a capture of Ethernet frames each with one
// or more validation failures, authentication types, and announcements;
// checks errs, auth and the announcement lines, and cross-checks every
// line against tshark.
func TestVerbose(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), packet.GroupIPv4
	src6, dst6 := netip.MustParseAddr("fe80::1"), packet.GroupIPv6
	var none netip.Addr
	v3 := packet.Advertisement{Version: 3, VRID: 9, Priority: 100, MaxAdvertInt: 5, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	msgForm, err := v3.Append(nil, src4, dst4, packet.ChecksumMessage)
	if err != nil {
		t.Fatal(err)
	}
	v2 := packet.Advertisement{Version: 2, VRID: 10, Priority: 255, MaxAdvertInt: 3, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.101")}}
	v2msg, err := v2.Append(nil, src4, dst4, 0)
	if err != nil {
		t.Fatal(err)
	}
	v2pass := v2
	v2pass.AuthType, v2pass.AuthData = packet.AuthPass, [8]byte{'a', ' ', 'b', '"', '\\', 0xe9}
	v2passMsg, err := v2pass.Append(nil, src4, dst4, 0)
	if err != nil {
		t.Fatal(err)
	}
	v2ascii := v2
	v2ascii.AuthType, v2ascii.AuthData = packet.AuthPass, [8]byte{'a', ' ', 'b', '"', '\\', '1', '2', '3'}
	v2asciiMsg, err := v2ascii.Append(nil, src4, dst4, 0)
	if err != nil {
		t.Fatal(err)
	}
	v6 := packet.Advertisement{Version: 3, VRID: 11, Priority: 100, MaxAdvertInt: 100, Addrs: []netip.Addr{netip.MustParseAddr("fd00::11")}}
	v6msg, err := v6.Append(nil, src6, dst6, 0)
	if err != nil {
		t.Fatal(err)
	}
	with := func(m []byte, i int, v byte) []byte { m = bytes.Clone(m); m[i] = v; return m }
	const (
		mac1  = "02:00:00:00:00:01"
		vmac  = "00:00:5e:00:01:09"
		g4mac = "01:00:5e:00:00:12"
		g6mac = "33:33:00:00:00:12"
		bcast = "ff:ff:ff:ff:ff:ff"
		all6  = "33:33:00:00:00:01"
	)
	vip := netip.MustParseAddr("192.0.2.100")
	vip6 := netip.MustParseAddr("fd00::11")
	vr4 := func(ttl uint8, m []byte) []byte { return eth(g4mac, mac1, 0x0800, ipPacket(src4, dst4, ttl, 112, m)) }
	vr6 := func(ttl uint8, m []byte) []byte { return eth(g6mac, mac1, 0x86dd, ipPacket(src6, dst6, ttl, 112, m)) }
	na := func(dst netip.Addr, m []byte) []byte {
		return eth(all6, vmac, 0x86dd, ipPacket(netip.MustParseAddr("fe80::9"), dst, 255, 58, m))
	}
	type frame struct {
		data []byte
		// want is the line's fields to check; nil: no line.
		want map[string]string
	}
	frames := []frame{
		{vr4(64, msgForm), map[string]string{"err": "ttl", "errs": "ttl", "auth": "-", "smac": mac1, "dmac": g4mac}},
		{vr4(64, with(msgForm, 0, 0x41)), map[string]string{"err": "version", "errs": "version,checksum,ttl"}},
		{vr4(255, with(with(msgForm, 0, 0x32), 5, 0)), map[string]string{"err": "type", "errs": "type,zero-interval,checksum"}},
		{vr4(255, withSum(with(msgForm, 1, 0), none, none)), map[string]string{"err": "none", "errs": "vrid", "vrid": "0"}},
		{vr4(255, withSum(with(msgForm, 3, 0), none, none)), map[string]string{"err": "no-addrs", "errs": "no-addrs"}},
		{vr6(1, v2msg), map[string]string{"err": "family", "errs": "family,ttl", "auth": "none"}},
		{vr4(255, with(v2msg[:len(v2msg)-1], 0, 0x23)), map[string]string{"err": "type", "errs": "type,short-auth,checksum"}},
		{vr4(255, withSum(with(v2msg, 4, 2), none, none)), map[string]string{"err": "none", "errs": "none", "auth": "ah"}},
		{vr4(255, withSum(with(v2msg, 4, 7), none, none)), map[string]string{"err": "none", "errs": "none", "auth": "type-7"}},
		{vr4(255, v2passMsg), map[string]string{"err": "none", "errs": "none", "auth": `pass:"a\x20b\x22\x5c\xe9"`}},
		{vr4(255, v2asciiMsg), map[string]string{"err": "none", "errs": "none", "auth": `pass:"a\x20b\x22\x5c123"`}},
		{vr6(64, v6msg), map[string]string{"err": "ttl", "errs": "ttl,no-link-local-first", "want": "pseudo:" + sum16(v6msg)}},
		{vr4(255, msgForm[:5]), map[string]string{"err": "short-header", "errs": "short-header", "sum": "-", "want": "-"}},
		{vr4(64, nil), map[string]string{"err": "short-header", "errs": "short-header,ttl", "ver": "-", "auth": "-", "sum": "-", "want": "-"}},
		{vr4(255, with(msgForm[:5], 0, 0x42)), map[string]string{"err": "short-header", "errs": "short-header,version,type"}},
		// Two addresses sent, one counted, checksummed over both: the
		// message alone does not verify (err), the payload does
		// (checksum, as tshark checks it).
		{vr4(64, withSum(append(bytes.Clone(msgForm), 192, 0, 2, 200), src4, dst4)), map[string]string{"err": "checksum", "checksum": "ok-pseudo", "errs": "checksum,ttl,trailing", "addrs": "192.0.2.100"}},
		{vr4(255, append(bytes.Clone(msgForm), 0, 0, 0, 0)), map[string]string{"err": "none", "checksum": "ok-message", "errs": "trailing"}},
		// An unknown version has no interval to check.
		{vr4(255, withSum(with(with(msgForm, 0, 0x51), 5, 0), none, none)), map[string]string{"err": "version", "errs": "version"}},
		{vr4(255, withSum(with(with(v2msg, 0, 0x21), 5, 0), none, none)), map[string]string{"err": "zero-interval", "errs": "zero-interval"}},
		{vr4(255, msgForm), map[string]string{"err": "none", "errs": "none", "want": "pseudo:" + sum16(withSum(msgForm, src4, dst4)) + ",message:" + sum16(msgForm)}},
		// Announcements.
		{eth(bcast, vmac, 0x0806, arpPacket(1, vmac, vip, vip)), map[string]string{"kind": "garp", "addr": "192.0.2.100", "mac": vmac, "op": "request", "dmac": bcast}},
		{eth(bcast, mac1, 0x0806, arpPacket(2, mac1, vip, vip)), map[string]string{"kind": "garp", "addr": "192.0.2.100", "mac": mac1, "op": "reply", "smac": mac1}},
		{eth(bcast, mac1, 0x0806, arpPacket(1, mac1, netip.IPv4Unspecified(), vip)), nil}, // a probe
		{eth(bcast, mac1, 0x0806, arpPacket(1, mac1, src4, vip)), nil},                    // a query
		{na(allNodes, naPacket(0x20, vip6, vmac)), map[string]string{"kind": "na", "addr": "fd00::11", "mac": vmac, "flags": "O", "smac": vmac, "dmac": all6}},
		{na(allNodes, naPacket(0xa0, vip6, "")), map[string]string{"kind": "na", "mac": "-", "flags": "RO"}},
		{na(allNodes, naPacket(0x80, vip6, vmac)), nil},                       // no override flag
		{na(netip.MustParseAddr("fe80::2"), naPacket(0x60, vip6, vmac)), nil}, // solicited, unicast
	}
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var wants []map[string]string
	for i, f := range frames {
		if err := w.WriteRecord(ts.Add(time.Duration(i)*time.Millisecond), f.data); err != nil {
			t.Fatal(err)
		}
		if f.want != nil {
			wants = append(wants, f.want)
		}
	}
	path := filepath.Join(t.TempDir(), "verbose.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := dump(t, "-v", "-r", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := splitLines(out)
	if len(lines) != len(wants) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(wants), out)
	}
	for i, l := range lines {
		got := vfields(t, l)
		for k, v := range wants[i] {
			if got[k] != v {
				t.Errorf("line %q: %s=%s, want %s", l, k, got[k], v)
			}
		}
		checkErrs(t, l, got)
	}

	// Without -v the VRRP lines are those of before, without the
	// announcements.
	plain, _, _ := dump(t, "-r", path)
	var stripped []string
	for _, l := range lines {
		if f := vfields(t, l); f["kind"] == "vrrp" {
			stripped = append(stripped, l[:strings.Index(l, " smac=")])
		}
	}
	if diff := cmp.Diff(stripped, splitLines(plain)); diff != "" {
		t.Errorf("lines without -v (-want +got):\n%s", diff)
	}

	requireTshark(t)
	checkTsharkVerbose(t, path, lines)
}

// sum16 is the checksum field of msg as vrrpdump prints it.
func sum16(msg []byte) string {
	return "0x" + strconv.FormatUint(uint64(binary.BigEndian.Uint16(msg[6:8]))|0x10000, 16)[1:]
}

// checkErrs checks that errs lists err= (the packet package's first
// failure) before any other failure the packet package checks.
func checkErrs(t *testing.T, l string, f map[string]string) {
	t.Helper()
	if f["kind"] != "vrrp" {
		return
	}
	var first string
	for e := range strings.SplitSeq(f["errs"], ",") {
		if e != "vrid" && e != "no-link-local-first" && e != "trailing" && e != "none" {
			first = e
			break
		}
	}
	switch {
	case f["err"] == "none" && first != "":
		t.Errorf("line %q: err=none, errs has %s", l, first)
	case f["err"] != "none" && first != f["err"]:
		t.Errorf("line %q: errs does not start with err=%s", l, f["err"])
	}
}

// tsharkRows runs tshark -T fields on path with extra options and returns
// the rows by capture time, in frame order.
func tsharkRows(t *testing.T, path string, extra []string, fields []string) map[time.Time][]map[string]string {
	t.Helper()
	args := append([]string{"-r", path}, extra...)
	args = append(args, "-T", "fields", "-e", "frame.time_epoch")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	rows := map[time.Time][]map[string]string{}
	for l := range strings.Lines(string(out)) {
		cols := strings.Split(strings.TrimSuffix(l, "\n"), "\t")
		if len(cols) != 1+len(fields) {
			t.Fatalf("tshark line %q", l)
		}
		sec, frac, _ := strings.Cut(cols[0], ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		ns, err2 := strconv.ParseInt(frac, 10, 64)
		if err1 != nil || err2 != nil || len(frac) != 9 {
			t.Fatalf("tshark time %q", cols[0])
		}
		row := map[string]string{}
		for i, f := range fields {
			row[f] = cols[1+i]
		}
		// vrrpdump prints microseconds (a dumpcap capture has
		// nanoseconds).
		at := time.Unix(s, ns).UTC().Truncate(time.Microsecond)
		rows[at] = append(rows[at], row)
	}
	return rows
}

var shouldBe = regexp.MustCompile(`should be (0x[0-9a-f]{4})`)

// checkTsharkVerbose checks the -v fields of every line against tshark's
// decode of the frame captured at the line's time: the MAC addresses, the
// VRRPv2 auth type and password, the checksum field, what the checksum
// should be (tshark's "Bad checksum [should be ...]", with the
// pseudo-header and with the message form), and that the garp and na lines
// are the frames tshark calls gratuitous ARPs and neighbor advertisements
// with the override flag to ff02::1.
func checkTsharkVerbose(t *testing.T, path string, lines []string) {
	t.Helper()
	fields := []string{"eth.src", "eth.dst", "vrrp.version", "vrrp.auth_type", "vrrp.auth_string", "vrrp.checksum", "vrrp.checksum.status", "_ws.expert.message",
		"arp.isgratuitous", "arp.src.proto_ipv4", "arp.src.hw_mac", "arp.opcode",
		"icmpv6.type", "icmpv6.nd.na.flag.o", "ipv6.dst", "icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr"}
	pseudo := tsharkRows(t, path, nil, fields)
	message := tsharkRows(t, path, []string{"-o", "vrrp.v3_checksum_as_in_v2:TRUE"}, fields)
	announcements := 0
	for _, rs := range pseudo {
		for _, r := range rs {
			if r["arp.isgratuitous"] == "1" || r["icmpv6.type"] == "136" && r["icmpv6.nd.na.flag.o"] == "1" && r["ipv6.dst"] == "ff02::1" {
				announcements++
			}
		}
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, l := range lines {
		f := vfields(t, l)
		at, err := time.Parse(timeFormat, f["time"])
		if err != nil {
			t.Fatal(err)
		}
		if len(pseudo[at]) == 0 {
			t.Errorf("line %q: tshark has no frame at that time", l)
			continue
		}
		p, m := pseudo[at][0], message[at][0]
		pseudo[at], message[at] = pseudo[at][1:], message[at][1:]
		if f["smac"] != dash(p["eth.src"]) || f["dmac"] != dash(p["eth.dst"]) {
			t.Errorf("line %q: tshark has eth.src %q eth.dst %q", l, p["eth.src"], p["eth.dst"])
		}
		switch f["kind"] {
		case "garp":
			announcements--
			op := map[string]string{"1": "request", "2": "reply"}[p["arp.opcode"]]
			if p["arp.isgratuitous"] != "1" || f["addr"] != p["arp.src.proto_ipv4"] || f["mac"] != p["arp.src.hw_mac"] || f["op"] != op {
				t.Errorf("line %q: tshark has gratuitous %q, %s at %s, opcode %s", l, p["arp.isgratuitous"], p["arp.src.proto_ipv4"], p["arp.src.hw_mac"], p["arp.opcode"])
			}
			continue
		case "na":
			announcements--
			if p["icmpv6.type"] != "136" || p["icmpv6.nd.na.flag.o"] != "1" || f["addr"] != p["icmpv6.nd.na.target_address"] || f["mac"] != dash(p["icmpv6.opt.linkaddr"]) || f["dst"] != p["ipv6.dst"] {
				t.Errorf("line %q: tshark has type %s override %s target %s at %q to %s", l, p["icmpv6.type"], p["icmpv6.nd.na.flag.o"], p["icmpv6.nd.na.target_address"], p["icmpv6.opt.linkaddr"], p["ipv6.dst"])
			}
			continue
		}
		// The checksum verdict, as tsharkVerdicts reads it.
		v := "bad"
		switch {
		case p["vrrp.checksum.status"] == "1" && p["vrrp.version"] == "2":
			v = "ok-v2"
		case p["vrrp.checksum.status"] == "1" && p["vrrp.version"] == "3":
			v = "ok-pseudo"
		case p["vrrp.checksum.status"] == "1", m["vrrp.checksum.status"] == "1":
			v = "ok-message"
		}
		if f["checksum"] != v {
			t.Errorf("line %q: tshark's verdict is %s", l, v)
		}
		// The checksum field, and what it should be.
		if p["vrrp.checksum"] != "" && p["vrrp.checksum"] != f["sum"] {
			t.Errorf("line %q: tshark has checksum %s", l, p["vrrp.checksum"])
		}
		forms := map[string]string{}
		for form := range strings.SplitSeq(f["want"], ",") {
			k, v, _ := strings.Cut(form, ":")
			forms[k] = v
		}
		check := func(row map[string]string, form string) {
			want, ok := forms[form]
			if !ok {
				t.Errorf("line %q: no %s form in want= (tshark checks it)", l, form)
				return
			}
			switch sb := shouldBe.FindStringSubmatch(row["_ws.expert.message"]); {
			case sb != nil && sb[1] != want:
				t.Errorf("line %q: tshark says the %s checksum should be %s", l, form, sb[1])
			case row["vrrp.checksum.status"] == "1" && f["sum"] != want:
				t.Errorf("line %q: tshark verifies the %s checksum, want= says %s", l, form, want)
			case sb == nil && row["vrrp.checksum.status"] == "0":
				t.Errorf("line %q: tshark has a bad %s checksum and no expected value", l, form)
			}
		}
		switch {
		case f["want"] == "-":
		case p["vrrp.version"] == "3" && strings.Contains(f["src"], ":"):
			check(p, "pseudo")
		case p["vrrp.version"] == "3":
			check(p, "pseudo")
			check(m, "message")
		case p["vrrp.checksum.status"] != "":
			check(p, "message")
		}
		// Authentication: tshark decodes every version but 3 as
		// VRRPv2; vrrpdump only VRRPv2. tshark prints bytes that are
		// not UTF-8 as U+FFFD.
		if f["ver"] != "2" || strings.ContainsRune(p["vrrp.auth_string"], utf8.RuneError) {
			continue
		}
		switch p["vrrp.auth_type"] {
		case "":
			t.Errorf("line %q: tshark has no auth type", l)
		case "0":
			if f["auth"] != "none" {
				t.Errorf("line %q: tshark has auth type 0", l)
			}
		case "1":
			if pw := p["vrrp.auth_string"]; f["auth"] != "pass:"+quotePassword(pw) {
				t.Errorf("line %q: tshark has password %q", l, pw)
			}
		case "2":
			if f["auth"] != "ah" {
				t.Errorf("line %q: tshark has auth type 2", l)
			}
		default:
			if f["auth"] != "type-"+p["vrrp.auth_type"] {
				t.Errorf("line %q: tshark has auth type %s", l, p["vrrp.auth_type"])
			}
		}
	}
	if announcements != 0 {
		t.Errorf("tshark has %d more gratuitous ARPs and unsolicited NAs than vrrpdump", announcements)
	}
}

// quotePassword quotes a password as tshark prints it (with \" for a
// quote, \\ for a backslash, \xNN for other bytes) the way vrrpdump
// does.
func quotePassword(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			b = append(b, s[i+1])
			i++
			continue
		}
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err == nil {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(appendPassword(nil, b))
}
