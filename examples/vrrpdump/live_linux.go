//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/govrrp/govrrp/internal/pcap"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// vrrpFilter is a classic BPF program for a SOCK_DGRAM packet socket
// (offsets from the network header): it keeps IPv4 protocol 112 and IPv6
// next header 112 or 0 (hop-by-hop options, checked again in user space).
var vrrpFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 0, Size: 1},
	bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipFalse: 3},
	bpf.LoadAbsolute{Off: 9, Size: 1}, // IPv4 protocol
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipTrue: 6},
	bpf.RetConstant{Val: 0},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipFalse: 3},
	bpf.LoadAbsolute{Off: 6, Size: 1}, // IPv6 next header
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipTrue: 2},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1},
	bpf.RetConstant{Val: 0},
	bpf.RetConstant{Val: 1 << 18},
}

// Multicast MAC addresses of 224.0.0.18 and ff02::12, joined so that the
// NIC passes the groups to the socket.
var groupMACs = []net.HardwareAddr{
	{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12},
	{0x33, 0x33, 0x00, 0x00, 0x00, 0x12},
}

// live dumps VRRP packets from interface name, IPv4 and IPv6, sent and
// received, on one AF_PACKET socket until ctx is done.
func (d *dumper) live(ctx context.Context, name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %q: %w", name, err)
	}
	prog, err := bpf.Assemble(vrrpFilter)
	if err != nil {
		return fmt.Errorf("assembling the BPF filter: %w", err)
	}
	c, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ALL, &packet.Config{Filter: prog})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("capturing on %s needs CAP_NET_RAW (run as root): %w", name, err)
		}
		return fmt.Errorf("capturing on %s: %w", name, err)
	}
	defer c.Close()
	if len(ifi.HardwareAddr) == 6 {
		for _, mac := range groupMACs {
			if err := c.JoinGroup(mac); err != nil {
				return fmt.Errorf("joining %v on %s: %w", mac, name, err)
			}
		}
	}
	// Cancelling ctx unblocks ReadFrom; stop() makes sure the callback
	// does not outlive this function.
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	buf := make([]byte, 1<<16)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading from %s: %w", name, err)
		}
		if n == 0 {
			continue
		}
		et := uint16(pcap.EtherTypeIPv4)
		if buf[0]>>4 == 6 {
			et = pcap.EtherTypeIPv6
		}
		if err := d.packet(time.Now(), et, buf[:n], false); err != nil {
			return err
		}
	}
}
