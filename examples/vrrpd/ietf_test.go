package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// ietfSnapshot is fixedSnapshot with the cases the model maps
// differently: a VRRPv2 address owner in FAULT on a second interface,
// down, and an instance that failed to start.
func ietfSnapshot() snapshot {
	s := fixedSnapshot()
	s.Instances = append(s.Instances, instSnap{
		Name: "OWNER", Interface: "eth1", IfIndex: 3, VRID: 9, Family: vrrp.IPv4, Version: 2,
		Running: true, State: vrrp.Fault, Priority: 255, Base: 255, LinkStatus: statusDown,
		Interval: 2 * time.Second, NoPreempt: true, PreemptDelay: 5 * time.Second,
		VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.9/32")},
	}, instSnap{
		Name: "BROKEN", Interface: "eth1", IfIndex: 3, VRID: 8, Family: vrrp.IPv4, Version: 3,
		Priority: 100, Base: 100, Interval: time.Second, LinkStatus: statusDown,
		VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.8/32")},
	})
	return s
}

func getIETF(t *testing.T, s snapshot) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeIETFSnapshot(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The document's shape: RFC 7951 encodings (counter64 as strings,
// identities with their module, enumerations without), the interfaces
// with their mandatory state, govrrp's states and owner mapped onto the
// model.
func TestIETFShape(t *testing.T) {
	b := getIETF(t, ietfSnapshot())
	golden(t, "ietf-vrrp.json", b)
	var doc struct {
		Interfaces struct {
			Interface []map[string]any `json:"interface"`
		} `json:"ietf-interfaces:interfaces"`
		VRRP map[string]any `json:"ietf-vrrp:vrrp"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ifs := doc.Interfaces.Interface
	if len(ifs) != 2 || ifs[0]["name"] != "eth0" || ifs[1]["name"] != "eth1" {
		t.Fatalf("interfaces: %v", ifs)
	}
	for _, itf := range ifs {
		for _, k := range []string{"type", "admin-status", "oper-status", "if-index", "statistics"} {
			if itf[k] == nil {
				t.Errorf("interface %v: no %s", itf["name"], k)
			}
		}
	}
	if ifs[1]["oper-status"] != "down" || ifs[1]["ietf-ip:ipv6"] != nil {
		t.Errorf("eth1: %v", ifs[1])
	}
	inst := func(itf map[string]any, fam string, i int) map[string]any {
		return itf[fam].(map[string]any)["ietf-vrrp:vrrp"].(map[string]any)["vrrp-instance"].([]any)[i].(map[string]any)
	}
	v4 := inst(ifs[0], "ietf-ip:ipv4", 0)
	want := map[string]any{"vrid": 51.0, "version": "ietf-vrrp:vrrp-v3", "priority": 150.0, "state": "ietf-vrrp:master",
		"last-adv-source": "10.0.0.1", "last-event": "ietf-vrrp:vrrp-event-master-timeout", "new-master-reason": "no-response",
		"advertise-interval-centi-sec": 100.0, "accept-mode": false, "is-owner": false,
		// 3 x 1 s + (256-130)/256 s, in centiseconds and microseconds.
		"master-down-interval": 349.0, "skew-time": 492187.0}
	for k, v := range want {
		if !cmp.Equal(v4[k], v) {
			t.Errorf("VI_1 %s = %#v, want %#v", k, v4[k], v)
		}
	}
	stats := v4["statistics"].(map[string]any)
	if stats["advertisement-sent"] != "1152921504606846976" || stats["master-transitions"] != 2.0 || stats["address-list-errors"] != "7" {
		t.Errorf("VI_1 statistics: %v", stats)
	}
	v6 := inst(ifs[0], "ietf-ip:ipv6", 0)
	if v6["vrid"] != 52.0 || v6["state"] != "ietf-vrrp:backup" || v6["new-master-reason"] != "not-master" || v6["last-adv-source"] != nil ||
		v6["virtual-ipv6-addresses"] == nil || v6["advertise-interval-centi-sec"] != 10.0 {
		t.Errorf("VI_6: %v", v6)
	}
	// eth1: sorted by vrid (the list key): BROKEN (8), OWNER (9).
	broken, owner := inst(ifs[1], "ietf-ip:ipv4", 0), inst(ifs[1], "ietf-ip:ipv4", 1)
	if broken["vrid"] != 8.0 || broken["state"] != "ietf-vrrp:initialize" {
		t.Errorf("BROKEN: %v", broken)
	}
	if owner["vrid"] != 9.0 || owner["state"] != "ietf-vrrp:initialize" || owner["is-owner"] != true || owner["priority"] != nil ||
		owner["version"] != "ietf-vrrp:vrrp-v2" || owner["advertise-interval-sec"] != 2.0 || owner["accept-mode"] != nil ||
		owner["advertise-interval-centi-sec"] != nil || !cmp.Equal(owner["preempt"], map[string]any{"enabled": false, "hold-time": 5.0}) {
		t.Errorf("OWNER: %v", owner)
	}
	g := doc.VRRP
	if g["virtual-routers"] != 4.0 || g["interfaces"] != 2.0 || g["statistics"].(map[string]any)["ip-ttl-errors"] != "4" {
		t.Errorf("ietf-vrrp:vrrp: %v", g)
	}
	t.Run("yanglint", func(t *testing.T) { yanglintCheck(t, b) })
}

// yanglintCheck validates doc as operational data of the RFC 8347 model
// with yanglint and the modules in testdata/yang (the published ones, as
// in ../shared/models).
func yanglintCheck(t testing.TB, doc []byte) {
	t.Helper()
	if _, err := exec.LookPath("yanglint"); err != nil {
		netlab.SkipOrFail(t, "yanglint not found on PATH (Debian package libyang2-tools)")
	}
	path := filepath.Join(netlab.TempDir(t), "ietf-vrrp.json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "yang")
	cmd := exec.Command("yanglint", "-p", dir, "-t", "data",
		filepath.Join(dir, "ietf-interfaces@2018-02-20.yang"), filepath.Join(dir, "ietf-ip@2018-02-22.yang"),
		filepath.Join(dir, "ietf-vrrp@2018-03-13.yang"), filepath.Join(dir, "iana-if-type@2017-01-19.yang"), path)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("yanglint: %v\n%s\ndocument:\n%s", err, out, doc)
	}
}

// yanglint rejects what RFC 7951 and the model forbid: the check is not
// a rubber stamp.
func TestIETFYanglintRejects(t *testing.T) {
	if _, err := exec.LookPath("yanglint"); err != nil {
		netlab.SkipOrFail(t, "yanglint not found on PATH (Debian package libyang2-tools)")
	}
	good := getIETF(t, ietfSnapshot())
	for name, bad := range map[string][]byte{
		"counter64 as a number":   bytes.Replace(good, []byte(`"advertisement-rcvd": "40"`), []byte(`"advertisement-rcvd": 40`), 1),
		"no such identity":        bytes.Replace(good, []byte(`"ietf-vrrp:master"`), []byte(`"ietf-vrrp:fault"`), 1),
		"enumeration with prefix": bytes.Replace(good, []byte(`"no-response"`), []byte(`"ietf-vrrp:no-response"`), 1),
		"no admin-status":         bytes.Replace(good, []byte(`"admin-status": "up",`), nil, 1),
		"priority 255":            bytes.Replace(good, []byte(`"priority": 150`), []byte(`"priority": 255`), 1),
	} {
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: nothing replaced", name)
		}
		ft := &fakeT{TB: t}
		yanglintCheck(ft, bad)
		if !ft.failed {
			t.Errorf("yanglint accepted a document with %s", name)
		}
	}
}

// fakeT records Errorf instead of failing.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Helper()               {}

// A running daemon's document (two hosts, IPv4 and IPv6, after an
// election) is valid under yanglint and says who is master.
func TestIETFDaemon(t *testing.T) {
	var doc []byte
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		v6 := inst("VI_6", 2, 200, "fe80::100", "2001:db8::100/64")
		a := startHost(t, lan, 1, cfgOf(inst("VI_1", 1, 200, "10.0.0.100/24"), v6))
		v6.Priority = 100
		startHost(t, lan, 2, cfgOf(inst("VI_1", 1, 100, "10.0.0.100/24"), v6))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var code int
		var ct string
		code, ct, doc = get(t, a.d.observeHandler(statusHandler(a.d.streamStatus)), "/ietf-vrrp", "")
		if code != 200 || ct != "application/yang-data+json" {
			t.Fatalf("GET /ietf-vrrp: %d %q", code, ct)
		}
	})
	var d ietfDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	itf := d.Interfaces.Interface
	if len(itf) != 1 || itf[0].IPv4 == nil || itf[0].IPv6 == nil {
		t.Fatalf("interfaces: %+v", itf)
	}
	in4, in6 := itf[0].IPv4.VRRP.Instance[0], itf[0].IPv6.VRRP.Instance[0]
	if in4.State != "ietf-vrrp:master" || in4.LastAdvSource != "10.0.0.1" || in4.NewMasterReason != "no-response" ||
		in4.Statistics.MasterTransitions != 1 || in4.Statistics.AdvertisementSent == "0" || in4.UpDatetime == "" {
		t.Errorf("IPv4 instance: %+v", in4)
	}
	if in6.State != "ietf-vrrp:master" || in6.LastAdvSource != "fe80::1" || in6.LastEvent != "ietf-vrrp:vrrp-event-master-timeout" {
		t.Errorf("IPv6 instance: %+v", in6)
	}
	t.Run("yanglint", func(t *testing.T) { yanglintCheck(t, doc) })
}
