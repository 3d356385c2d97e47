//go:build linux

package raw

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/govrrp/govrrp/transport"
	"golang.org/x/sys/unix"
)

// The receive ring: see "Receive ring" in the package documentation.

// The ring's capacity is in blocks as much as in bytes: a block is handed
// over ringTimeout after its first packet however few it holds, so a
// reader that stalls while packets trickle in (1,000 links at 100 ms: 10
// a millisecond) fills a block a millisecond. 16 blocks of 64 KiB held
// 16 ms of that (a backup stopped for longer dropped the rest, issue 12);
// 64 of 16 KiB hold 64 ms of it, and as many packets as before when they
// come faster. A block must hold the largest VRRP packet (IPv6 with 255
// addresses: 4,128 bytes) with its headers.
const (
	ringBlockSize = 1 << 14 // bytes per block
	ringBlocks    = 64      // blocks in the ring: 1 MiB
	// ringTimeout is how long the kernel keeps a block that is not full
	// before it hands it over: the longest a packet waits in the ring.
	ringTimeout = time.Millisecond
)

// ring is a TPACKET_V3 receive ring. Its methods are called with
// Conn.rmu held, but queued and drops, which the owner of a Conn calls
// while its reader waits in a read; Close (after closing f) takes rmu
// before unmapping.
type ring struct {
	f  *os.File
	rc syscall.RawConn
	// mmu guards mem against unmap for queued, which runs without rmu
	// (the owner asks while the reader waits in a read, holding rmu).
	mmu sync.RWMutex
	mem []byte
	cur int // block being read
	// held: block cur is ours (TP_STATUS_USER) until next gives it back.
	// off and left: the next packet in it and how many remain.
	held   bool
	off    int
	left   int
	closed atomic.Bool
	// dropped is what the kernel's PACKET_STATISTICS reported dropped so
	// far (each read of it resets the kernel's count).
	dropped atomic.Uint32
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// vrrpFilter returns the classic BPF program that keeps IPv4 packets of
// protocol 112, or IPv6 packets whose next header is 112 or an extension
// header that may precede it (hop-by-hop, routing, destination options,
// fragment: parsed in userspace). Offsets count from the IP header.
func vrrpFilter(fam int) []unix.SockFilter {
	const (
		ldb = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	if fam == 4 {
		return []unix.SockFilter{
			{Code: ldb, K: 9},
			{Code: jeq, Jt: 0, Jf: 1, K: vrrpProto},
			{Code: ret, K: 0xffff},
			{Code: ret, K: 0},
		}
	}
	return []unix.SockFilter{
		{Code: ldb, K: 6},
		{Code: jeq, Jt: 4, Jf: 0, K: vrrpProto},
		{Code: jeq, Jt: 3, Jf: 0, K: unix.IPPROTO_HOPOPTS},
		{Code: jeq, Jt: 2, Jf: 0, K: unix.IPPROTO_ROUTING},
		{Code: jeq, Jt: 1, Jf: 0, K: unix.IPPROTO_DSTOPTS},
		{Code: jeq, Jt: 0, Jf: 1, K: unix.IPPROTO_FRAGMENT},
		{Code: ret, K: 0xffff},
		{Code: ret, K: 0},
	}
}

// openRing opens the ring for family fam on interface ifindex (0: every
// interface, for ListenMulti).
func openRing(fam, ifindex int, ifname string) (_ *ring, err error) {
	proto := htons(unix.ETH_P_IP)
	if fam == 6 {
		proto = htons(unix.ETH_P_IPV6)
	}
	// Protocol 0 until the filter and the ring are in place, so that
	// nothing unfiltered is queued; bind sets the real protocol.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opError(ifname, "raw socket", os.NewSyscallError("socket", err))
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	prog := vrrpFilter(fam)
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
		return nil, opError(ifname, "socket filter", os.NewSyscallError("setsockopt", err))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, opError(ifname, "receive ring", os.NewSyscallError("setsockopt PACKET_VERSION", err))
	}
	// Our own packets (and other local senders') are not wanted: the
	// kernel would otherwise hand every outgoing packet to the ring too.
	// Before Linux 4.20 the option is missing; the own-address filter
	// still drops them.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	req := unix.TpacketReq3{
		Block_size:     ringBlockSize,
		Block_nr:       ringBlocks,
		Frame_size:     unix.TPACKET_ALIGNMENT << 7,
		Frame_nr:       ringBlockSize * ringBlocks / (unix.TPACKET_ALIGNMENT << 7),
		Retire_blk_tov: uint32(ringTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, opError(ifname, "receive ring", os.NewSyscallError("setsockopt PACKET_RX_RING", err))
	}
	mem, err := unix.Mmap(fd, 0, ringBlockSize*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, opError(ifname, "receive ring", os.NewSyscallError("mmap", err))
	}
	defer func() {
		if err != nil {
			unix.Munmap(mem)
		}
	}()
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex}); err != nil {
		return nil, opError(ifname, "bind to device", os.NewSyscallError("bind", err))
	}
	f := os.NewFile(uintptr(fd), "vrrp-ring")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Munmap(mem)
		return nil, opError(ifname, "receive ring", err)
	}
	return &ring{f: f, rc: rc, mem: mem}, nil
}

