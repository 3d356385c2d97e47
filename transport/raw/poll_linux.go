//go:build linux

package raw

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The polled receive socket: see "Polled receive" in the package
// documentation.

// poller is a Conn's receive socket with Config.Poll: a protocol-112
// socket that the Go runtime's poller does not know. While packets come,
// the reader looks every Poll and takes what came meanwhile, and a packet
// arriving wakes nobody; once a look finds the socket empty, the reader
// waits in poll(2) on it, so that a quiet socket (a master's, which hears
// nobody) costs no wake-up at all, and the first packet after a quiet
// spell is read at once.
type poller struct {
	every time.Duration
	// fmu guards fd and efd against Close: every use of them holds it
	// for reading, Close for writing before it closes them (numbers the
	// kernel could hand to other files at once).
	fmu sync.RWMutex
	fd  int // -1 once closed
	// efd is an eventfd that wakes a reader waiting in poll(2): Close and
	// SetReadDeadline write to it.
	efd int
	// closing is closed by Close: a reader waiting between looks returns
	// at once.
	closing chan struct{}
	closed  atomic.Bool
	// deadline is SetReadDeadline's, in Unix nanoseconds; 0: none.
	// A new one is signalled on wake (capacity 1) and efd, so that a
	// waiting reader looks at it at once.
	deadline atomic.Int64
	wake     chan struct{}
	// Under Conn.rmu: timer paces the reader; busy says the last look
	// found packets and emptied the socket (the next look comes Poll
	// later); pfds is poll(2)'s.
	timer *time.Timer
	busy  bool
	pfds  [2]unix.PollFd
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
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return opError(ifname, "receive socket", os.NewSyscallError("eventfd", err))
	}
	if err := c.mute(ifname); err != nil {
		unix.Close(efd)
		return err
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	c.poll = &poller{every: every, fd: fd, efd: efd, closing: make(chan struct{}), wake: make(chan struct{}, 1), timer: t}
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
// filled its batch or found none, and after an empty look in poll(2)
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
		// Empty: wait for a packet (or a deadline, or Close).
		err := p.block(left)
		p.fmu.RUnlock()
		if err != nil {
			return err
		}
	}
}

// block waits in poll(2) until the socket is readable, efd is written or
// left (if not negative) has passed. Called with fmu held for reading.
func (p *poller) block(left time.Duration) error {
	ms := -1
	if left >= 0 {
		ms = int((left + time.Millisecond - 1) / time.Millisecond)
	}
	p.pfds[0] = unix.PollFd{Fd: int32(p.fd), Events: unix.POLLIN}
	p.pfds[1] = unix.PollFd{Fd: int32(p.efd), Events: unix.POLLIN}
	for {
		_, err := unix.Poll(p.pfds[:], ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		break
	}
	if p.pfds[1].Revents&unix.POLLIN != 0 {
		var b [8]byte
		_, _ = unix.Read(p.efd, b[:])
	}
	return nil
}

// setDeadline sets the read deadline (0: none) and wakes a waiting
// reader to look at it.
func (p *poller) setDeadline(ns int64) {
	p.deadline.Store(ns)
	select {
	case p.wake <- struct{}{}:
	default:
	}
	p.kick()
}

// kick wakes a reader waiting in poll(2).
func (p *poller) kick() {
	p.fmu.RLock()
	defer p.fmu.RUnlock()
	if p.efd >= 0 {
		one := [8]byte{1} // a native-endian 1 on little-endian hosts; any non-zero value wakes
		_, _ = unix.Write(p.efd, one[:])
	}
}

// close closes the receive socket once no call uses it.
func (p *poller) close() error {
	if p.closed.Swap(true) {
		return nil
	}
	close(p.closing)
	p.kick()
	p.fmu.Lock()
	defer p.fmu.Unlock()
	err := errors.Join(unix.Close(p.fd), unix.Close(p.efd))
	p.fd, p.efd = -1, -1
	return err
}
