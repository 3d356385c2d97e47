package packet_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/govrrp/govrrp/packet"
)

// The golden tests read every VRRP packet of the real captures in
// testdata/captures (keepalived 2.2.7 peers in network namespaces on a
// Linux bridge, captured with tcpdump; see testdata/captures/README.md).
// Bytes are extracted with internal/pcap: the pcap record, the link-layer
// header stripped (Ethernet here; Linux cooked SLL and SLL2 are handled as
// well), then the IPv4 or IPv6 header parsed for the source, destination
// and protocol, and the VRRP message taken as the IP payload cut to the
// length the IP header gives.
//
// The expected fields come from tshark's VRRP dissector, an independent
// decoder: testdata/golden/<capture>.txt is the output of
//
//	tshark -r FILE -Y vrrp -T fields -E separator='|' -e <tsharkFields>
//
// written by `go test -run TestGolden -update` (which needs tshark), then
// reviewed and committed. The test renders our parse in the same format.

var update = flag.Bool("update", false, "regenerate testdata/golden from tshark")

var tsharkFields = []string{
	"frame.number", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
	"vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
	"vrrp.auth_type", "vrrp.adver_int", "vrrp.short_adver_int",
	"vrrp.checksum", "vrrp.checksum.status", "vrrp.ip_addr", "vrrp.ipv6_addr", "vrrp.auth_string",
}

// capturePacket is one VRRP packet of a capture.
type capturePacket struct {
	frame    int
	src, dst netip.Addr
	ttl      uint8
	msg      []byte
}

// readCapture returns the VRRP packets (IP protocol 112) of a pcap file.
func readCapture(t testing.TB, path string) []capturePacket {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var pkts []capturePacket
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return pkts
		}
		if err != nil {
			t.Fatal(err)
		}
		et, b, err := pcap.Network(r.LinkType(), rec.Data)
		if err != nil {
			continue
		}
		ip, err := pcap.ParseIP(et, b)
		if err != nil || ip.Protocol != packet.Protocol {
			continue
		}
		pkts = append(pkts, capturePacket{rec.Number, ip.Src, ip.Dst, ip.TTL, ip.Payload})
	}
}

func captures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../testdata/captures/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in ../testdata/captures: %v", err)
	}
	return files
}

// tsharkLine renders a parsed packet as tshark prints tsharkFields.
func tsharkLine(p capturePacket, a *packet.Advertisement, err error) string {
	status := "1"
	if errors.Is(err, packet.ErrChecksum) {
		status = "0"
	}
	var src4, src6, dst4, dst6 string
	if p.src.Is4() {
		src4, dst4 = p.src.String(), p.dst.String()
	} else {
		src6, dst6 = p.src.String(), p.dst.String()
	}
	var authType, adverInt, shortAdverInt, authString string
	if a.Version == 2 {
		authType = strconv.Itoa(int(a.AuthType))
		adverInt = strconv.Itoa(int(a.MaxAdvertInt))
		if a.AuthType == packet.AuthPass {
			authString = string(bytes.TrimRight(a.AuthData[:], "\x00"))
		}
	} else {
		shortAdverInt = strconv.Itoa(int(a.MaxAdvertInt))
	}
	var addrs []string
	for _, ad := range a.Addrs {
		addrs = append(addrs, ad.String())
	}
	var ip4, ip6 string
	if p.src.Is4() {
		ip4 = strings.Join(addrs, ",")
	} else {
		ip6 = strings.Join(addrs, ",")
	}
	return strings.Join([]string{
		strconv.Itoa(p.frame), src4, src6, dst4, dst6,
		strconv.Itoa(int(a.Version)), strconv.Itoa(int(a.Type)), strconv.Itoa(int(a.VRID)),
		strconv.Itoa(int(a.Priority)), strconv.Itoa(len(a.Addrs)),
		authType, adverInt, shortAdverInt,
		fmt.Sprintf("0x%04x", a.Checksum), status, ip4, ip6, authString,
	}, "|")
}

func runTshark(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

func tsharkArgs(file string, extra ...string) []string {
	args := append([]string{"-r", file, "-Y", "vrrp", "-T", "fields", "-E", "separator=|"}, extra...)
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	return args
}

// requireTshark skips the test when tshark is missing, except in CI.
func requireTshark(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tshark is not on PATH and CI=true: install tshark (Debian package tshark) in .ci/run")
		}
		t.Skip("tshark is not on PATH; install it to cross-check the checksum verdicts")
	}
}

