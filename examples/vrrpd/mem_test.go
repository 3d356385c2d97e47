package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/govrrp/govrrp/internal/netlab"
	"github.com/govrrp/govrrp/internal/scale"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// memSys is the system of the in-process memory measurement: the scale
// lab's host (internal/scale: link l<i> with index i and address
// netlab.LinkAddr(i, host)) without sockets or netlink. Every instance
// goes on one shared transport of its family (multiSystem), as on
// linuxSystem; the transports receive nothing and drop what is sent;
// Take, Release and Announce do nothing. What it holds per instance is
// nothing, so that the heap measured is the daemon's.
type memSys struct {
	host int

	mu    sync.Mutex
	conns []*stubConn
}

var _ multiSystem = (*memSys)(nil)

func (s *memSys) link(in *Instance) (int, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(in.Interface, "l"))
	if err != nil || !strings.HasPrefix(in.Interface, "l") {
		return 0, fmt.Errorf("interface %q: no such interface", in.Interface)
	}
	return i, nil
}

func (s *memSys) Open(in *Instance) (transport.Conn, int, netip.Addr, error) {
	return nil, 0, netip.Addr{}, errors.New("memSys: only shared transports")
}

func (s *memSys) OpenMulti(fam vrrp.Family, in *Instance) (transport.Conn, error) {
	if _, err := s.link(in); err != nil {
		return nil, err
	}
	c := &stubConn{fam: fam, done: make(chan struct{})}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	return c, nil
}

func (s *memSys) JoinMulti(c transport.Conn, joined int, in *Instance) (int, netip.Addr, error) {
	i, err := s.link(in)
	if err != nil {
		return 0, netip.Addr{}, err
	}
	return i, netlab.LinkAddr(i, s.host), nil
}

func (s *memSys) LeaveMulti(transport.Conn, *Instance) error { return nil }
func (s *memSys) RemoveStale(*Instance) error                { return nil }
func (s *memSys) Take(*Instance, vrrp.VRInfo) error          { return nil }
func (s *memSys) Release(*Instance, vrrp.VRInfo) error       { return nil }
func (s *memSys) Announce(*Instance, vrrp.VRInfo) error      { return nil }
func (s *memSys) LinkUp(string) (bool, error)                { return true, nil }
func (s *memSys) Close() error                               { return nil }
func (s *memSys) WatchLinks(ctx context.Context, _ func(string, bool)) error {
	<-ctx.Done()
	return nil
}

// liveHeap returns the live heap after a full collection
// (/gc/heap/live:bytes: the heap marked reachable by the last cycle).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapAllocs returns the bytes allocated on the heap so far.
func heapAllocs() uint64 { return readMetric("/gc/heap/allocs:bytes").Uint64() }

func readMetric(name string) metrics.Value {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value
}

// retained is the memory the process holds from the OS, less the heap
// pages it released: an RSS proxy.
func retained() uint64 {
	return readMetric("/memory/classes/total:bytes").Uint64() - readMetric("/memory/classes/heap/released:bytes").Uint64()
}

// memFigures is what measureDaemon measured for n instances: the live
// heap per instance once every instance has started (backup) and once
// every one is master, in bytes.
type memFigures struct {
	n              int
	backup, master float64
	// allocRate is what the daemon allocates per instance and second
	// of (fake) time once every instance is master, in bytes: with the
	// live heap, it says how often the GC runs (GOGC).
	allocRate float64
	// startAllocs is what was allocated from before the configuration
	// was parsed to every instance master, per instance, in bytes: the
	// start-up garbage.
	startAllocs float64
	// retainedStart and retainedFreed are the memory the process has
	// from the OS and not released (runtime/metrics: total minus heap
	// released), an RSS proxy, when every instance has started: as the
	// start-up left it, and after releaseStartup (vrrpd's, once every
	// instance runs). In bytes, the whole test process.
	retainedStart, retainedFreed uint64
	// gcCycles and gcCPU are the collections during steadySecs of (fake)
	// time as master and the CPU they took (real), under the GOGC in
	// effect; heapGoal is the heap size the next collection starts at.
	gcCycles   uint64
	gcCPU      float64
	heapGoal   uint64
	steadySecs float64
}

