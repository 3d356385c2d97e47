//go:build linux

package main

import (
	"strings"
	"testing"
)

func TestCapsError(t *testing.T) {
	if err := capsError("eth0", 1<<capNetRaw|1<<capNetAdmin); err != nil {
		t.Errorf("with both capabilities: %v", err)
	}
	tests := []struct {
		caps      uint64
		want, not string
	}{
		{0, `interface "eth0": missing capabilities: CAP_NET_RAW (raw VRRP sockets, ARP / NA), CAP_NET_ADMIN`, ""},
		{1 << capNetRaw, `interface "eth0": missing capabilities: CAP_NET_ADMIN`, "CAP_NET_RAW"},
		{1 << capNetAdmin, `interface "eth0": missing capabilities: CAP_NET_RAW`, "CAP_NET_ADMIN"},
	}
	for _, tt := range tests {
		err := capsError("eth0", tt.caps)
		if err == nil || !strings.Contains(err.Error(), tt.want) || tt.not != "" && strings.Contains(err.Error(), tt.not) {
			t.Errorf("caps %#x: %v; want %q", tt.caps, err, tt.want)
		}
	}
}
