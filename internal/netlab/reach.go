package netlab

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// ServeTCP listens on TCP port on every address of h (both families)
// until the test ends, writes reply to every connection and closes it.
func (h *Host) ServeTCP(t testing.TB, port int, reply string) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
		return err
	}); err != nil {
		t.Fatalf("%s: listen on TCP port %d: %v", h.Name, port, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(reply))
			c.Close()
		}
	}()
}

// DialTCP connects from h to addr:port and returns what the server wrote
// before it closed the connection; timeout bounds the connection and the
// read.
func (h *Host) DialTCP(addr netip.Addr, port int, timeout time.Duration) (string, error) {
	var got []byte
	err := h.Do(func() error {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(addr, uint16(port)).String(), timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		got, err = io.ReadAll(c)
		return err
	})
	return string(got), err
}

// CanDialTCP reports whether h connects to addr:port within a second.
func (h *Host) CanDialTCP(addr netip.Addr, port int) bool {
	_, err := h.DialTCP(addr, port, time.Second)
	return err == nil
}

// Eventually reports whether ok holds within 10 seconds, polling every
// 100 ms: for checks that must succeed but may need neighbour resolution
// first, or lose a first try on a loaded machine. A check that must fail
// needs no retry.
func Eventually(ok func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// NFTTables returns `nft list tables` in h's namespace.
func (h *Host) NFTTables(t testing.TB) string {
	t.Helper()
	out, err := h.Run(context.Background(), "nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
