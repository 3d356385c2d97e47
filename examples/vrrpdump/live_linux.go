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

// verboseFilter is vrrpFilter for -v: it keeps ARP over IPv4 and ICMPv6
// too, for the gratuitous ARP and unsolicited NA lines (checked in user
// space). An ARP packet starts with hardware type 1, so with a zero byte,
// and has protocol type 0x0800 at offset 2.
var verboseFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 0, Size: 1},
	bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipFalse: 3},
	bpf.LoadAbsolute{Off: 9, Size: 1}, // IPv4 protocol
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipTrue: 11},
	bpf.RetConstant{Val: 0},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipFalse: 5},
	bpf.LoadAbsolute{Off: 6, Size: 1}, // IPv6 next header
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipTrue: 7},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 6},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoICMPv6, SkipTrue: 5},
	bpf.RetConstant{Val: 0},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 2},
	bpf.LoadAbsolute{Off: 2, Size: 2}, // ARP protocol type
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: pcap.EtherTypeIPv4, SkipTrue: 1},
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
// received, on one AF_PACKET socket until ctx is done (or -c packets were
// shown). The socket delivers frames without their link-layer header: the
// source MAC comes from the socket address, the destination MAC is not
// known (dmac=-).
func (d *dumper) live(ctx context.Context, name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %q: %w", name, err)
	}
	filter := vrrpFilter
	if d.opt.verbose {
		filter = verboseFilter
	}
	prog, err := bpf.Assemble(filter)
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
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading from %s: %w", name, err)
		}
		if n == 0 {
			continue
		}
		// The socket address does not carry the protocol: tell it
		// from the first byte, IP version 4 or 6, else ARP (hardware
		// type 1 starts with a zero byte).
		var et uint16
		switch buf[0] >> 4 {
		case 4:
			et = pcap.EtherTypeIPv4
		case 6:
			et = pcap.EtherTypeIPv6
		case 0:
			et = etherTypeARP
		}
		f := frame{t: time.Now(), etherType: et, b: buf[:n]}
		if a, ok := from.(*packet.Addr); ok {
			f.smac = a.HardwareAddr
		}
		if err := d.packet(f); err != nil {
			return err
		}
	}
}