// TestGolden parses every VRRP packet of the captures, checks the fields
// against tshark's decode and marshals the advertisement back to the same
// bytes, checksum included, in the form the parse reported.
func TestGolden(t *testing.T) {
	for _, file := range captures(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			golden := filepath.Join("testdata", "golden", filepath.Base(file)+".txt")
			if *update {
				requireTshark(t)
				if err := os.WriteFile(golden, []byte(runTshark(t, tsharkArgs(file)...)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			pkts := readCapture(t, file)
			var got strings.Builder
			var a packet.Advertisement
			for _, p := range pkts {
				info, err := a.Unmarshal(p.msg, p.src, p.dst)
				if err != nil {
					t.Errorf("frame %d: %v", p.frame, err)
				}
				if info.Len != len(p.msg) {
					t.Errorf("frame %d: Info.Len %d, want %d", p.frame, info.Len, len(p.msg))
				}
				wantForm := packet.ChecksumPseudoHeader // keepalived 2.2.7 sends only this form
				if a.Version == 2 {
					wantForm = packet.ChecksumMessage
				}
				if info.Checksum != wantForm {
					t.Errorf("frame %d: checksum form %v, want %v", p.frame, info.Checksum, wantForm)
				}
				if p.src.Is6() != info.NoLinkLocalFirst {
					// keepalived puts only the configured fd99::100 in the list.
					t.Errorf("frame %d: NoLinkLocalFirst %v, want %v", p.frame, info.NoLinkLocalFirst, p.src.Is6())
				}
				fmt.Fprintln(&got, tsharkLine(p, &a, err))

				b, err := a.Append(nil, p.src, p.dst, info.Checksum)
				if err != nil {
					t.Errorf("frame %d: Append: %v", p.frame, err)
				}
				if diff := cmp.Diff(p.msg, b); diff != "" {
					t.Errorf("frame %d: Append (-want +got):\n%s", p.frame, diff)
				}
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("fields against tshark's decode in %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestTsharkChecksum runs tshark on every capture and checks that our
// checksum verdict agrees with vrrp.checksum.status for every packet. It
// then writes a capture of advertisements we marshal in each checksum form
// and checks tshark's verdict with its VRRPv3 checksum preference set
// either way, an independent check of the RFC 9568 message-only form that
// no peer in the lab sends.
func TestTsharkChecksum(t *testing.T) {
	requireTshark(t)
	for _, file := range captures(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			verdicts := map[int]string{}
			for line := range strings.Lines(runTshark(t, "-r", file, "-Y", "vrrp", "-T", "fields", "-e", "frame.number", "-e", "vrrp.checksum.status")) {
				f := strings.Fields(line)
				if len(f) != 2 {
					t.Fatalf("tshark line %q", line)
				}
				verdicts[atoi(t, f[0])] = f[1]
			}
			pkts := readCapture(t, file)
			if len(pkts) != len(verdicts) {
				t.Errorf("%d VRRP packets, tshark decodes %d", len(pkts), len(verdicts))
			}
			for _, p := range pkts {
				_, _, err := packet.Parse(p.msg, p.src, p.dst)
				ours := "1"
				if err != nil {
					ours = "0"
				}
				if verdicts[p.frame] != ours {
					t.Errorf("frame %d: checksum status %q, tshark %q (err %v)", p.frame, ours, verdicts[p.frame], err)
				}
			}
		})
	}

	t.Run("marshalled", func(t *testing.T) {
		src4, dst4 := netip.MustParseAddr("10.99.0.1"), packet.GroupIPv4
		src6, dst6 := netip.MustParseAddr("fe80::ff:fe00:1"), packet.GroupIPv6
		advs := []struct {
			a        packet.Advertisement
			src, dst netip.Addr
			form     packet.Checksum
		}{
			{packet.Advertisement{Version: 3, VRID: 51, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("10.99.0.100", "10.99.0.101")}, src4, dst4, packet.ChecksumMessage},
			{packet.Advertisement{Version: 3, VRID: 51, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("10.99.0.100", "10.99.0.101")}, src4, dst4, packet.ChecksumPseudoHeader},
			{packet.Advertisement{Version: 3, VRID: 7, Priority: 200, MaxAdvertInt: 4095, Addrs: addrs("192.0.2.1")}, src4, dst4, packet.ChecksumMessage},
			{packet.Advertisement{Version: 3, VRID: 52, Priority: 150, MaxAdvertInt: 100, Addrs: addrs("fe80::1", "fd99::100")}, src6, dst6, packet.ChecksumPseudoHeader},
			{packet.Advertisement{Version: 2, VRID: 53, Priority: 150, MaxAdvertInt: 1, AuthType: packet.AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1'}, Addrs: addrs("10.99.0.102")}, src4, dst4, packet.ChecksumMessage},
		}
		path := filepath.Join(t.TempDir(), "marshalled.pcap")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pcap.NewWriter(f, pcap.LinkTypeRaw)
		if err != nil {
			t.Fatal(err)
		}
		for _, ad := range advs {
			msg, err := ad.a.Append(nil, ad.src, ad.dst, ad.form)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteRecord(ts, ipPacket(ad.src, ad.dst, msg)); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		// tshark verifies VRRPv3 over IPv4 in one form, chosen by
		// vrrp.v3_checksum_as_in_v2; VRRPv2 and IPv6 are unaffected.
		for _, asV2 := range []bool{false, true} {
			out := runTshark(t, "-o", "vrrp.v3_checksum_as_in_v2:"+strings.ToUpper(strconv.FormatBool(asV2)),
				"-r", path, "-Y", "vrrp", "-T", "fields", "-e", "vrrp.checksum.status")
			var got, want []string
			for line := range strings.Lines(out) {
				got = append(got, strings.TrimSpace(line))
			}
			for _, ad := range advs {
				v := "1"
				if ad.a.Version == 3 && ad.src.Is4() && (ad.form == packet.ChecksumMessage) != asV2 {
					v = "0"
				}
				want = append(want, v)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tshark checksum status, v3_checksum_as_in_v2=%v (-want +got):\n%s", asV2, diff)
			}
		}
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
