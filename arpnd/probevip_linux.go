//go:build linux

package arpnd

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/govrrp/govrrp/internal/ifaceio"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// NewProber returns a Prober for the interfaces of this host. Its
// sockets (AF_PACKET, CAP_NET_RAW) open with the first Add of each family,
// in the network namespace of the thread that called NewProber, whatever
// thread calls Add; Add looks the interface's MAC and link-local address
// up there too, unless cfg.Interface is set.
func NewProber(cfg ProberConfig) (*Prober, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("arpnd: current network namespace: %w", err)
	}
	p := newProber(cfg)
	lp := &linuxPlatform{ns: ns} // only its do, to run in ns
	p.open = func(v6 bool) (c ProbeConn, err error) {
		err = lp.do(func() error {
			c, err = openProbeConn(v6)
			return err
		})
		return c, err
	}
	if cfg.Interface == nil {
		p.lookup = func(t *ProbeTarget) error {
			return lp.do(func() error { return lookupProbeTarget(t) })
		}
	}
	p.closeNS = func() { ns.Close() }
	return p, nil
}

// lookupProbeTarget fills in t's interface MAC and, for an IPv6 address,
// its link-local address, where missing.
func lookupProbeTarget(t *ProbeTarget) error {
	name, err := ifaceio.NameByIndex(t.IfIndex)
	if err != nil {
		return fmt.Errorf("arpnd: interface index %d: %w", t.IfIndex, err)
	}
	if t.HardwareAddr == nil {
		mac, err := ifaceio.HardwareAddr(name)
		if err != nil {
			return fmt.Errorf("arpnd: interface %q: %w", name, err)
		}
		if checkMAC(mac) != nil {
			return fmt.Errorf("%w: interface %q is not Ethernet", ErrBadProbeTarget, name)
		}
		t.HardwareAddr = mac
	}
	if t.Addr.Is6() && !t.LinkLocal.IsValid() {
		t.LinkLocal = linkLocal(&net.Interface{Name: name, Index: t.IfIndex})
	}
	return nil
}

// BPF programs of the probe sockets: incoming ARP replies; incoming
// ICMPv6 Neighbor Advertisements.
var (
	bpfARPReply = []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType}, // packet type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 3},
		bpf.LoadAbsolute{Off: 20, Size: 2}, // ARP operation
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 2, SkipTrue: 1},
		bpf.RetConstant{Val: 1600},
		bpf.RetConstant{Val: 0},
	}
	bpfNA = bpfICMPv6(icmpTypeNA)
)

// probeConn is an AF_PACKET SOCK_RAW socket bound to no interface: it
// receives the frames of its EtherType from every interface of its
// namespace (as its filter lets through) and sends on the interface each
// WriteFrame names. Reads and writes go through the runtime's poller
// (closing it ends a blocked read) with raw recvfrom / sendto calls and
// buffers of its own, so neither allocates.
type probeConn struct {
	f     *os.File
	rc    syscall.RawConn
	proto uint16

	// The reader's state (one reader goroutine).
	rbuf   []byte
	rsa    unix.RawSockaddrLinklayer
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wsa     unix.RawSockaddrLinklayer
	werr    error
	writeFn func(fd uintptr) bool

	// WriteFrames' state (under wmu): one sendmmsg of msgs[:bn], each
	// message's iovec and link-layer address in the arrays beside it,
	// built once; bsent is how many the call sent.
	msgs    [probeBatchMax]mmsghdr
	iovs    [probeBatchMax]unix.Iovec
	sas     [probeBatchMax]unix.RawSockaddrLinklayer
	bn      int
	bsent   int
	batchFn func(fd uintptr) bool
}

var _ ProbeBatchConn = (*probeConn)(nil)

// mmsghdr is struct mmsghdr of sendmmsg(2): a msghdr and the length
// sent, padded to the alignment of a pointer.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