// block returns the header of block i.
func (r *ring) block(i int) *unix.TpacketHdrV1 {
	bd := (*unix.TpacketBlockDesc)(unsafe.Pointer(&r.mem[i*ringBlockSize]))
	return (*unix.TpacketHdrV1)(unsafe.Pointer(&bd.Hdr[0]))
}

// next returns the next packet in the ring, or ok false when no block is
// ready. The packet's bytes are in the ring: use them before the next call.
func (r *ring) next() (hdr *unix.Tpacket3Hdr, pkt []byte, ok bool) {
	for r.left == 0 {
		b := r.block(r.cur)
		if r.held {
			// Block cur is used up: give it back to the kernel.
			atomic.StoreUint32(&b.Block_status, unix.TP_STATUS_KERNEL)
			r.cur, r.held = (r.cur+1)%ringBlocks, false
			continue
		}
		if atomic.LoadUint32(&b.Block_status)&unix.TP_STATUS_USER == 0 {
			return nil, nil, false
		}
		r.held, r.left, r.off = true, int(b.Num_pkts), int(b.Offset_to_first_pkt)
	}
	base := r.cur * ringBlockSize
	hdr = (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.mem[base+r.off]))
	start := base + r.off + int(hdr.Net)
	end := start + int(hdr.Snaplen)
	if end > base+ringBlockSize || start > end {
		// Cannot happen with a sane kernel; never read outside the block.
		start, end = base, base
	}
	pkt = r.mem[start:end]
	r.left--
	if r.left > 0 {
		r.off += int(hdr.Next_offset)
	}
	return hdr, pkt, true
}

// giveBack returns block cur to the kernel if every packet of it was
// read (its bytes were copied out).
func (r *ring) giveBack() {
	if r.held && r.left == 0 {
		atomic.StoreUint32(&r.block(r.cur).Block_status, unix.TP_STATUS_KERNEL)
		r.cur, r.held = (r.cur+1)%ringBlocks, false
	}
}

// close closes the socket; a blocked read returns. The memory stays
// mapped until unmap, which the caller runs once no reader can use it.
func (r *ring) close() error {
	r.closed.Store(true)
	return r.f.Close()
}

func (r *ring) unmap() error {
	r.mmu.Lock()
	defer r.mmu.Unlock()
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem = nil
	return err
}

// queued reports whether a block the kernel handed over is still the
// reader's (TP_STATUS_USER): packets in it may not have been read. A
// block the kernel still fills is handed over within ringTimeout. Safe
// to call while the reader reads.
func (r *ring) queued() (bool, error) {
	r.mmu.RLock()
	defer r.mmu.RUnlock()
	if r.mem == nil || r.closed.Load() {
		return false, net.ErrClosed
	}
	for i := range ringBlocks {
		if atomic.LoadUint32(&r.block(i).Block_status)&unix.TP_STATUS_USER != 0 {
			return true, nil
		}
	}
	return false, nil
}

