package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
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
			if _, err := exec.LookPath("tshark"); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatal("tshark is not on PATH and CI=true: install tshark (Debian package tshark) in .ci/run")
				}
				t.Skip("tshark is not on PATH; skipping the cross-check of checksum verdicts")
			}
			tshark, err := exec.Command("tshark", "-r", path, "-Y", "vrrp", "-T", "fields", "-e", "vrrp.checksum.status").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			var want, got []string
			for s := range strings.Lines(string(tshark)) {
				want = append(want, map[string]string{"1": "good", "0": "bad"}[strings.TrimSpace(s)])
			}
			for _, l := range lines {
				v := "bad"
				if strings.HasPrefix(fields(t, l)["checksum"], "ok-") {
					v = "good"
				}
				got = append(got, v)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("checksum verdicts against tshark (-want +got):\n%s", diff)
			}
		})
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

// TestMalformed dumps a capture of hand-made packets: each malformed one
// prints its error, and the dump goes on to the next.
func TestMalformed(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), packet.GroupIPv4
	src6, dst6 := netip.MustParseAddr("fe80::1"), packet.GroupIPv6
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
	frames := [][]byte{
		ipPacket(src4, dst4, 255, 112, msgForm),                                  // RFC 9568 message-only form
		ipPacket(src4, dst4, 255, 112, badSum),                                   // checksum
		ipPacket(src4, dst4, 255, 112, msgForm[:5]),                              // short header
		ipPacket(src4, dst4, 255, 17, []byte{0, 1, 0, 2, 0, 8, 0, 0}),            // UDP: not printed
		ipPacket(src4, dst4, 255, 112, append([]byte{0x41}, msgForm[1:]...)),     // version 4
		ipPacket(src4, dst4, 64, 112, msgForm),                                   // TTL 64
		ipPacket(src6, dst6, 255, 112, v2msg),                                    // VRRPv2 over IPv6
		ipPacket(src4, dst4, 255, 112, v2msg[:len(v2msg)-1]),                     // auth data cut
		ipPacket(src6, dst6, 255, 112, v6msg),                                    // IPv6, link-local first
		{0x99},                                                                   // not IP: skipped
		ipPacket(src4, dst4, 255, 112, append(bytes.Clone(msgForm), 0, 0, 0, 0)), // padded
	}
	path := filepath.Join(t.TempDir(), "malformed.pcap")
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, f := range frames {
		if err := w.WriteRecord(ts.Add(time.Duration(i)*time.Millisecond), f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := dump(t, "-r", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := []string{
		"time=2026-01-02T03:04:05.000000Z src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=none",
		"time=2026-01-02T03:04:05.001000Z src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=bad err=checksum",
		"time=2026-01-02T03:04:05.002000Z src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=3 vrid=9 prio=100 interval=- addrs=- checksum=- err=short-header",
		"time=2026-01-02T03:04:05.004000Z src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=4 vrid=9 prio=100 interval=- addrs=- checksum=- err=version",
		"time=2026-01-02T03:04:05.005000Z src=192.0.2.1 dst=224.0.0.18 ttl=64 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=ttl",
		"time=2026-01-02T03:04:05.006000Z src=fe80::1 dst=ff02::12 ttl=255 ver=2 vrid=10 prio=255 interval=- addrs=- checksum=- err=family",
		"time=2026-01-02T03:04:05.007000Z src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=2 vrid=10 prio=255 interval=- addrs=- checksum=- err=short-auth",
		"time=2026-01-02T03:04:05.008000Z src=fe80::1 dst=ff02::12 ttl=255 ver=3 vrid=11 prio=100 interval=1s addrs=fe80::11 checksum=ok-pseudo err=none",
		"time=2026-01-02T03:04:05.010000Z src=192.0.2.1 dst=224.0.0.18 ttl=255 ver=3 vrid=9 prio=100 interval=50ms addrs=192.0.2.100 checksum=ok-message err=none",
	}
	if diff := cmp.Diff(strings.Join(want, "\n")+"\n", out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
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
