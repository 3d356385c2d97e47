package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/govrrp/govrrp/packet"
)

func dump(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

// fields splits a line into its key=value pairs, checking the key order.
func fields(t *testing.T, line string) map[string]string {
	t.Helper()
	keys := []string{"time", "src", "dst", "ttl", "ver", "vrid", "prio", "interval", "addrs", "checksum", "err"}
	parts := strings.Fields(line)
	if len(parts) != len(keys) {
		t.Fatalf("line %q: %d fields, want %d", line, len(parts), len(keys))
	}
	m := map[string]string{}
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k != keys[i] {
			t.Fatalf("line %q: field %d is %q, want key %q", line, i, p, keys[i])
		}
		m[k] = v
	}
	return m
}

func TestCaptures(t *testing.T) {
	tests := []struct {
		file  string
		lines int
		// head is the first lines, written from tshark's decode
		// (tshark -r FILE -V -Y vrrp).
		head []string
	}{
		{
			file:  "keepalived-v2-v3-ipv4-ipv6-handover.pcap",
			lines: 27,
			head: []string{
				"time=2026-11-25T17:43:25.709356Z src=10.99.0.1 dst=224.0.0.18 ttl=255 ver=3 vrid=51 prio=150 interval=1s addrs=10.99.0.100,10.99.0.101 checksum=ok-pseudo err=none",
				"time=2026-11-25T17:43:25.709751Z src=fe80::ff:fe00:1 dst=ff02::12 ttl=255 ver=3 vrid=52 prio=150 interval=1s addrs=fd99::100 checksum=ok-pseudo err=none",
				"time=2026-11-25T17:43:25.710087Z src=10.99.0.1 dst=224.0.0.18 ttl=255 ver=2 vrid=53 prio=150 interval=1s addrs=10.99.0.102 checksum=ok-v2 err=none",
			},
		},
		{
			file:  "keepalived-v3-ipv4-10ms-crash-failover.pcap",
			lines: 193,
			head: []string{
				"time=2026-11-25T17:44:31.317649Z src=10.99.0.1 dst=224.0.0.18 ttl=255 ver=3 vrid=61 prio=150 interval=10ms addrs=10.99.0.110 checksum=ok-pseudo err=none",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", "captures", tt.file)
			out, errOut, code := dump(t, "-r", path)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != tt.lines {
				t.Fatalf("%d lines, want %d", len(lines), tt.lines)
			}
			if diff := cmp.Diff(tt.head, lines[:len(tt.head)]); diff != "" {
				t.Errorf("first lines (-want +got):\n%s", diff)
			}
			for _, l := range lines {
				f := fields(t, l)
				if f["err"] != "none" || !strings.HasPrefix(f["checksum"], "ok-") {
					t.Errorf("line %q: want a valid packet", l)
				}
			}

			// The checksum verdict of every packet agrees with tshark's.
			requireTshark(t)
			checkTshark(t, path, lines)
		})
	}
}

// requireTshark skips the test without tshark, or fails it when CI=true.
func requireTshark(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is not on PATH and CI=true: install tshark (Debian package tshark) in .ci/run")
		}
		t.Skip("tshark is not on PATH; skipping the cross-check of checksum verdicts against tshark")
	}
}

