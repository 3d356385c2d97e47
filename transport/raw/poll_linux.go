//go:build linux

package raw

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The polled receive socket: see "Polled receive" in the package
// documentation.

// poller is a Conn's receive socket with Config.Poll: a protocol-112
// socket that the Go runtime's poller does not know. While packets come,
// the reader looks every Poll and takes what came meanwhile, and a packet
// arriving wakes nobody; once a look finds the socket empty, the reader
// waits for the next packet through an epoll instance of its own, where
// the socket is registered one-shot (EPOLLONESHOT) and which the
// runtime's poller watches: only the first packet after a quiet spell
// wakes the process (and is read at once), as on a socket the runtime
// watches itself, and the one-shot registration stays disarmed while the
// reader paces its looks.
type poller struct {
	every time.Duration
	// fmu guards fd against Close: every use of it holds fmu for
	// reading, Close for writing before it closes fd (a number the kernel
	// could hand to another file at once).
	fmu sync.RWMutex
	fd  int // -1 once closed
	// ep is the epoll instance (in the runtime's poller, which handles
	// its deadline and Close); erc is its syscall.RawConn.
	ep  *os.File
	erc syscall.RawConn
	// closing is closed by Close: a reader pausing between looks returns
	// at once.
	closing chan struct{}
	closed  atomic.Bool
	// wake (capacity 1) tells a pausing reader that SetReadDeadline
	// changed the deadline; ep has it too.
	wake chan struct{}
	// Under Conn.rmu: timer paces the reader; busy says the last look
	// found packets and emptied the socket (the next look comes Poll
	// later); deadline is SetReadDeadline's (Unix nanoseconds, 0: none,
	// an atomic: set by any goroutine); evs and armFn, epoll_wait's and
	// the re-arming's, bound once.
	timer    *time.Timer
	busy     bool
	deadline atomic.Int64
	evs      [1]unix.EpollEvent
	armErr   error
	armFn    func(uintptr)
	drainFn  func(uintptr) bool
}

// openPoll opens the receive socket of a Conn with Config.Poll: bound to
// device bind if not empty, with the receive options newConn sets on
// ipc, and mutes ipc, which then only sends and holds the memberships.
// The socket takes the multicast groups that ipc, or ListenMulti's
// helper sockets, joined (IP_MULTICAST_ALL, IPV6_MULTICAST_ALL: on,
// the kernel's default).
func (c *Conn) openPoll(every time.Duration, ifname, bind string) (err error) {
	domain := unix.AF_INET
	if c.family == 6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, vrrpProto)
	if err != nil {
		return opError(ifname, "raw socket", os.NewSyscallError("socket", err))
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	if bind != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, bind); err != nil {
			return opError(ifname, "bind to device", os.NewSyscallError("setsockopt SO_BINDTODEVICE", err))
		}
	}
	set := func(level, opt, v int) error { return unix.SetsockoptInt(fd, level, opt, v) }
	if c.family == 4 {
		err = errors.Join(set(unix.IPPROTO_IP, unix.IP_PKTINFO, 1), set(unix.IPPROTO_IP, unix.IP_RECVTTL, 1))
	} else {
		err = errors.Join(set(unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1), set(unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1))
	}
	if err = errors.Join(err, set(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)); err != nil {
		return opError(ifname, "socket option", os.NewSyscallError("setsockopt", err))
	}
	_ = set(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) // best effort, as on ipc
	if set(unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufBytes) != nil {
		_ = set(unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufBytes)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return opError(ifname, "receive socket", os.NewSyscallError("epoll_create1", err))
	}
	// Armed: the first packet wakes the first read.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(epfd)
		return opError(ifname, "receive socket", os.NewSyscallError("epoll_ctl", err))
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return opError(ifname, "receive socket", os.NewSyscallError("fcntl", err))
	}
	ep := os.NewFile(uintptr(epfd), "vrrp-poll")
	erc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return opError(ifname, "receive socket", err)
	}
	if err := c.mute(ifname); err != nil {
		ep.Close()
		return err
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	p := &poller{every: every, fd: fd, ep: ep, erc: erc, closing: make(chan struct{}), wake: make(chan struct{}, 1), timer: t}
	p.armFn = p.arm
	p.drainFn = p.drain
	c.poll = p
	return nil
}

// mute attaches a socket filter that accepts nothing to ipc: the kernel
// then queues nothing on it (and wakes nobody), as when another socket
// or a ring receives for the Conn.
func (c *Conn) mute(ifname string) error {
	var ferr error
	if err := c.rc.Control(func(s uintptr) {
		prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}} // accept nothing
		ferr = unix.SetsockoptSockFprog(int(s), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &prog[0]})
	}); err != nil || ferr != nil {
		return opError(ifname, "socket filter", errors.Join(err, ferr))
	}
	return nil
}

