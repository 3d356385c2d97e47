package main

// Tests for the defects of issue 15 ("The daemon, abused").

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
)

// Issue 15 item 11: addresses that can never be a virtual router's are
// refused, in a file and on the command line, with the key named and
// what is allowed.
func TestVIPRefused(t *testing.T) {
	bad := []string{
		"255.255.255.255", "255.255.255.255/32", "169.254.1.1", "169.254.1.1/16",
		"127.0.0.1", "127.0.0.1/8", "0.0.0.0", "224.0.0.18", "239.1.1.1/32",
		"10.0.0.255/24", // the directed broadcast of its own prefix
		"::1", "::", "ff02::12", "ff05::1/128", "::ffff:10.0.0.1",
	}
	for _, v := range bad {
		text := "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"" + v + "\"]\n"
		_, err := parseTOML("f.toml", text)
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrUsage) {
			t.Errorf("vips = [%q]: err = %v; want a ConfigError", v, err)
			continue
		}
		if ce.Key != "vips" || ce.Value != v || !strings.Contains(ce.Allowed, "unicast") ||
			!strings.HasPrefix(err.Error(), `f.toml: instance[0] "A": vips = `+v+`: want `) {
			t.Errorf("vips = [%q]: %v; want the instance, key, value and what is allowed", v, err)
		}
		_, err = parseFlags([]string{"-iface", "eth0", "-vrid", "1", v})
		if !errors.As(err, &ce) || ce.Key != "VIP argument" || ce.Value != v {
			t.Errorf("argument %q: err = %v; want a ConfigError naming the VIP argument", v, err)
		}
	}
	good := []string{"10.0.0.1", "10.0.0.254/24", "10.0.0.255/23", "10.0.0.1/31", "10.0.0.1/32",
		"192.0.2.255", "fe80::1", "2001:db8::1/64"}
	for _, v := range good {
		text := "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"" + v + "\"]\n"
		if _, err := parseTOML("f.toml", text); err != nil {
			t.Errorf("vips = [%q]: %v; want it accepted", v, err)
		}
	}
}

// Issue 15 item 6: instances share a transport only when they agree on
// ring: one that did not ask for the ring (which bypasses the host
// firewall) never receives through another's.
func TestRingNotShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		plain := inst("VI_1", 1, 100, "10.0.0.100")
		ring := inst("VI_2", 2, 100, "10.0.0.200")
		ring.Ring = true
		same := inst("VI_3", 3, 100, "10.0.0.201")
		h := startHost(t, lan, 1, cfgOf(plain, ring, same))
		time.Sleep(time.Second)
		synctest.Wait()
		h.sys.mu.Lock()
		opens := h.sys.opens
		h.sys.mu.Unlock()
		if opens != 2 {
			t.Errorf("%d transports opened for a ring and two plain instances; want 2", opens)
		}
		h.d.mu.Lock()
		if h.d.vrs["VI_1"].conn == h.d.vrs["VI_2"].conn || h.d.vrs["VI_1"].conn != h.d.vrs["VI_3"].conn {
			t.Errorf("VI_1 (no ring) shares with VI_2 (ring) or not with VI_3 (no ring)")
		}
		h.d.mu.Unlock()
	})
}