// tsharkVerdicts returns tshark's checksum verdict for every frame of the
// pcap at path, keyed by capture time (several frames may share one), in
// vrrpdump's words. tshark checks the VRRPv3 IPv4 checksum in one form,
// chosen by a preference: the pseudo-header form by default, the message
// form with vrrp.v3_checksum_as_in_v2, so it runs twice. Its status is 1
// (good), 0 (bad), 2 (unverified: the capture was cut short) or empty (no
// VRRP header to check); only 1 is ok.
func tsharkVerdicts(t *testing.T, path string) map[time.Time][]string {
	t.Helper()
	run := func(extra ...string) [][]string {
		args := append([]string{"-r", path}, extra...)
		args = append(args, "-T", "fields", "-e", "frame.time_epoch", "-e", "vrrp.version", "-e", "vrrp.checksum.status")
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark %v: %v", args, err)
		}
		var rows [][]string
		for l := range strings.Lines(string(out)) {
			rows = append(rows, strings.Split(strings.TrimSuffix(l, "\n"), "\t"))
		}
		return rows
	}
	pseudo, message := run(), run("-o", "vrrp.v3_checksum_as_in_v2:TRUE")
	if len(pseudo) != len(message) {
		t.Fatalf("tshark: %d frames, then %d", len(pseudo), len(message))
	}
	verdicts := map[time.Time][]string{}
	for i, row := range pseudo {
		if len(row) != 3 || len(message[i]) != 3 {
			t.Fatalf("tshark line %q", row)
		}
		sec, frac, _ := strings.Cut(row[0], ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		ns, err2 := strconv.ParseInt(frac, 10, 64)
		if err1 != nil || err2 != nil || len(frac) != 9 {
			t.Fatalf("tshark time %q", row[0])
		}
		v := "bad"
		switch {
		case row[2] == "1" && row[1] == "2":
			v = "ok-v2"
		case row[2] == "1" && row[1] == "3":
			v = "ok-pseudo"
		case row[2] == "1", message[i][2] == "1":
			v = "ok-message"
		}
		at := time.Unix(s, ns).UTC()
		verdicts[at] = append(verdicts[at], v)
	}
	return verdicts
}

// checkTshark checks the checksum= verdict of every line against
// tshark's for the frame captured at the line's time.
func checkTshark(t *testing.T, path string, lines []string) {
	t.Helper()
	verdicts := tsharkVerdicts(t, path)
	for _, l := range lines {
		f := fields(t, l)
		at, err := time.Parse(timeFormat, f["time"])
		if err != nil {
			t.Fatal(err)
		}
		vs := verdicts[at]
		if len(vs) == 0 {
			t.Errorf("line %q: tshark has no frame at that time", l)
			continue
		}
		verdicts[at] = vs[1:]
		if f["checksum"] != vs[0] {
			t.Errorf("line %q: tshark's verdict is %s", l, vs[0])
		}
	}
}

