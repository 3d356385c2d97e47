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
// socket that the Go runtime's poller does not know, so that a packet
// arriving wakes nobody; the reader checks it every Poll instead.
type poller struct {
	every time.Duration
	// fmu guards fd against Close: every use of fd holds it for reading,
	// Close for writing before it closes fd (a number the kernel could
	// hand to another file at once).
	fmu sync.RWMutex
	fd  int // -1 once closed
	// closing is closed by Close: a reader waiting between checks
	// returns at once.
	closing chan struct{}
	closed  atomic.Bool
	// deadline is SetReadDeadline's, in Unix nanoseconds; 0: none.
	// A new one is signalled on wake (capacity 1), so that a reader
	// waiting between checks looks at it at once.
	deadline atomic.Int64
	wake     chan struct{}
	// timer paces the reader (under Conn.rmu).
	timer *time.Timer
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
	if err := c.mute(ifname); err != nil {
		return err
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	c.poll = &poller{every: every, fd: fd, closing: make(chan struct{}), wake: make(chan struct{}, 1), timer: t}
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
// through the runtime's poller, or, polled, every Poll until a packet is
// there, the deadline passes or the Conn is closed. Called with c.rmu
// held.
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
		wait := p.every
		if dl := p.deadline.Load(); dl != 0 {
			left := time.Duration(dl - time.Now().UnixNano())
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			wait = min(wait, left)
		}
		p.fmu.RLock()
		done := p.fd >= 0 && c.readFn(uintptr(p.fd))
		p.fmu.RUnlock()
		if done {
			return nil
		}
		p.timer.Reset(wait)
		select {
		case <-p.timer.C:
		case <-p.wake:
			p.timer.Stop()
		case <-p.closing:
			p.timer.Stop()
			return net.ErrClosed
		}
	}
}

// setDeadline sets the read deadline (0: none) and wakes a waiting
// reader to look at it.
func (p *poller) setDeadline(ns int64) {
	p.deadline.Store(ns)
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
	p.fmu.Lock()
	defer p.fmu.Unlock()
	err := unix.Close(p.fd)
	p.fd = -1
	return err
}