// drops returns the packets the kernel dropped for want of a free block
// so far (PACKET_STATISTICS, tp_drops, added up across reads). The
// Router asks when its reader catches up after falling behind, not per
// packet.
func (r *ring) drops() (uint32, error) {
	var st *unix.TpacketStatsV3
	var gerr error
	if err := r.rc.Control(func(fd uintptr) {
		st, gerr = unix.GetsockoptTpacketStatsV3(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
	}); err != nil {
		return 0, err
	}
	if gerr != nil {
		return 0, os.NewSyscallError("getsockopt PACKET_STATISTICS", gerr)
	}
	return r.dropped.Add(st.Drops), nil
}

// ringRead fills ms from the ring, blocking until at least one VRRP
// message passes the filters. Called with c.rmu held.
func (c *Conn) ringRead(ms []transport.Message) (int, error) {
	r := c.ring
	if r.mem == nil || r.closed.Load() {
		return 0, opError(c.name, "read", net.ErrClosed)
	}
	c.rms, c.rk = ms, 0
	err := r.rc.Read(c.ringFn)
	k := c.rk
	c.rms = nil // do not keep the caller's buffers
	if err != nil {
		if r.closed.Load() || errors.Is(err, os.ErrClosed) {
			err = net.ErrClosed
		}
		return 0, opError(c.name, "read", err)
	}
	c.received.Add(uint64(k))
	return k, nil
}

// ringFill is the syscall.RawConn.Read callback of ringRead (bound once,
// as c.ringFn, so that reading allocates nothing): it moves ready packets
// into c.rms and reports whether it got any; if not, the runtime's poller
// waits for the kernel to hand over a block.
func (c *Conn) ringFill(uintptr) bool {
	for c.rk < len(c.rms) {
		hdr, pkt, ok := c.ring.next()
		if !ok {
			break
		}
		if c.ringPacket(hdr, pkt, &c.rms[c.rk]) {
			c.rk++
		}
	}
	// A block read to its end goes back to the kernel now, not at the
	// next read: Queued counts the blocks still the reader's.
	c.ring.giveBack()
	return c.rk > 0
}

// sllIfindex returns the interface index of the struct sockaddr_ll that
// follows a TPACKET_V3 header, and its packet type.
func sllOf(hdr *unix.Tpacket3Hdr) (ifindex int, pkttype uint8) {
	const off = (unix.SizeofTpacket3Hdr + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)
	sll := (*unix.RawSockaddrLinklayer)(unsafe.Add(unsafe.Pointer(hdr), off))
	return int(sll.Ifindex), sll.Pkttype
}

// ringPacket parses the IP packet pkt from the ring into m (its VRRP
// message copied into m.Buf, resliced) and applies the transport's
// filters; it returns false, having counted the drop, for what is not to
// be delivered.
func (c *Conn) ringPacket(hdr *unix.Tpacket3Hdr, pkt []byte, m *transport.Message) bool {
	ifindex, pkttype := sllOf(hdr)
	if pkttype == unix.PACKET_OUTGOING {
		c.drop(&c.own, "own packet", ifindex, netip.Addr{})
		return false
	}
	if hdr.Snaplen < hdr.Len {
		c.drop(&c.truncated, "truncated", ifindex, netip.Addr{})
		return false
	}
	var meta transport.Meta
	var payload []byte
	var ok bool
	if c.family == 4 {
		payload, meta, ok = parseIPv4(pkt)
	} else {
		payload, meta, ok = parseIPv6(pkt)
	}
	if !ok {
		c.drop(&c.truncated, "malformed or fragmented IP packet", ifindex, meta.Src)
		return false
	}
	if len(payload) > len(m.Buf) {
		c.drop(&c.truncated, "truncated", ifindex, meta.Src)
		return false
	}
	meta.IfIndex = ifindex
	meta.Time = time.Unix(int64(hdr.Sec), int64(hdr.Nsec))
	if !c.admit(&meta) {
		return false
	}
	m.Buf = m.Buf[:copy(m.Buf, payload)]
	m.Meta = meta
	return true
}

// parseIPv4 returns the VRRP message of an IPv4 packet and its source,
// destination and TTL; fragments and malformed headers are not ok.
func parseIPv4(p []byte) ([]byte, transport.Meta, bool) {
	var m transport.Meta
	hlen, ttl, src, dst, ok := parseIPv4Header(p, len(p))
	if !ok {
		return nil, m, false
	}
	m.Src, m.Dst, m.TTL = src, dst, ttl
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if total < hlen || total > len(p) {
		return nil, m, false
	}
	if frag := binary.BigEndian.Uint16(p[6:8]); frag&0x3fff != 0 || p[9] != vrrpProto {
		return nil, m, false // MF set or an offset: a fragment
	}
	return p[hlen:total], m, true
}

// parseIPv6 returns the VRRP message of an IPv6 packet (after any
// hop-by-hop, routing or destination options headers, and any atomic
// fragment header) and its source, destination and hop limit; fragments
// and malformed headers are not ok.
//
// An atomic fragment, a Fragment header with offset 0 and M = 0 (RFC
// 6946; what a host sends after an ICMPv6 Packet Too Big below 1280,
// before RFC 8021), is a whole packet: RFC 8200 section 4.5 processes it
// as "a fully reassembled packet", as the kernel does for the protocol-112
// socket, so the ring accepts it too. A real fragment (an offset, or M
// set) would need reassembly, which the ring does not do.
func parseIPv6(p []byte) ([]byte, transport.Meta, bool) {
	var m transport.Meta
	if len(p) < 40 || p[0]>>4 != 6 {
		return nil, m, false
	}
	end := 40 + int(binary.BigEndian.Uint16(p[4:6]))
	if end > len(p) {
		return nil, m, false
	}
	m.Src = netip.AddrFrom16([16]byte(p[8:24]))
	m.Dst = netip.AddrFrom16([16]byte(p[24:40]))
	m.TTL = int(p[7])
	next, off := p[6], 40
	for next != vrrpProto {
		switch next {
		case unix.IPPROTO_HOPOPTS, unix.IPPROTO_ROUTING, unix.IPPROTO_DSTOPTS:
			if off+8 > end {
				return nil, m, false
			}
			next, off = p[off], off+(int(p[off+1])+1)*8
			if off > end {
				return nil, m, false
			}
		case unix.IPPROTO_FRAGMENT: // next header, reserved, offset (13 bits), 2 reserved bits, M, identification
			if off+8 > end {
				return nil, m, false
			}
			if binary.BigEndian.Uint16(p[off+2:off+4])&^0x6 != 0 {
				return nil, m, false // an offset or M set: a real fragment
			}
			next, off = p[off], off+8
		default: // not VRRP
			return nil, m, false
		}
	}
	return p[off:end], m, true
}