// ipPacket wraps payload in an IPv4 or IPv6 header with the given TTL and
// protocol.
func ipPacket(src, dst netip.Addr, ttl, proto uint8, payload []byte) []byte {
	if src.Is4() {
		h := make([]byte, 20, 20+len(payload))
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
		h[8], h[9] = ttl, proto
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		return append(h, payload...)
	}
	h := make([]byte, 40, 40+len(payload))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = proto, ttl
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

// withSum returns a copy of msg with its checksum field set: over the
// message alone, or with the pseudo-header of src and dst (RFC 768 for
// IPv4, RFC 8200 section 8.1 for IPv6) when src is valid.
func withSum(msg []byte, src, dst netip.Addr) []byte {
	m := bytes.Clone(msg)
	m[6], m[7] = 0, 0
	var all []byte
	switch {
	case src.Is4():
		all = append(append(src.AsSlice(), dst.AsSlice()...), 0, packet.Protocol, byte(len(m)>>8), byte(len(m)))
	case src.Is6():
		all = binary.BigEndian.AppendUint32(append(src.AsSlice(), dst.AsSlice()...), uint32(len(m)))
		all = append(all, 0, 0, 0, packet.Protocol)
	}
	all = append(all, m...)
	var acc uint32
	for i := 0; i < len(all); i += 2 {
		acc += uint32(all[i]) << 8
		if i+1 < len(all) {
			acc += uint32(all[i+1])
		}
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	binary.BigEndian.PutUint16(m[6:], ^uint16(acc))
	return m
}

// TestMalformed dumps a capture of hand-made packets: each malformed one
// prints its error, and the dump goes on to the next. Every checksum
// verdict is checked against tshark's.
func TestMalformed(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), packet.GroupIPv4
	src6, dst6 := netip.MustParseAddr("fe80::1"), packet.GroupIPv6
	var none netip.Addr
	v3 := packet.Advertisement{Version: 3, VRID: 9, Priority: 100, MaxAdvertInt: 5, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	msgForm, err := v3.Append(nil, src4, dst4, packet.ChecksumMessage)
	if err != nil {
		t.Fatal(err)
	}
	badSum := bytes.Clone(msgForm)
	badSum[7] ^= 1
	v2 := packet.Advertisement{Version: 2, VRID: 10, Priority: 255, MaxAdvertInt: 3, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.101")}}
	v2msg, err := v2.Append(nil, src4, dst4, 0)
	if err != nil {
		t.Fatal(err)
	}
	v6 := packet.Advertisement{Version: 3, VRID: 11, Priority: 100, MaxAdvertInt: 100, Addrs: []netip.Addr{netip.MustParseAddr("fe80::11")}}
	v6msg, err := v6.Append(nil, src6, dst6, 0)
	if err != nil {
		t.Fatal(err)
	}
	with := func(m []byte, i int, v byte) []byte { m = bytes.Clone(m); m[i] = v; return m }
	// withLen sets the IPv4 total length or IPv6 payload length.
	withLen := func(p []byte, n int) []byte {
		p = bytes.Clone(p)
		if p[0]>>4 == 4 {
			binary.BigEndian.PutUint16(p[2:], uint16(n))
		} else {
			binary.BigEndian.PutUint16(p[4:], uint16(n))
		}
		return p
	}
	type frame struct {
		data []byte
		orig int // the length on the wire if the capture cut it short
		want string
	}
	const (
		h4 = " src=192.0.2.1 dst=224.0.0.18 "
		h6 = " src=fe80::1 dst=ff02::12 "
	)
	frames := []frame{
		{data: ipPacket(src4, dst4, 255, 112, msgForm), // RFC 9568 message-only form
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=none"},
		{data: ipPacket(src4, dst4, 255, 112, badSum),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=bad err=checksum"},
		// Shorter than the header: tshark gives no verdict.
		{data: ipPacket(src4, dst4, 255, 112, msgForm[:5]),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=bad err=short-header"},
		{data: ipPacket(src4, dst4, 255, 17, []byte{0, 1, 0, 2, 0, 8, 0, 0})}, // UDP: not printed
		// An unknown version is checksummed over the message, as tshark
		// does: the checksum of the version-3 message no longer holds.
		{data: ipPacket(src4, dst4, 255, 112, with(msgForm, 0, 0x41)),
			want: h4 + "ttl=255 ver=4 vrid=9 prio=100 interval=- addrs=- checksum=bad err=version"},
		{data: ipPacket(src4, dst4, 64, 112, msgForm),
			want: h4 + "ttl=64 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=ttl"},
		{data: ipPacket(src6, dst6, 255, 112, v2msg), // VRRPv2 over IPv6: the checksum is the message's
			want: h6 + "ttl=255 ver=2 vrid=10 prio=255 interval=- addrs=- checksum=ok-v2 err=family"},
		// The auth data cut by its last byte, a zero: the sum is the same.
		{data: ipPacket(src4, dst4, 255, 112, v2msg[:len(v2msg)-1]),
			want: h4 + "ttl=255 ver=2 vrid=10 prio=255 interval=- addrs=- checksum=ok-v2 err=short-auth"},
		{data: ipPacket(src6, dst6, 255, 112, v6msg),
			want: h6 + "ttl=255 ver=3 vrid=11 prio=100 interval=1s addrs=fe80::11 checksum=ok-pseudo err=none"},
		{data: []byte{0x99}}, // not IP: skipped
		// Zero bytes inside the IP length change no message-form sum.
		{data: ipPacket(src4, dst4, 255, 112, append(bytes.Clone(msgForm), 0, 0, 0, 0)),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=none"},
		// Link-layer padding after the IP packet is not part of it.
		{data: append(ipPacket(src4, dst4, 255, 112, msgForm), 0xa5, 0xa5),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=none"},
		// A parse error wins over the TTL.
		{data: ipPacket(src4, dst4, 64, 112, msgForm[:5]),
			want: h4 + "ttl=64 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=bad err=short-header"},
		{data: ipPacket(src4, dst4, 1, 112, badSum),
			want: h4 + "ttl=1 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=bad err=checksum"},
		// The IP header claims more bytes than the frame has: tshark
		// checksums what there is (here all but 8 zero bytes of auth
		// data, so it verifies)...
		{data: withLen(ipPacket(src4, dst4, 255, 112, v2msg[:len(v2msg)-8]), 20+len(v2msg)),
			want: h4 + "ttl=255 ver=2 vrid=10 prio=255 interval=- addrs=- checksum=ok-v2 err=truncated"},
		{data: withLen(ipPacket(src4, dst4, 255, 112, msgForm[:10]), 20+len(msgForm)),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=bad err=truncated"},
		{data: withLen(ipPacket(src6, dst6, 255, 112, v6msg[:20]), len(v6msg)),
			want: h6 + "ttl=255 ver=3 vrid=11 prio=100 interval=- addrs=- checksum=bad err=truncated"},
		// ...a complete message in a packet that claims more is
		// decoded, and still truncated...
		{data: withLen(ipPacket(src4, dst4, 255, 112, msgForm), 20+len(msgForm)+4),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=truncated"},
		// ...and a frame cut by the snap length cannot be verified
		// (tshark: unverified).
		{data: ipPacket(src4, dst4, 255, 112, v2msg)[:20+len(v2msg)-8], orig: 20 + len(v2msg),
			want: h4 + "ttl=255 ver=2 vrid=10 prio=255 interval=- addrs=- checksum=bad err=truncated"},
		// Cut by the snap length only after the IP packet: complete.
		{data: ipPacket(src4, dst4, 255, 112, msgForm), orig: 20 + len(msgForm) + 14,
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=none"},
		// The verdict does not depend on validation.
		{data: ipPacket(src4, dst4, 255, 112, withSum(with(msgForm, 0, 0x11), none, none)),
			want: h4 + "ttl=255 ver=1 vrid=9 prio=100 interval=- addrs=- checksum=ok-message err=version"},
		{data: ipPacket(src4, dst4, 255, 112, withSum(with(msgForm, 0, 0x41), none, none)),
			want: h4 + "ttl=255 ver=4 vrid=9 prio=100 interval=- addrs=- checksum=ok-message err=version"},
		{data: ipPacket(src4, dst4, 255, 112, withSum(with(msgForm, 0, 0x32), src4, dst4)),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=ok-pseudo err=type"},
		{data: ipPacket(src4, dst4, 255, 112, withSum(with(msgForm, 3, 3), src4, dst4)),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=ok-pseudo err=short-addrs"},
		{data: ipPacket(src4, dst4, 255, 112, withSum(with(msgForm, 5, 0), none, none)),
			want: h4 + "ttl=255 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=ok-message err=zero-interval"},
		// Addresses of the other family's length: family errors.
		{data: ipPacket(src6, dst6, 255, 112, withSum(msgForm, src6, dst6)),
			want: h6 + "ttl=255 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=ok-pseudo err=family"},
		{data: ipPacket(src4, dst4, 255, 112, withSum(v6msg, src4, dst4)),
			want: h4 + "ttl=255 ver=3 vrid=11 prio=100 interval=- addrs=- checksum=ok-pseudo err=family"},
		// No VRRP header at all.
		{data: ipPacket(src4, dst4, 255, 112, nil),
			want: h4 + "ttl=255 ver=- vrid=- prio=- interval=- addrs=- checksum=bad err=short-header"},
		{data: ipPacket(src6, dst6, 255, 112, v6msg[:7]),
			want: h6 + "ttl=255 ver=3 vrid=11 prio=100 interval=- addrs=- checksum=bad err=short-header"},
	}
	path := filepath.Join(t.TempDir(), "malformed.pcap")
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var want []string
	for i, f := range frames {
		at := ts.Add(time.Duration(i) * time.Millisecond)
		if err := w.WriteRecordLen(at, f.data, f.orig); err != nil {
			t.Fatal(err)
		}
		if f.want != "" {
			want = append(want, "time="+at.Format(timeFormat)+f.want)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := dump(t, "-r", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(strings.Join(want, "\n")+"\n", out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	requireTshark(t)
	checkTshark(t, path, strings.Split(strings.TrimSuffix(out, "\n"), "\n"))
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no source", nil, 2, "usage: vrrpdump"},
		{"both sources", []string{"-r", "x.pcap", "-i", "eth0"}, 2, "usage: vrrpdump"},
		{"extra argument", []string{"-r", "x.pcap", "extra"}, 2, "usage: vrrpdump"},
		{"unknown flag", []string{"-x"}, 2, "flag provided but not defined"},
		{"missing file", []string{"-r", filepath.Join(t.TempDir(), "missing.pcap")}, 1, "no such file"},
		{"not a pcap", []string{"-r", "dump_test.go"}, 1, "not a pcap file"},
		{"no such interface", []string{"-i", "govrrp-none0"}, 1, "govrrp-none0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := dump(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr containing %q", code, out, errOut, tt.code, tt.stderr)
			}
		})
	}
}