// control runs f on the receive socket's descriptor: the polled one, or
// ipc's.
func (c *Conn) control(f func(fd uintptr)) error {
	p := c.poll
	if p == nil {
		return c.rc.Control(f)
	}
	p.fmu.RLock()
	defer p.fmu.RUnlock()
	if p.fd < 0 {
		return net.ErrClosed
	}
	f(uintptr(p.fd))
	return nil
}

// rcvsockopt sets an integer option of the receive socket.
func (c *Conn) rcvsockopt(level, opt, v int) error {
	var serr error
	if err := c.control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), level, opt, v)
	}); err != nil {
		return err
	}
	return serr
}

// waitRead runs c.readFn on the receive socket until it reports done:
// through the runtime's poller, or polled (see poller): Poll after a
// look that found packets and emptied the socket, at once after one that
// filled its batch or found none, and after an empty look in await
// until a packet is there, the deadline passes or the Conn is closed.
// Called with c.rmu held.
func (c *Conn) waitRead() error {
	p := c.poll
	if p == nil {
		return c.rc.Read(c.readFn)
	}
	for {
		if p.closed.Load() {
			return net.ErrClosed
		}
		// As with the runtime's poller, a deadline that has passed fails
		// the read even if a packet is there.
		left := time.Duration(-1)
		if dl := p.deadline.Load(); dl != 0 {
			if left = time.Duration(dl - time.Now().UnixNano()); left <= 0 {
				return os.ErrDeadlineExceeded
			}
		}
		if p.busy {
			// Packets came at the last look: let more gather.
			p.busy = false
			wait := p.every
			if left >= 0 {
				wait = min(wait, left)
			}
			p.timer.Reset(wait)
			select {
			case <-p.timer.C:
			case <-p.wake:
				p.timer.Stop()
				continue
			case <-p.closing:
				p.timer.Stop()
				return net.ErrClosed
			}
		}
		p.fmu.RLock()
		if p.fd < 0 {
			p.fmu.RUnlock()
			return net.ErrClosed
		}
		if c.readFn(uintptr(p.fd)) {
			p.fmu.RUnlock()
			// A whole batch: more is queued, read it at once. A short
			// one emptied the socket while packets come: pause.
			// (ReadFrom's single message is always whole.)
			p.busy = c.bvlen > 0 && c.rn < c.bvlen
			return nil
		}
		p.fmu.RUnlock()
		// Empty: wait for a packet (or a deadline, or Close).
		if err := p.await(); err != nil {
			return err
		}
	}
}

// await re-arms the socket's one-shot registration and waits, in the
// runtime's poller, until the epoll instance reports it readable (a
// packet came, or was there already when re-armed), its deadline passes
// or the Conn is closed.
func (p *poller) await() error {
	p.armErr = nil
	if err := p.erc.Control(p.armFn); err != nil {
		if p.closed.Load() || errors.Is(err, os.ErrClosed) {
			return net.ErrClosed
		}
		return err
	}
	if p.armErr != nil {
		return os.NewSyscallError("epoll_ctl", p.armErr)
	}
	if err := p.erc.Read(p.drainFn); err != nil {
		if p.closed.Load() || errors.Is(err, os.ErrClosed) {
			return net.ErrClosed
		}
		return err
	}
	return nil
}

// arm is await's syscall.RawConn.Control callback: it re-arms the
// socket in the epoll instance ep.
func (p *poller) arm(ep uintptr) {
	p.fmu.RLock()
	defer p.fmu.RUnlock()
	if p.fd < 0 {
		p.armErr = net.ErrClosed
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(p.fd)}
	p.armErr = unix.EpollCtl(int(ep), unix.EPOLL_CTL_MOD, p.fd, &ev)
}

// drain is await's syscall.RawConn.Read callback: whether the epoll
// instance reports the socket (which disarms it); if not, the runtime's
// poller waits for it.
func (p *poller) drain(ep uintptr) bool {
	for {
		n, err := unix.EpollWait(int(ep), p.evs[:], 0)
		if err == unix.EINTR {
			continue
		}
		return n > 0 || err != nil
	}
}

// setDeadline sets the read deadline (0: none) and wakes a waiting
// reader to look at it.
func (p *poller) setDeadline(t time.Time) {
	var ns int64
	if !t.IsZero() {
		ns = max(t.UnixNano(), 1)
	}
	p.deadline.Store(ns)
	_ = p.ep.SetReadDeadline(t)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// close closes the receive socket once no call uses it.
func (p *poller) close() error {
	if p.closed.Swap(true) {
		return nil
	}
	close(p.closing)
	eerr := p.ep.Close() // a reader waiting in await returns
	p.fmu.Lock()
	defer p.fmu.Unlock()
	err := unix.Close(p.fd)
	p.fd = -1
	return errors.Join(err, eerr)
}