// measureDaemon runs vrrpd's daemon with the scale lab's configuration of
// n links (internal/scale.VrrpdConfig at 1 s, with a notify command, as
// the scale runs) on memSys in a synctest bubble, and measures its live
// heap: before the configuration is parsed, once every instance has
// started as backup, and once every instance is master (nothing is
// received: each takes over after Master_Down_Interval). inspect, if not
// nil, is called while every instance is master, after 30 s of it.
func measureDaemon(t *testing.T, n int, inspect func(*daemon)) memFigures {
	t.Helper()
	f := memFigures{n: n}
	synctest.Test(t, func(t *testing.T) {
		base := liveHeap()
		allocs0 := heapAllocs()
		cfg, err := parseTOML("scale.toml", string(scale.VrrpdConfig(n, time.Second, scale.BackupPriority)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range cfg.Instances {
			cfg.Instances[i].Notify = "/usr/local/bin/vrrp-notify" // the scale runs' -notify
		}
		run := func(context.Context, string, []string) error { return nil }
		d := newDaemon(cfg, &memSys{host: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, run)
		cfg = Config{}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		d.releaseStartup = func() {
			f.retainedStart = retained()
			releaseStartup()
			f.retainedFreed = retained()
		}
		go func() { errc <- d.Run(ctx) }()
		synctest.Wait()
		select {
		case <-d.start.done:
		default:
			t.Fatal("the instances have not all started")
		}
		f.backup = float64(liveHeap()-base) / float64(n)

		time.Sleep(5 * time.Second) // Master_Down_Interval is 3.6 s at 1 s
		synctest.Wait()
		masters := 0
		for _, is := range d.status().Instances {
			if is.State == "MASTER" {
				masters++
			}
		}
		if masters != n {
			t.Fatalf("%d masters of %d instances", masters, n)
		}
		f.master = float64(liveHeap()-base) / float64(n)
		f.startAllocs = float64(heapAllocs()-allocs0) / float64(n)
		const steady = 30 * time.Second
		a0, c0, cpu0 := heapAllocs(), readMetric("/gc/cycles/total:gc-cycles").Uint64(), readMetric("/cpu/classes/gc/total:cpu-seconds").Float64()
		time.Sleep(steady)
		synctest.Wait()
		f.allocRate = float64(heapAllocs()-a0) / float64(n) / steady.Seconds()
		f.gcCycles = readMetric("/gc/cycles/total:gc-cycles").Uint64() - c0
		f.gcCPU = readMetric("/cpu/classes/gc/total:cpu-seconds").Float64() - cpu0
		f.heapGoal = readMetric("/gc/heap/goal:bytes").Uint64()
		f.steadySecs = steady.Seconds()
		if inspect != nil {
			inspect(d)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
	return f
}

// memSizes are TestMemoryPerInstance's sizes: 500 in `go test ./...`;
// issue 12's are -mem.sizes 100,1000,4094.
var memSizes = flag.String("mem.sizes", "500", "TestMemoryPerInstance: numbers of instances, comma-separated")

// memGOGC are the GOGC values TestMemoryPerInstance measures the GC under
// (debug.SetGCPercent); empty: the test process's.
var memGOGC = flag.String("mem.gogc", "", "TestMemoryPerInstance: GOGC values to measure the GC under, comma-separated (default: the process's)")

// memProfile is where TestMemoryPerInstance writes the heap profile of
// its last size, taken while every instance is master.
var memProfile = flag.String("mem.profile", "", "TestMemoryPerInstance: file for the heap profile (every instance master for 30 s) of the last size")

// TestMemoryPerInstance measures and bounds the live heap the daemon
// holds per instance with the scale lab's configuration (issue 12: 32 MB
// of RSS for 4,094 links is 8 kB per link, and the Go heap runs at up to
// twice the live heap between collections). A deterministic count of
// bytes, not a timing: the daemon runs on memSys in a synctest bubble.
// Issue 12's sizes, with the heap profile of the last one:
//
//	go test ./examples/vrrpd -run TestMemoryPerInstance -v -mem.sizes 100,1000,4094 \
//	    -memprofile /tmp/mem.prof -memprofilerate 1
func TestMemoryPerInstance(t *testing.T) {
	sizes := strings.Split(*memSizes, ",")
	for k, s := range sizes {
		var inspect func(*daemon)
		if *memProfile != "" && k == len(sizes)-1 {
			inspect = func(*daemon) {
				f, err := os.Create(*memProfile)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("-mem.sizes: %q is not a number of instances", s)
		}
		gogcs := []string{""}
		if *memGOGC != "" {
			gogcs = strings.Split(*memGOGC, ",")
		}
		var f memFigures
		for _, g := range gogcs {
			if g != "" {
				v, err := strconv.Atoi(g)
				if err != nil {
					t.Fatalf("-mem.gogc: %q is not a number", g)
				}
				old := debug.SetGCPercent(v)
				f = measureDaemon(t, n, inspect)
				debug.SetGCPercent(old)
			} else {
				f = measureDaemon(t, n, inspect)
			}
			gc := "process's"
			if g != "" {
				gc = g
			}
			t.Logf("%d instances, GOGC %s: retained from the OS when every instance started %.1f MB, %.1f MB after releaseStartup; as master: heap goal %.1f MB, %d GC cycles in %.0f s taking %.1f ms of CPU",
				n, gc, mb(f.retainedStart), mb(f.retainedFreed), mb(f.heapGoal), f.gcCycles, f.steadySecs, f.gcCPU*1000)
		}
		if f.retainedStart == 0 {
			t.Errorf("%d instances: releaseStartup was not called once every instance started", n)
		}
		t.Logf("%d instances: live heap %.0f B per instance as backup, %.0f B as master; allocated %.0f B per instance to start, then %.1f B per instance and second as master",
			n, f.backup, f.master, f.startAllocs, f.allocRate)
		// Below memBoundFrom instances the fixed cost (the shared
		// transport's receive batches, the Router) is a large share.
		if n >= memBoundFrom && (f.backup > memBound || f.master > memBound) {
			t.Errorf("%d instances: live heap per instance %.0f B as backup, %.0f B as master; want at most %d B",
				n, f.backup, f.master, memBound)
		}
	}
}

// memBound is the live heap per instance TestMemoryPerInstance allows:
// 5,572 B at 500 instances before session 6's cuts (commit d0bb7c6),
// 4,264 B after.
const memBound = 4864

// memBoundFrom is the smallest number of instances memBound applies to.
const memBoundFrom = 500

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// TestGCPolicy: vrrpd sets its default GOGC unless the environment sets
// one (which the runtime applied).
func TestGCPolicy(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	setGCPolicy(func(k string) string {
		if k == "GOGC" {
			return "80"
		}
		return ""
	}, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=80 in the environment: GC percent set to %d, want it left alone (100 here)", got)
	}
	setGCPolicy(func(string) string { return "" }, log)
	if got := debug.SetGCPercent(100); got != defaultGOGC {
		t.Errorf("no GOGC in the environment: GC percent %d, want vrrpd's default %d", got, defaultGOGC)
	}
}

// TestDetachStrings: after detachStrings the configuration does not keep
// the text it was parsed from (the TOML decoder's strings are substrings
// of its copy of the whole file), and identical strings share one copy.
func TestDetachStrings(t *testing.T) {
	parse := func() Config {
		// 4 MiB of comment: kept whole by any substring.
		text := "# " + strings.Repeat("x", 4<<20) + "\n" + string(scale.VrrpdConfig(3, time.Second, scale.BackupPriority)) +
			"\n[[instance]]\nname = \"VI_n\"\ninterface = \"l9\"\nvrid = 2\npriority = 100\nnotify = \"/bin/n\"\nvips = [\"10.9.0.100/24\"]\n" +
			"\n[[instance]]\nname = \"VI_m\"\ninterface = \"l9\"\nvrid = 3\npriority = 100\nnotify = \"/bin/n\"\nvips = [\"10.9.0.101/24\"]\n"
		cfg, err := parseTOML("t.toml", text)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	base := liveHeap()
	cfg := parse()
	detachStrings(&cfg)
	held := int64(liveHeap()) - int64(base)
	if held > 1<<20 {
		t.Errorf("the parsed configuration holds %d B of heap: the 4 MiB text is kept", held)
	}
	a, b := cfg.Instances[3], cfg.Instances[4]
	if a.Notify != "/bin/n" || unsafe.StringData(a.Notify) != unsafe.StringData(b.Notify) {
		t.Errorf("notify %q and %q: want one copy of /bin/n", a.Notify, b.Notify)
	}
	if a.Interface != "l9" || unsafe.StringData(a.Interface) != unsafe.StringData(b.Interface) {
		t.Errorf("interface %q and %q: want one copy of l9", a.Interface, b.Interface)
	}
	runtime.KeepAlive(cfg)
}

// TestConfiguredNamesSmall: the set of the configuration's instance names
// (daemon.configured, read when the Router removes an instance) costs
// the slice of their names, 16 B per instance; a map of them was 57 B
// per instance at 4,094 (issue 12).
func TestConfiguredNamesSmall(t *testing.T) {
	const n = 4094
	ins := make([]Instance, n)
	for i := range ins {
		ins[i].Name = fmt.Sprintf("VI_%d", n-i)
	}
	d := &daemon{}
	base := liveHeap()
	d.setConfigured(ins)
	held := float64(liveHeap()-base) / n
	for _, in := range ins {
		if !d.isConfigured(in.Name) {
			t.Fatalf("%s not configured", in.Name)
		}
	}
	if d.isConfigured("VI_0") || d.isConfigured("") {
		t.Errorf("VI_0 or the empty name configured")
	}
	t.Logf("%.1f B per instance", held)
	if held > 26 {
		t.Errorf("the configured names hold %.1f B per instance, want at most 26", held)
	}
	runtime.KeepAlive(ins)
}

// TestNotifyGARPShared: the notify command and garp schedule an instance
// publishes to the hooks are one copy of each value, whatever the number
// of instances that have it; a copy per instance was 80 B each (issue
// 12). Each instance still sees its own values.
func TestNotifyGARPShared(t *testing.T) {
	const n = 4094
	ins := make([]Instance, n)
	vs := make([]vrInst, n)
	for i := range ins {
		ins[i].Notify, ins[i].GARP = "/usr/local/bin/vrrp-notify", defaultGARP
	}
	ins[7].Notify, ins[9].GARP.MasterRepeat = "/usr/local/bin/other", 2
	d := &daemon{}
	base := liveHeap()
	for i := range ins {
		d.setNotifyGARPLocked(&vs[i], &ins[i])
	}
	held := float64(liveHeap()-base) / n
	for i := range ins {
		if got := *vs[i].notify.Load(); got != ins[i].Notify {
			t.Fatalf("instance %d: notify %q, want %q", i, got, ins[i].Notify)
		}
		if got := *vs[i].garp.Load(); got != ins[i].GARP {
			t.Fatalf("instance %d: garp %+v, want %+v", i, got, ins[i].GARP)
		}
	}
	t.Logf("%.1f B per instance", held)
	// A few bytes of noise (3.5 B seen); before, 83.5 B.
	if held > 10 {
		t.Errorf("the notify commands and garp schedules hold %.1f B per instance, want at most 10", held)
	}
	runtime.KeepAlive(ins)
	runtime.KeepAlive(vs)
}

// TestElectionRecordSmall: the observer's record of an instance's
// transitions is in the 112-byte size class (issue 12: one per instance
// at 4,094); its last event without the name the map has was 128 B. And
// the name comes back on reading.
func TestElectionRecordSmall(t *testing.T) {
	if sz := unsafe.Sizeof(electionRecord{}); sz > 112 {
		t.Errorf("electionRecord is %d B, want at most 112", sz)
	}
	var o observer
	ev := vrrp.Event{Time: time.Unix(100, 0), Name: "VI_1", VRID: 7, Family: vrrp.IPv6, From: vrrp.Backup, To: vrrp.Master,
		Reason: vrrp.ReasonMasterNoResponse, MasterReason: vrrp.ReasonMasterNoResponse,
		Peer: netip.MustParseAddr("fe80::1"), PeerPriority: 100}
	// Every field set: one added to vrrp.Event must be kept too.
	for i, f := range reflect.VisibleFields(reflect.TypeOf(ev)) {
		if reflect.ValueOf(ev).Field(i).IsZero() {
			t.Fatalf("the test event leaves vrrp.Event.%s zero: set it, and keep it in lastEvent", f.Name)
		}
	}
	o.record(ev)
	if last, _, _ := o.read("VI_1"); last != ev {
		t.Errorf("read %+v, want %+v", last, ev)
	}
	if last, _, _ := o.get("VI_1"); last != ev {
		t.Errorf("get %+v, want %+v", last, ev)
	}
	if last, _, _ := o.read("VI_2"); last != (vrrp.Event{}) {
		t.Errorf("read of an unknown instance: %+v", last)
	}
}

// TestInstanceSmall: what the daemon keeps per running instance besides
// its configuration is in the 160-byte size class (issue 12: 4,094 of
// them); it was 176 B.
func TestInstanceSmall(t *testing.T) {
	if sz := unsafe.Sizeof(vrInst{}); sz > 160 {
		t.Errorf("vrInst is %d B, want at most 160 (instProbe %d B, hostState %d B)", sz, unsafe.Sizeof(instProbe{}), unsafe.Sizeof(hostState{}))
	}
}
