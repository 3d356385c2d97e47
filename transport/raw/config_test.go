package raw

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govrrp/govrrp/transport"
)

func TestConfigFamily(t *testing.T) {
	a4 := netip.MustParseAddr("10.99.0.1")
	a6 := netip.MustParseAddr("fe80::1")
	tests := []struct {
		name    string
		cfg     Config
		def     int
		want    int
		wantErr string
	}{
		{name: "zero default", def: 4, want: 4},
		{name: "zero no default", def: 0, wantErr: "transport: Config.Family 0: must be 4 or 6"},
		{name: "explicit 6", cfg: Config{Family: 6}, def: 4, want: 6},
		{name: "bad family", cfg: Config{Family: 5}, def: 4, wantErr: "transport: Config.Family 5: must be 4 or 6"},
		{name: "from Src", cfg: Config{Src: a6}, def: 4, want: 6},
		{name: "from Peers", cfg: Config{Peers: []netip.Addr{a6}}, def: 4, want: 6},
		{name: "mapped Src is 4", cfg: Config{Src: netip.AddrFrom16(a4.As16())}, def: 0, want: 4},
		{name: "Src wrong family", cfg: Config{Family: 4, Src: a6}, wantErr: "transport: Config.Src fe80::1: must be an IPv4 address"},
		{name: "peer wrong family", cfg: Config{Family: 6, Peers: []netip.Addr{a6, a4}}, wantErr: "transport: Config.Peers[1] 10.99.0.1: must be an IPv6 address"},
		{name: "peer invalid", cfg: Config{Family: 4, Peers: []netip.Addr{{}}}, wantErr: "transport: Config.Peers[0] invalid IP: must be an IPv4 address"},
		{name: "peer multicast", cfg: Config{Peers: []netip.Addr{netip.MustParseAddr("224.0.0.18")}}, wantErr: "transport: Config.Peers[0] 224.0.0.18: must be a unicast address"},
		{name: "poll", cfg: Config{Poll: time.Second}, def: 4, want: 4},
		{name: "poll negative", cfg: Config{Poll: -time.Millisecond}, def: 4, wantErr: "transport: Config.Poll -1ms: must be 0 (off) or at most 1s"},
		{name: "poll too long", cfg: Config{Poll: 2 * time.Second}, def: 4, wantErr: "transport: Config.Poll 2s: must be 0 (off) or at most 1s"},
		{name: "poll and ring", cfg: Config{Poll: time.Millisecond, Ring: true}, def: 4, wantErr: "transport: Config.Poll and Config.Ring: choose one way to receive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.family(tt.def)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("family() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("family() = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestErrorPermission(t *testing.T) {
	// What net.ListenPacket returns when socket(2) fails with EPERM.
	listenErr := &net.OpError{Op: "listen", Net: "ip4:112", Err: os.NewSyscallError("socket", syscall.EPERM)}
	err := opError("eth0", "raw socket", listenErr)
	if got, want := err.Error(), "transport: eth0: raw socket: operation not permitted (needs CAP_NET_RAW)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Error("errors.Is(err, os.ErrPermission) = false")
	}
	if !errors.Is(err, syscall.EPERM) {
		t.Error("errors.Is(err, syscall.EPERM) = false")
	}
	var te *Error
	if !errors.As(err, &te) {
		t.Fatal("errors.As(err, *Error) = false")
	}
	if diff := cmp.Diff(&Error{Iface: "eth0", Op: "raw socket", Cap: "CAP_NET_RAW", Err: listenErr}, te); diff != "" {
		t.Errorf("Error (-want +got):\n%s", diff)
	}

	bind := opError("eth1", "bind to device", syscall.EACCES)
	if got, want := bind.Error(), "transport: eth1: bind to device: permission denied (needs CAP_NET_RAW)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(bind, os.ErrPermission) {
		t.Error("EACCES: errors.Is(err, os.ErrPermission) = false")
	}

	// Not a permission error: no capability named.
	other := opError("eth0", "join group", fmt.Errorf("setsockopt: %w", syscall.ENODEV))
	if got, want := other.Error(), "transport: eth0: join group: no such device"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// EPERM on send comes from firewalls, not from a missing capability.
	w := opError("", "write", syscall.EPERM)
	if got, want := w.Error(), "transport: write: operation not permitted"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if opError("eth0", "read", nil) != nil {
		t.Error("opError(nil) != nil")
	}
	closed := opError("eth0", "read", net.ErrClosed)
	if !errors.Is(closed, net.ErrClosed) || !errors.Is(closed, transport.ErrClosed) {
		t.Error("errors.Is(err, net.ErrClosed) or errors.Is(err, transport.ErrClosed) = false")
	}
}
