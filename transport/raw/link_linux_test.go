//go:build linux

package raw

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/ifaceio"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport"
	"golang.org/x/sys/unix"
)

// frameTap is an AF_PACKET socket that captures the VRRP frames arriving
// on one interface, whole (Ethernet header included).
type frameTap struct{ fd int }

func openTap(t *testing.T, h *netlab.Host) *frameTap {
	t.Helper()
	var fd int
	if err := h.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			return err
		}
		sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: h.IfIndex}
		return unix.Bind(fd, sa)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &frameTap{fd: fd}
}

// next returns the next incoming VRRP frame (IPv4 protocol 112).
func (tp *frameTap) next(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 2048)
	for {
		n, from, err := unix.Recvfrom(tp.fd, b, 0)
		if err != nil {
			t.Fatalf("capture: %v", err)
		}
		if sa, ok := from.(*unix.SockaddrLinklayer); ok && sa.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n >= 14+20 && b[14+9] == vrrpProto {
			return b[:n]
		}
	}
}

// TestLinkSendFrames: an IPv4 advertisement sent on the link layer
// (Config.Send) is, on the wire, the frame the protocol-112 socket sends,
// byte for byte, but for the IPv4 Identification and so the header
// checksum (which is valid): the same Ethernet header (the interface's
// MAC to 01:00:5e:00:00:12), TOS, flags (Don't Fragment), TTL 255,
// addresses and payload.
// A caller's source address goes into the header too. WriteTo runs on
// the test's goroutine, in the root network namespace: the link-layer
// socket must be the one opened with the Conn, in h1's (a socket opened
// at the first send, in the sender's namespace, sent to the root
// namespace's interface of the same index).
func TestLinkSendFrames(t *testing.T) {
	lab := netlab.New(t, "tl", 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	sock := listen(t, h1, &Config{})
	link := listen(t, h1, &Config{Send: SendLink})
	tap := openTap(t, h2)
	other := h1.Addr4.As4()
	other[3] = 201
	for _, src := range []netip.Addr{{}, netip.AddrFrom4(other)} {
		for _, b := range [][]byte{vecA, vecB} {
			if err := sock.WriteTo(b, transport.Meta{Src: src}); err != nil {
				t.Fatal(err)
			}
			want := tap.next(t)
			if err := link.WriteTo(b, transport.Meta{Src: src}); err != nil {
				t.Fatal(err)
			}
			got := tap.next(t)
			if ipv4Checksum(got[14:34]) != 0 {
				t.Errorf("source %v: link frame's IPv4 header checksum is wrong: % x", src, got[14:34])
			}
			// Identification (the kernel's choice: 0 here, for an
			// atomic datagram) and so the header checksum aside.
			for _, f := range [][]byte{want, got} {
				f[18], f[19], f[24], f[25] = 0, 0, 0, 0
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("source %v, %x: link frame differs from the socket's (-socket +link):\n%s", src, b, diff)
			}
		}
	}
	if s := link.Stats(); s.LinkSent != 4 {
		t.Errorf("link Conn: Stats.LinkSent = %d, want 4", s.LinkSent)
	}
	if s := sock.Stats(); s.LinkSent != 0 {
		t.Errorf("socket Conn: Stats.LinkSent = %d, want 0", s.LinkSent)
	}
	// The link layer's hot path allocates nothing.
	if n := testing.AllocsPerRun(100, func() {
		if err := link.WriteTo(vecA, transport.Meta{}); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WriteTo on the link layer: %v allocations, want 0", n)
	}
	// A message at a time: room for one kept, not for a chunk.
	if n := len(link.link.msgs); n != 1 {
		t.Errorf("after one message at a time, the link sender holds room for %d messages, want 1", n)
	}
	if sock.link != nil {
		t.Errorf("the socket Conn opened a link-layer socket")
	}
}

// TestLinkSendFallback: what the link layer cannot carry goes out on
// the socket with Config.Send SendLink: IPv6, unicast peers, a
// destination other than the group, and a packet larger than the
// interface's MTU.
func TestLinkSendFallback(t *testing.T) {
	lab := netlab.New(t, "tk", 2)
	h1, h2 := lab.Host(1), lab.Host(2)

	c6 := listen(t, h1, &Config{Family: 6, Send: SendLink})
	r6 := listen(t, h2, &Config{Family: 6})
	if err := c6.WriteTo(vecC, transport.Meta{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := recv(t, r6, "h2 IPv6"); !cmp.Equal(b, vecC) {
		t.Errorf("IPv6: h2 read %x, want %x", b, vecC)
	}
	if c6.link != nil || c6.Stats().LinkSent != 0 {
		t.Errorf("IPv6 Conn: link sender %v, LinkSent %d; want none", c6.link != nil, c6.Stats().LinkSent)
	}

	peer := listen(t, h1, &Config{Send: SendLink, Peers: []netip.Addr{h2.Addr4}})
	r4 := listen(t, h2, &Config{Peers: []netip.Addr{h1.Addr4}})
	if err := peer.WriteTo(vecA, transport.Meta{}); err != nil {
		t.Fatal(err)
	}
	if b, m := recv(t, r4, "h2 unicast"); !cmp.Equal(b, vecA) || m.Dst != h2.Addr4 {
		t.Errorf("unicast peer: h2 read %x to %v, want %x to %v", b, m.Dst, vecA, h2.Addr4)
	}
	if err := peer.WriteTo(vecB, transport.Meta{Dst: h2.Addr4}); err != nil {
		t.Fatal(err)
	}
	if b, m := recv(t, r4, "h2 unicast Dst"); !cmp.Equal(b, vecB) || m.Dst != h2.Addr4 {
		t.Errorf("Meta.Dst: h2 read %x to %v, want %x to %v", b, m.Dst, vecB, h2.Addr4)
	}
	if n := peer.Stats().LinkSent; n != 0 {
		t.Errorf("unicast Conn: LinkSent %d, want 0", n)
	}

	if auto := listen(t, h1, &Config{Send: SendAuto}); auto.link != nil {
		t.Errorf("Listen with SendAuto opened a link-layer socket: one interface never reaches AutoLinkIfaces")
	}
	link := listen(t, h1, &Config{Send: SendLink})
	big := make([]byte, 1500-20+1) // one byte over the lab's 1,500-byte MTU with the header
	copy(big, vecA)
	_ = link.WriteTo(big, transport.Meta{}) // the socket's to fragment or refuse
	if n := link.Stats().LinkSent; n != 0 {
		t.Errorf("a packet over the MTU: LinkSent %d, want 0 (the socket's to send or refuse)", n)
	}
}

// TestWriteBatchPastFailure: a message whose interface is down does not
// hold back the rest of the batch (issue 12: 4,094 advertisements in
// batches of 256; one link going down cost the advertisements of every
// link after it in its batch until the link's instance stopped). On the
// socket and on the link layer: the others are sent, the count says how
// many, and the error names the interface.
func TestWriteBatchPastFailure(t *testing.T) {
	for _, send := range []SendPath{SendSocket, SendLink} {
		t.Run(send.String(), func(t *testing.T) {
			const n = 3
			lab := netlab.NewLinks(t, "tf", n)
			h1, h2 := lab.Host(1), lab.Host(2)
			var s, r *Conn
			idx := make([]int, n+1)
			for _, side := range []struct {
				h   *netlab.Host
				c   **Conn
				cfg *Config
			}{{h1, &s, &Config{Send: send}}, {h2, &r, nil}} {
				if err := side.h.Do(func() (err error) {
					if *side.c, err = ListenMulti(4, side.cfg); err != nil {
						return err
					}
					for i := 1; i <= n; i++ {
						if err := (*side.c).Join(netlab.LinkName(i)); err != nil {
							return err
						}
						if side.h == h1 {
							ifi, err := ifaceio.IndexByName(netlab.LinkName(i))
							if err != nil {
								return err
							}
							idx[i] = ifi
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { (*side.c).Close() })
			}
			if _, err := h1.Run(context.Background(), "ip", "link", "set", netlab.LinkName(2), "down"); err != nil {
				t.Fatal(err)
			}
			ms := []transport.Message{{Buf: vecA, Meta: transport.Meta{IfIndex: idx[1]}}, {Buf: vecA, Meta: transport.Meta{IfIndex: idx[2]}}, {Buf: vecB, Meta: transport.Meta{IfIndex: idx[3]}}}
			got, err := s.WriteBatch(ms)
			if got != 2 || err == nil || !strings.Contains(err.Error(), netlab.LinkName(2)+":") {
				t.Errorf("WriteBatch with link 2 down = %d, %v; want 2 and an error naming %s", got, err, netlab.LinkName(2))
			}
			for _, i := range []int{1, 3} {
				b, m := recv(t, r, "h2")
				if m.Src != netlab.LinkAddr(i, 1) {
					t.Errorf("h2 read %x from %v, want link %d's from %v", b, m.Src, i, netlab.LinkAddr(i, 1))
				}
			}
			if send == SendLink && s.Stats().LinkSent != 2 {
				t.Errorf("LinkSent = %d, want 2", s.Stats().LinkSent)
			}
		})
	}
}

// TestSendAuto: Config.Send SendAuto sends on the socket below
// AutoLinkIfaces joined interfaces and on the link layer from there on.
func TestSendAuto(t *testing.T) {
	const n = AutoLinkIfaces
	lab := netlab.NewLinks(t, "ta", n)
	h1, h2 := lab.Host(1), lab.Host(2)
	var s *Conn
	join := func(from, to int) {
		t.Helper()
		if err := h1.Do(func() error {
			for i := from; i <= to; i++ {
				if err := s.Join(netlab.LinkName(i)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h1.Do(func() (err error) {
		s, err = ListenMulti(4, &Config{Send: SendAuto})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := listen(t, h2, nil) // on link 1
	join(1, n-1)
	send := func(b []byte) {
		t.Helper()
		if err := s.WriteTo(b, transport.Meta{IfIndex: lab.Host(1).IfIndex}); err != nil {
			t.Fatal(err)
		}
		if got, _ := recv(t, r, "h2"); !cmp.Equal(got, b) {
			t.Errorf("h2 read %x, want %x", got, b)
		}
	}
	send(vecA)
	if got := s.Stats().LinkSent; got != 0 {
		t.Errorf("%d interfaces: LinkSent %d, want 0", n-1, got)
	}
	join(n, n)
	send(vecB)
	if got := s.Stats().LinkSent; got != 1 {
		t.Errorf("%d interfaces: LinkSent %d, want 1", n, got)
	}
}

// TestSendPathConfig: Config.Send outside the three paths is refused,
// naming the field.
func TestSendPathConfig(t *testing.T) {
	_, err := ListenMulti(4, &Config{Send: SendAuto + 1})
	if err == nil || !strings.Contains(err.Error(), "Config.Send") {
		t.Errorf("ListenMulti with Send %v: %v, want an error naming Config.Send", SendAuto+1, err)
	}
	if errors.Is(err, os.ErrPermission) {
		t.Errorf("the check comes before the socket: %v", err)
	}
}
