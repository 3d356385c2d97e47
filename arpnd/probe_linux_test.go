//go:build linux

package arpnd

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
)

// TestNewNoNetAdmin: without CAP_NET_ADMIN (CAP_NET_RAW kept), New in
// ModeVirtualMAC with the responder fails at once, naming the interface
// and the capability, instead of every Take failing later; the modes that
// need no more than packet sockets still start. Runs the test binary again
// in a lab namespace with the capability dropped.
func TestNewNoNetAdmin(t *testing.T) {
	if os.Getenv("ARPND_NOCAP_CHILD") == "1" {
		for _, cfg := range []Config{
			{Interface: "eth0"},
			{Interface: "eth0", Responder: true},
			{Interface: "eth0", Mode: ModeVirtualMAC},
		} {
			a, err := New(cfg)
			if err != nil {
				t.Fatalf("New(%+v) without CAP_NET_ADMIN: %v, want success (packet sockets need CAP_NET_RAW only)", cfg, err)
			}
			a.Close()
		}
		for _, ifname := range []string{"eth0", ""} {
			a, err := New(Config{Interface: ifname, Mode: ModeVirtualMAC, Responder: true})
			if err == nil {
				a.Close()
				t.Errorf("New(Interface %q, ModeVirtualMAC, Responder) without CAP_NET_ADMIN: no error", ifname)
				continue
			}
			if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "(needs CAP_NET_ADMIN)") ||
				(ifname != "" && !strings.Contains(err.Error(), `interface "eth0"`)) {
				t.Errorf("New(Interface %q, ModeVirtualMAC, Responder) without CAP_NET_ADMIN: %v, want a permission error naming the interface and CAP_NET_ADMIN", ifname, err)
			}
		}
		return
	}
	netlab.RequireTool(t, "setpriv")
	h := netlab.New(t, "arpc", 1).Host(1)
	c := h.Command(context.Background(), "setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin",
		os.Args[0], "-test.run", "^TestNewNoNetAdmin$", "-test.count", "1", "-test.v")
	c.Env = append(os.Environ(), "ARPND_NOCAP_CHILD=1")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Errorf("child did not run: %s", out)
	}
}
