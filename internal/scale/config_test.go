package scale

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/govrrp/govrrp/internal/keepalived"
)

func TestVrrpdConfig(t *testing.T) {
	var doc struct {
		Instance []struct {
			Name, Interface string
			VRID            int `toml:"vrid"`
			Priority        int
			Version         int
			Interval        string
			Accept          bool
			VIPs            []string `toml:"vips"`
		}
	}
	if _, err := toml.Decode(string(VrrpdConfig(300, 100*time.Millisecond, 150)), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Instance) != 300 {
		t.Fatalf("%d instances, want 300", len(doc.Instance))
	}
	in := doc.Instance[299]
	if in.Name != "VI_300" || in.Interface != "l300" || in.VRID != 1 || in.Priority != 150 || in.Version != 3 ||
		in.Interval != "100ms" || !in.Accept || len(in.VIPs) != 1 || in.VIPs[0] != "10.1.44.100/24" {
		t.Errorf("instance 300: %+v", in)
	}
}

func TestVrrpdConfigWith(t *testing.T) {
	var doc struct {
		Instance []struct {
			Name     string
			Priority int
		}
	}
	if _, err := toml.Decode(string(VrrpdConfigWith(3, time.Second, 150, map[int]int{2: 151})), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Instance) != 3 || doc.Instance[0].Priority != 150 || doc.Instance[1].Priority != 151 || doc.Instance[2].Priority != 150 {
		t.Errorf("instances: %+v", doc.Instance)
	}
}

func TestKeepalivedConfig(t *testing.T) {
	text, err := keepalived.Render(KeepalivedConfig(3, time.Second, 100))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"vrrp_version 3", "vrrp_instance VI_3 {", "interface l3", "virtual_router_id 1", "priority 100", "advert_int 1", "10.0.3.100/24"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, text)
		}
	}
}

func TestCountVIPs(t *testing.T) {
	out := `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: l1    inet 10.0.1.1/24 scope global l1\       valid_lft forever preferred_lft forever
2: l1    inet 10.0.1.100/24 scope global secondary l1\       valid_lft forever preferred_lft forever
3: l2    inet 10.0.2.100/32 scope global l2\       valid_lft forever preferred_lft forever
4: l300    inet 10.1.44.100/24 scope global secondary l300\       valid_lft forever preferred_lft forever
5: l301    inet 10.1.45.100/24 scope global secondary l301\       valid_lft forever preferred_lft forever
`
	// l2's address is not the VIP (/32), l301 is beyond n.
	if got := CountVIPs([]byte(out), 300); got != 2 {
		t.Errorf("CountVIPs = %d, want 2", got)
	}
}

func TestCountEntering(t *testing.T) {
	lines := []string{
		"Sat Dec  5 10:00:00 2026: (VI_1) Entering BACKUP STATE (init)",
		"Sat Dec  5 10:00:03 2026: (VI_1) Entering MASTER STATE",
		"Sat Dec  5 10:00:03 2026: (VI_2) received lower priority advert",
		"Sat Dec  5 10:00:04 2026: (VI_1) Entering BACKUP STATE",
	}
	if all, master := CountEntering(lines); all != 3 || master != 1 {
		t.Errorf("CountEntering = %d, %d; want 3, 1", all, master)
	}
}