func openProbeConn(v6 bool) (*probeConn, error) {
	proto, prog, what := uint16(etherTypeARP), bpfARPReply, "ARP"
	if v6 {
		proto, prog, what = etherTypeIPv6, bpfNA, "IPv6"
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(proto)))
	if err != nil {
		return nil, privErr("(all)", "open "+what+" probe socket", "CAP_NET_RAW", err)
	}
	raw := assemble(prog)
	fp := unix.SockFprog{Len: uint16(len(raw)), Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("arpnd: %s probe socket filter: %w", what, err)
	}
	// Frames queued before the filter was attached may be of any kind;
	// the parser drops them.
	f := os.NewFile(uintptr(fd), "arpnd-probe-"+what)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &probeConn{f: f, rc: rc, proto: proto}
	c.readFn = func(fd uintptr) bool {
		salen := uint32(unsafe.Sizeof(c.rsa))
		var p unsafe.Pointer
		if len(c.rbuf) > 0 {
			p = unsafe.Pointer(&c.rbuf[0])
		}
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(c.rbuf)), 0,
			uintptr(unsafe.Pointer(&c.rsa)), uintptr(unsafe.Pointer(&salen)))
		if e == unix.EAGAIN {
			return false
		}
		c.rn, c.rerr = int(n), nil
		if e != 0 {
			c.rn, c.rerr = 0, e
		}
		return true
	}
	c.writeFn = func(fd uintptr) bool {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&c.wbuf[0])), uintptr(len(c.wbuf)), 0,
			uintptr(unsafe.Pointer(&c.wsa)), unsafe.Sizeof(c.wsa))
		if e == unix.EAGAIN {
			return false
		}
		c.werr = nil
		if e != 0 {
			c.werr = e
		}
		return true
	}
	for i := range c.msgs {
		c.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&c.sas[i]))
		c.msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(c.sas[i]))
		c.msgs[i].hdr.Iov = &c.iovs[i]
		c.msgs[i].hdr.SetIovlen(1)
	}
	c.batchFn = func(fd uintptr) bool {
		for {
			n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.msgs[0])), uintptr(c.bn), 0, 0, 0)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			case 0:
				c.bsent, c.werr = int(n), nil
			default:
				c.bsent, c.werr = 0, e
			}
			return true
		}
	}
	return c, nil
}

// ReadFrame reads one frame that the host did not send, from an Ethernet
// interface.
func (c *probeConn) ReadFrame(b []byte) (int, int, error) {
	for {
		c.rbuf = b
		err := c.rc.Read(c.readFn)
		c.rbuf = nil
		if err != nil {
			return 0, 0, err
		}
		if c.rerr != nil {
			return 0, 0, os.NewSyscallError("recvfrom", c.rerr)
		}
		if c.rsa.Pkttype == unix.PACKET_OUTGOING {
			continue // the filter drops them, but not those queued before it
		}
		if c.rsa.Hatype != unix.ARPHRD_ETHER {
			// Not an Ethernet interface (loopback, a tun device, whose
			// frames have no Ethernet header): nothing to probe there.
			continue
		}
		return c.rn, int(c.rsa.Ifindex), nil
	}
}

// WriteFrame sends b on interface ifindex, to the frame's destination MAC.
func (c *probeConn) WriteFrame(b []byte, ifindex int) error {
	if len(b) < ethHeaderLen {
		return fmt.Errorf("%w: %d bytes", errMalformed, len(b))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = b
	c.wsa = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(c.proto), Ifindex: int32(ifindex), Halen: 6}
	copy(c.wsa.Addr[:], b[0:6])
	err := c.rc.Write(c.writeFn)
	c.wbuf = nil
	if err != nil {
		return err
	}
	if c.werr != nil {
		return os.NewSyscallError("sendto", c.werr)
	}
	return nil
}

func (c *probeConn) Close() error { return c.f.Close() }

// WriteFrames sends fs, each on its interface to its frame's destination
// MAC, with as few sendmmsg(2) calls as the kernel takes (one when none
// fails): the ProbeBatchConn of Prober.SendBatch. The kernel stops a
// sendmmsg at the first message that fails and returns the count sent
// before it, without the error; the next call, starting at that message,
// returns it.
func (c *probeConn) WriteFrames(fs []ProbeFrame) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	defer clear(c.iovs[:]) // do not keep the callers' frames alive
	sent := 0
	for sent < len(fs) {
		chunk := fs[sent:min(len(fs), sent+probeBatchMax)]
		for i, f := range chunk {
			if len(f.B) < ethHeaderLen {
				if i == 0 {
					return sent, fmt.Errorf("%w: %d bytes", errMalformed, len(f.B))
				}
				chunk = chunk[:i] // send those before it; the next call reports it
				break
			}
			c.iovs[i].Base = &f.B[0]
			c.iovs[i].SetLen(len(f.B))
			c.sas[i] = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(c.proto), Ifindex: int32(f.IfIndex), Halen: 6}
			copy(c.sas[i].Addr[:], f.B[0:6])
		}
		c.bn = len(chunk)
		if err := c.rc.Write(c.batchFn); err != nil {
			return sent, err
		}
		if c.werr != nil {
			return sent, os.NewSyscallError("sendmmsg", c.werr)
		}
		if c.bsent == 0 {
			return sent, os.NewSyscallError("sendmmsg", unix.EIO) // sent nothing, said nothing: not expected
		}
		sent += c.bsent
	}
	return sent, nil
}
