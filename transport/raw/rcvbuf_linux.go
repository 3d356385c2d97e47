//go:build linux

package raw

import "golang.org/x/sys/unix"

// rcvBufPerIface is the receive buffer a socket serving several
// interfaces (ListenMulti) keeps per joined interface, beyond
// rcvBufBytes: room for about 8 advertisements from every interface (a
// small packet takes about 1 kB of buffer, its sk_buff's truesize): a
// burst from the masters of thousands of links all sending in the same
// instant, and 0.8 s of advertisements at a 100 ms interval while the
// process is busy, say starting its instances (issue 12: with 2 kB, a
// backup of 1,000 links at 100 ms overflowed its socket in the 0.6 s
// after it started them, and 127 of its virtual routers took over). It
// is a limit on kernel memory, used only while packets wait: 32 MB at
// 4,094 interfaces.
const rcvBufPerIface = 8 << 10

// growRcvBuf raises the socket's receive buffer for n joined interfaces,
// in steps that double it, so that n joins make a logarithmic number of
// system calls. Like newConn's it is forced past net.core.rmem_max when
// the process may (CAP_NET_ADMIN). Failure is not an error: the socket
// keeps the buffer it has. Called with c.mu held.
func (c *Conn) growRcvBuf(n int) {
	want := n * rcvBufPerIface
	if want <= rcvBufBytes {
		return
	}
	var cur int
	var gerr error
	if err := c.control(func(fd uintptr) {
		// The kernel reports twice what was asked (its bookkeeping).
		cur, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil || gerr != nil || cur/2 >= want {
		return
	}
	size := max(cur/2, rcvBufBytes)
	for size < want {
		size *= 2
	}
	if c.rcvsockopt(unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
		_ = c.rcvsockopt(unix.SOL_SOCKET, unix.SO_RCVBUF, size)
	}
}
