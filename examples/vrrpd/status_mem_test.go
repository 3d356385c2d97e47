package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/internal/scale"
)

// withMasters runs, in a synctest bubble, vrrpd's daemon with the scale
// lab's configuration of n links on memSys, every instance master, and
// calls fn with it. groups puts the first instances in sync groups.
func withMasters(t *testing.T, n int, groups bool, fn func(*daemon)) {
	withMastersCfg(t, n, groups, nil, fn)
}

// withMastersCfg is withMasters with edit, if not nil, applied to the
// configuration first.
func withMastersCfg(t *testing.T, n int, groups bool, edit func(*Config), fn func(*daemon)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		cfg, err := parseTOML("scale.toml", string(scale.VrrpdConfig(n, time.Second, scale.BackupPriority)))
		if err != nil {
			t.Fatal(err)
		}
		if groups {
			// G holds two instances, H one running instance and one
			// that does not exist (its state "mixed").
			in := cfg.Instances
			in[0].SyncGroup, in[1].SyncGroup, in[2].SyncGroup = "G", "G", "H"
			cfg.Groups = []Group{{Name: "G", Members: []string{in[0].Name, in[1].Name}},
				{Name: "H", Members: []string{in[2].Name, "VI_none"}}}
		}
		if edit != nil {
			edit(&cfg)
		}
		run := func(context.Context, string, []string) error { return nil }
		d := newDaemon(cfg, &memSys{host: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, run)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- d.Run(ctx) }()
		time.Sleep(5 * time.Second) // Master_Down_Interval is 3.6 s at 1 s
		synctest.Wait()
		fn(d)
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// The daemon's status document, written instance by instance as it reads
// them (streamStatus), is byte for byte json.Encoder with SetIndent("",
// "  ") of the Status read whole (status): with and without sync groups
// (their states are read before the instances).
func TestStreamStatusIdentical(t *testing.T) {
	for _, groups := range []bool{false, true} {
		withMasters(t, 20, groups, func(d *daemon) {
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(d.status()); err != nil {
				t.Fatal(err)
			}
			if err := d.streamStatus(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("groups %v (-status +streamStatus):\n%s", groups, diff)
			}
			var st Status
			if err := json.Unmarshal(got.Bytes(), &st); err != nil || len(st.Instances) != 20 {
				t.Fatalf("%d instances, %v", len(st.Instances), err)
			}
			for _, is := range st.Instances {
				want := ""
				switch {
				case groups && (is.Name == "VI_1" || is.Name == "VI_2"):
					want = "MASTER"
				case groups && is.Name == "VI_3":
					want = "mixed"
				}
				if is.State != "MASTER" || is.SyncGroupState != want {
					t.Errorf("%s: state %q, sync group state %q; want MASTER, %q", is.Name, is.State, is.SyncGroupState, want)
				}
			}
		})
	}
}

// TestStatusReadHoldsLittle: a read of the status document does not hold
// every instance's InstanceStatus at once (issue 12: ~1.1 kB per
// instance, 4.5 MB at 4,094 links, held while the document was written,
// which set the GC's heap goal and the RSS after it). Deterministic: a
// count of live bytes at the writes, not a timing.
func TestStatusReadHoldsLittle(t *testing.T) {
	const n = 1000
	withMasters(t, n, false, func(d *daemon) {
		base := liveHeap()
		w := &peakWriter{writes: 8}
		if err := d.streamStatus(w); err != nil {
			t.Fatal(err)
		}
		// Before, the read held the whole Status: 1.1 MB here. Now one
		// instance's, the names in order (16 kB) and the buffers: 35 kB.
		checkHeld(t, "a status read", n, base, w, 256<<10)
		runtime.KeepAlive(d)
	})
}

// sharedLinks puts instances 3-8 on link l3 with VRIDs out of order
// (the document lists an interface's instances by VRID).
func sharedLinks(c *Config) {
	for i := 3; i <= 8; i++ {
		c.Instances[i].Interface = c.Instances[3].Interface
		c.Instances[i].VRID = uint8(40 - i)
	}
}

// The daemon's /ietf-vrrp document, written interface by interface as it
// reads them (writeIETF), is byte for byte json.MarshalIndent of the
// whole document of a snapshot (ietfDocument), as served before: several
// instances on one interface, sync groups.
func TestStreamIETFIdentical(t *testing.T) {
	withMastersCfg(t, 20, true, sharedLinks, func(d *daemon) {
		want, err := json.MarshalIndent(ietfDocument(d.snapshot()), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		var got, fromSnap bytes.Buffer
		if err := d.writeIETF(&got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got.String()); diff != "" {
			t.Errorf("(-MarshalIndent +writeIETF):\n%s", diff)
		}
		if err := writeIETFSnapshot(&fromSnap, d.snapshot()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), fromSnap.String()); diff != "" {
			t.Errorf("(-MarshalIndent +writeIETFSnapshot):\n%s", diff)
		}
		var doc ietfDoc
		if err := json.Unmarshal(got.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Interfaces.Interface) != 15 || doc.VRRP.VirtualRouters != 20 || doc.VRRP.Interfaces != 15 {
			t.Errorf("%d interfaces, global %+v; want 15 interfaces, 20 virtual routers", len(doc.Interfaces.Interface), doc.VRRP)
		}
	})
}

// TestIETFReadHoldsLittle: a read of /ietf-vrrp does not hold a snapshot
// of every instance and the whole document at once (issue 12, as
// TestStatusReadHoldsLittle).
func TestIETFReadHoldsLittle(t *testing.T) {
	const n = 1000
	withMasters(t, n, false, func(d *daemon) {
		base := liveHeap()
		w := &peakWriter{writes: 8}
		if err := d.writeIETF(w); err != nil {
			t.Fatal(err)
		}
		// Before, a snapshot of every instance and the whole document:
		// 722 kB here. Now one interface's, and the names of the
		// instances by interface: 133 kB.
		checkHeld(t, "an /ietf-vrrp read", n, base, w, 256<<10)
		runtime.KeepAlive(d)
	})
}

// A client gone half way: the daemon's streamed documents stop at the
// first failed write and return its error.
func TestStreamWriteError(t *testing.T) {
	withMasters(t, 20, true, func(d *daemon) {
		for _, n := range []int{0, 10, 3000} {
			if err := d.streamStatus(&errWriter{n: n}); err == nil {
				t.Errorf("write error after %d bytes: streamStatus returned nil", n)
			}
			if err := d.writeIETF(&errWriter{n: n}); err == nil {
				t.Errorf("write error after %d bytes: writeIETF returned nil", n)
			}
		}
	})
}
