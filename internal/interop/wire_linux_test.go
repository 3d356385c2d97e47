//go:build linux

package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/govrrp/govrrp/packet"
)

// A wireAdvert is one VRRP packet of a capture as the project's own
// decoder (package packet) sees it.
type wireAdvert struct {
	Number   int // frame number, 1-based, as tshark numbers frames
	Time     time.Time
	Src, Dst netip.Addr
	TTL      uint8
	Adv      packet.Advertisement // Addrs is a copy
	Info     packet.Info
	Err      error // from Unmarshal: nil when the packet is valid in an accepted checksum form
}

// decodeCapture reads a pcap file and decodes every VRRP packet (IP
// protocol / next header 112) with packet.Unmarshal.
func decodeCapture(file string) ([]wireAdvert, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcap.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, err
	}
	var out []wireAdvert
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		et, b, err := pcap.Network(r.LinkType(), rec.Data)
		if err != nil || (et != pcap.EtherTypeIPv4 && et != pcap.EtherTypeIPv6) {
			continue // ARP and the like
		}
		ip, err := pcap.ParseIP(et, b)
		if err != nil || ip.Protocol != packet.Protocol {
			continue
		}
		w := wireAdvert{Number: rec.Number, Time: rec.Time, Src: ip.Src, Dst: ip.Dst, TTL: ip.TTL}
		if ip.Truncated {
			w.Err = fmt.Errorf("frame %d: truncated capture (%d bytes)", rec.Number, len(rec.Data))
		} else {
			w.Info, w.Err = w.Adv.Unmarshal(ip.Payload, ip.Src, ip.Dst)
			w.Adv.Addrs = slices.Clone(w.Adv.Addrs)
		}
		out = append(out, w)
	}
}

// tsharkChecksums returns tshark's vrrp.checksum.status (1 good, 0 bad,
// 2 unverified) for every VRRP packet of file, in order, decoded with the
// given extra tshark options (for example "-o",
// "vrrp.v3_checksum_as_in_v2:TRUE", tshark's switch for the RFC 9568
// message-only form of the VRRPv3 IPv4 checksum; tshark 4.0 checks the
// pseudo-header form otherwise).
func tsharkChecksums(file string, opts ...string) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"-n", "-r", file}, opts...)
	args = append(args, "-Y", "vrrp", "-T", "fields", "-e", "vrrp.checksum.status")
	c := exec.CommandContext(ctx, "tshark", args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	var st []int
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			return nil, fmt.Errorf("tshark checksum status %q: %v", l, err)
		}
		st = append(st, v)
	}
	return st, nil
}
