package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/vrrp"
)

// richStatus is a Status with every kind of field, n instances.
func richStatus(n int) Status {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	v := int64(7)
	st := Status{
		Instances: []InstanceStatus{},
		Router:    vrrp.RouterStats{ChecksumErrors: 1, Received: 600, Sent: 700},
		Discards: []DiscardStatus{{Source: "10.0.0.66", Reason: "ttl", Instance: "VI_1", Interface: "eth0", VRID: 51,
			Count: 120, First: t0, Last: t0.Add(time.Minute)}},
		NotifyFIFO: &fifoStats{Path: "/run/fifo", Written: 6, Dropped: 1},
	}
	for i := range n {
		is := InstanceStatus{
			Name: fmt.Sprintf("VI_<%d>&\"x\"", i), Interface: "eth0", VRID: uint8(i), Family: "IPv4", Version: 3,
			State: "MASTER", Master: "10.0.0.1", Primary: "10.0.0.1", Priority: 130, BasePriority: 150,
			TrackFault: i%2 == 0, SyncGroup: "G", SyncGroupState: "MASTER",
			TrackScripts:   []TrackStatus{{Name: "chk", Weight: -10, Status: "succeeding"}},
			TrackFiles:     []TrackStatus{{Name: "f", Weight: 1, Status: "ok", Value: &v}},
			TrackProcesses: []TrackStatus{{Name: "p", Status: "up", Value: &v}},
			VIPs:           []string{"10.0.0.100/24", "10.0.0.101/24"},
			HostPending:    "take", HostError: "netlink: too many open files", HostRetries: 3,
			NewMasterReason: "masterNoResponse",
			Stats: statsOf(vrrp.Stats{MasterTransitions: 2, RcvdAdvertisements: 40, RefreshRate: 1230 * time.Millisecond,
				DiscontinuityTime: t0, ProtoErrReason: vrrp.ProtoErrTTL}),
			Election: Election{Master: "10.0.0.1", SelfMaster: true, NewMasterReason: "masterNoResponse",
				LastEvent: &ElectionEvent{Time: t0, From: "BACKUP", To: "MASTER", Reason: "masterNoResponse",
					MasterReason: "masterNoResponse", IETFEvent: "ietf-vrrp:vrrp-event-master-timeout"},
				SinceLastTransitionMs: 1500, Transitions: map[string]uint64{"STOP->BACKUP start": 1, "BACKUP->MASTER masterNoResponse": 1}},
			SecondResponders: []SecondResponder{{Address: "10.0.0.100", MACs: []string{"02:00:00:00:00:66"}, Since: t0}},
			Probe:            &ProbeStatus{Sent: 45, Answers: 7},
		}
		if i == 1 {
			is.VIPs = nil // "vips": null, as before
			is.TrackScripts = []TrackStatus{}
		}
		st.Instances = append(st.Instances, is)
	}
	return st
}

// The status document is written instance by instance (writeStatus),
// byte for byte what json.Encoder with SetIndent("", "  ") writes of the
// whole Status: with 0, 1 and several instances, without discards or
// FIFO, through the handler too.
func TestWriteStatusIdentical(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		for _, bare := range []bool{false, true} {
			st := richStatus(n)
			if bare {
				st.Discards, st.NotifyFIFO = []DiscardStatus{}, nil
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(st); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeStatus(&got, &st); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("%d instances, bare %v (-encoder +writeStatus):\n%s", n, bare, diff)
			}
			_, _, body := get(t, statusHandler(func(w io.Writer) error { return writeStatus(w, &st) }), "/status", "")
			if diff := cmp.Diff(want.String(), string(body)); diff != "" {
				t.Errorf("%d instances, bare %v, handler (-encoder +handler):\n%s", n, bare, diff)
			}
		}
	}
}

// errWriter fails every write after the first n bytes.
type errWriter struct{ n int }

func (w *errWriter) Write(b []byte) (int, error) {
	if len(b) > w.n {
		w.n = 0
		return 0, fmt.Errorf("connection reset")
	}
	w.n -= len(b)
	return len(b), nil
}

// A client gone half way: writeStatus stops at the first failed write
// and returns its error.
func TestWriteStatusError(t *testing.T) {
	st := richStatus(50)
	for _, n := range []int{0, 10, 3000, 30000} {
		if err := writeStatus(&errWriter{n: n}, &st); err == nil {
			t.Errorf("write error after %d bytes: writeStatus returned nil", n)
		}
	}
}

// prune keeps the records of the names given, drops the others, and
// leaves them all when every record is of a name given.
func TestObserverPrune(t *testing.T) {
	var o observer
	for _, n := range []string{"a", "b", "c"} {
		o.record(vrrp.Event{Name: n, From: vrrp.Initialize, To: vrrp.Backup})
	}
	o.prune([]string{"a", "b", "c", "d"}) // d: configured, no transition yet
	if o.size() != 3 {
		t.Fatalf("%d records after pruning none; want 3", o.size())
	}
	o.prune([]string{"c", "a", "x"})
	if o.size() != 2 {
		t.Fatalf("%d records; want 2 (a, c)", o.size())
	}
	for n, want := range map[string]bool{"a": true, "b": false, "c": true} {
		if _, _, ts := o.get(n); (ts != nil) != want {
			t.Errorf("record of %s kept: %v; want %v", n, ts != nil, want)
		}
	}
	o.prune(nil)
	if o.size() != 0 {
		t.Errorf("%d records after pruning all; want 0", o.size())
	}
}

// GET /ietf-vrrp is written one interface at a time, byte for byte what
// json.MarshalIndent of the whole document wrote: with no instance, one
// interface, two.
func TestServeIETFIdentical(t *testing.T) {
	one := fixedSnapshot()
	none := fixedSnapshot()
	none.Instances = nil
	for name, s := range map[string]snapshot{"none": none, "one interface": one, "two interfaces": ietfSnapshot()} {
		want, err := json.MarshalIndent(ietfDocument(s), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		if diff := cmp.Diff(string(want), string(getIETF(t, s))); diff != "" {
			t.Errorf("%s (-MarshalIndent +served):\n%s", name, diff)
		}
	}
}
