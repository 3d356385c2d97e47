package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/govrrp/govrrp/arpnd"
	"github.com/govrrp/govrrp/transport/memnet"
)

// probeLAN is the link as a host's Prober sees it: the frames it sends
// are answered by whoever holds the address (holders), with an ARP
// reply.
type probeLAN struct {
	in     chan probeIn
	closed chan struct{}
	once   sync.Once

	mu      sync.Mutex
	holders map[netip.Addr][]net.HardwareAddr
	sent    int
	fail    bool  // WriteFrame fails (the interface is down, say)
	batches []int // the size of each WriteFrames call
}

type probeIn struct {
	b       []byte
	ifindex int
}

func newProbeLAN() *probeLAN {
	return &probeLAN{in: make(chan probeIn, 64), closed: make(chan struct{}), holders: map[netip.Addr][]net.HardwareAddr{}}
}

func (l *probeLAN) hold(a netip.Addr, macs ...net.HardwareAddr) {
	l.mu.Lock()
	l.holders[a] = macs
	l.mu.Unlock()
}

func (l *probeLAN) setFail(fail bool) {
	l.mu.Lock()
	l.fail = fail
	l.mu.Unlock()
}

func (l *probeLAN) probes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent
}

func (l *probeLAN) ReadFrame(b []byte) (int, int, error) {
	select {
	case f := <-l.in:
		return copy(b, f.b), f.ifindex, nil
	case <-l.closed:
		return 0, 0, net.ErrClosed
	}
}

// WriteFrame answers an ARP probe (from hostMAC, for the address at
// 38:42) with one reply per holder.
func (l *probeLAN) WriteFrame(b []byte, ifindex int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writeLocked(b, ifindex)
}

// WriteFrames makes probeLAN an arpnd.ProbeBatchConn: the daemon's
// rounds go through arpnd.Prober.SendBatch's batches, as on Linux.
func (l *probeLAN) WriteFrames(fs []arpnd.ProbeFrame) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, len(fs))
	for i, f := range fs {
		if err := l.writeLocked(f.B, f.IfIndex); err != nil {
			return i, err
		}
	}
	return len(fs), nil
}

func (l *probeLAN) batchSizes() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.batches)
}

func (l *probeLAN) writeLocked(b []byte, ifindex int) error {
	if l.fail {
		return errors.New("network is down")
	}
	l.sent++
	if len(b) < 42 || b[12] != 0x08 || b[13] != 0x06 {
		return nil
	}
	vip := netip.AddrFrom4([4]byte(b[38:42]))
	for _, mac := range l.holders[vip] {
		r := slices.Concat(b[6:12], mac, []byte{0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2}, mac, vip.AsSlice(), b[6:12], make([]byte, 4), make([]byte, 18))
		select {
		case l.in <- probeIn{r, ifindex}:
		default:
		}
	}
	return nil
}

func (l *probeLAN) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// probeSys is a fakeSys that can probe, through a probeLAN.
type probeSys struct {
	*fakeSys
	lan    *probeLAN
	prober *arpnd.Prober
}

var probeHostMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}

func (s *probeSys) Prober() (*arpnd.Prober, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prober == nil {
		s.prober = arpnd.NewProberConn(arpnd.ProberConfig{Interface: func(i int) (arpnd.Interface, error) {
			return arpnd.Interface{Name: "eth0", Index: i, HardwareAddr: probeHostMAC}, nil
		}}, s.lan, nil)
	}
	return s.prober, nil
}

func (s *probeSys) Close() error {
	s.mu.Lock()
	p := s.prober
	s.mu.Unlock()
	if p != nil {
		p.Close()
	}
	return s.fakeSys.Close()
}

// logLines records the daemon's log lines at warn and info that mention
// a second responder.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "second responder") {
		return nil
	}
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "address" || a.Key == "mac" || a.Key == "macs" {
			line += " " + a.String()
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

func (l *logLines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

type probeHost struct {
	sys *probeSys
	d   *daemon
	log *logLines
}

func startProbeHost(t *testing.T, lan *memnet.Network, n int, cfg Config) *probeHost {
	t.Helper()
	h := &probeHost{sys: &probeSys{fakeSys: newFakeSys(lan, n), lan: newProbeLAN()}, log: &logLines{}}
	h.d = newDaemon(cfg, h.sys, slog.New(h.log), nil, (&recorder{}).run)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

func (h *probeHost) inst(t *testing.T) InstanceStatus {
	t.Helper()
	st := h.d.status()
	if len(st.Instances) != 1 {
		t.Fatalf("instances %+v", st.Instances)
	}
	return st.Instances[0]
}

// TestDaemonSecondResponder: the master probes its VIP every
// probe_interval and the backup never does; when another MAC answers
// for the VIP, the alarm is raised within two intervals (status, metrics,
// one warning for the whole episode), answers from the router's own MACs
// (interface, virtual MAC) never raise it, and it clears with one line
// after two quiet rounds, within three intervals of the other host
// letting the address go. A
// reload to probe_interval = 0 stops probing.
func TestDaemonSecondResponder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		const every = 200 * time.Millisecond
		cfg := func(prio uint8) Config {
			c := cfgOf(inst("VI_1", 1, prio, "10.0.0.100/24"))
			c.ProbeInterval = every
			return c
		}
		a := startProbeHost(t, lan, 1, cfg(200))
		b := startProbeHost(t, lan, 2, cfg(100))
		vip := netip.MustParseAddr("10.0.0.100")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if s := a.inst(t).State; s != "MASTER" {
			t.Fatalf("a is %s", s)
		}
		if n := a.sys.lan.probes(); n < 5 {
			t.Errorf("master sent %d probes in ~1.5s at %v, want >= 5", n, every)
		}
		if n := b.sys.lan.probes(); n != 0 {
			t.Errorf("backup sent %d probes", n)
		}
		// The router's own MACs answer: no alarm.
		a.sys.lan.hold(vip, probeHostMAC, arpnd.VirtualMAC(1, false))
		time.Sleep(5 * every)
		synctest.Wait()
		is := a.inst(t)
		if len(is.SecondResponders) != 0 || is.Probe == nil || is.Probe.Answers != 0 || is.Probe.Episodes != 0 {
			t.Fatalf("own answers: second responders %+v, probe %+v", is.SecondResponders, is.Probe)
		}

		// A rogue host holds the VIP too.
		rogue := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x66}
		a.sys.lan.hold(vip, probeHostMAC, rogue)
		start := time.Now()
		time.Sleep(2 * every)
		synctest.Wait()
		is = a.inst(t)
		if len(is.SecondResponders) != 1 || is.SecondResponders[0].Address != vip.String() ||
			!slices.Equal(is.SecondResponders[0].MACs, []string{rogue.String()}) {
			t.Fatalf("second responders %+v, want %v at %v", is.SecondResponders, rogue, vip)
		}
		if since := is.SecondResponders[0].Since.Sub(start); since < 0 || since > 2*every {
			t.Errorf("alarm raised %v after the rogue came, want within 2 intervals", since)
		}
		_, body := scrape(t, a.d.snapshot(), "")
		for _, want := range []string{
			`vrrp_second_responder{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",address="10.0.0.100"} 1`,
			`vrrp_second_responder_episodes_total{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4"} 1`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// It stays one episode, one warning, while the rogue answers.
		time.Sleep(10 * every)
		synctest.Wait()
		is = a.inst(t)
		if is.Probe.Episodes != 1 || is.Probe.Answers < 10 {
			t.Errorf("probe %+v, want 1 episode and >= 10 answers", is.Probe)
		}
		// The rogue lets the address go.
		a.sys.lan.hold(vip)
		time.Sleep(2 * every)
		synctest.Wait()
		if is := a.inst(t); len(is.SecondResponders) != 1 {
			t.Errorf("alarm cleared after one quiet round: %+v", is.SecondResponders)
		}
		time.Sleep(every + every/2)
		synctest.Wait()
		is = a.inst(t)
		if len(is.SecondResponders) != 0 {
			t.Errorf("alarm not cleared 3.5 intervals after the rogue left: %+v", is.SecondResponders)
		}
		_, body = scrape(t, a.d.snapshot(), "")
		if want := `vrrp_second_responder{vrrp_instance="VI_1",interface="eth0",vrid="1",family="ipv4",address="10.0.0.100"} 0`; !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
		wantLog := []string{
			fmt.Sprintf("WARN second responder: another MAC answers for a virtual address of this master address=%v mac=%v", vip, rogue),
			fmt.Sprintf("INFO second responder gone: only this router answers for the address again address=%v macs=%v", vip, rogue),
		}
		if got := a.log.get(); !slices.Equal(got, wantLog) {
			t.Errorf("log lines\n%q\nwant\n%q", got, wantLog)
		}
		if got := b.log.get(); len(got) != 0 {
			t.Errorf("backup logged %q", got)
		}

		// Two rogues in one episode: both named, one warning.
		rogue2 := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x67}
		a.sys.lan.hold(vip, rogue, rogue2)
		time.Sleep(2 * every)
		synctest.Wait()
		is = a.inst(t)
		if len(is.SecondResponders) != 1 || !slices.Equal(is.SecondResponders[0].MACs, []string{rogue.String(), rogue2.String()}) {
			t.Errorf("two rogues: second responders %+v", is.SecondResponders)
		}
		got := a.log.get()[len(wantLog):]
		wantMore := []string{
			fmt.Sprintf("WARN second responder: another MAC answers for a virtual address of this master address=%v mac=%v", vip, rogue),
			fmt.Sprintf("INFO second responder: one more MAC answers for a virtual address of this master address=%v mac=%v", vip, rogue2),
		}
		if !slices.Equal(got, wantMore) {
			t.Errorf("two rogues: log lines\n%q\nwant\n%q", got, wantMore)
		}
		a.sys.lan.hold(vip)
		time.Sleep(4 * every)
		synctest.Wait()
		if is := a.inst(t); len(is.SecondResponders) != 0 || is.Probe.Episodes != 2 {
			t.Errorf("after the two rogues: second responders %+v, probe %+v", is.SecondResponders, is.Probe)
		}

		// probe_interval = 0: no more probes, no probe figures.
		off := cfg(200)
		off.ProbeInterval = 0
		if err := a.d.Reload(off); err != nil {
			t.Fatal(err)
		}
		time.Sleep(every)
		synctest.Wait()
		n := a.sys.lan.probes()
		time.Sleep(10 * every)
		synctest.Wait()
		if m := a.sys.lan.probes(); m != n {
			t.Errorf("probing off: %d probes sent after the reload", m-n)
		}
		if is := a.inst(t); is.Probe != nil {
			t.Errorf("probing off: status probe %+v", is.Probe)
		}
		// And on again.
		if err := a.d.Reload(cfg(200)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * every)
		synctest.Wait()
		if m := a.sys.lan.probes(); m <= n {
			t.Errorf("probing on again: no probe sent")
		}
	})
}

func TestParseProbeInterval(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2s", 2 * time.Second, true},
		{"100ms", 100 * time.Millisecond, true},
		{"10s", 10 * time.Second, true},
		{"off", 0, true},
		{"OFF", 0, true},
		{"0", 0, true},
		{"0s", 0, true},
		{"99ms", 0, false},
		{"11s", 0, false},
		{"-1s", 0, false},
		{"often", 0, false},
	} {
		got, ok := parseProbeInterval(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseProbeInterval(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// probe_interval in files and flags: default 2s, "off", 0 and false
// turn it off, and an error names the key and the range.
func TestConfigProbeInterval(t *testing.T) {
	const inst = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 1\nvips = [\"10.0.0.100\"]\n"
	for _, tc := range []struct {
		top  string
		want time.Duration
		err  string
	}{
		{"", defaultProbeInterval, ""},
		{`probe_interval = "500ms"`, 500 * time.Millisecond, ""},
		{`probe_interval = "off"`, 0, ""},
		{`probe_interval = 0`, 0, ""},
		{`probe_interval = false`, 0, ""},
		{`probe_interval = "1m"`, 0, "probe_interval"},
		{`probe_interval = 5`, 0, "probe_interval"},
		{`probe_interval = true`, 0, "probe_interval"},
	} {
		cfg, err := parseTOML("test.toml", tc.top+"\n"+inst)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "100ms-10s") {
				t.Errorf("%s: err %v, want one naming %s and the range", tc.top, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.ProbeInterval != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.top, cfg.ProbeInterval, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want time.Duration
		err  bool
	}{
		{[]string{"-iface", "eth0", "-vrid", "1", "10.0.0.100"}, defaultProbeInterval, false},
		{[]string{"-iface", "eth0", "-vrid", "1", "-probe-interval", "off", "10.0.0.100"}, 0, false},
		{[]string{"-iface", "eth0", "-vrid", "1", "-probe-interval", "300ms", "10.0.0.100"}, 300 * time.Millisecond, false},
		{[]string{"-iface", "eth0", "-vrid", "1", "-probe-interval", "1h", "10.0.0.100"}, 0, true},
	} {
		cfg, err := parseFlags(tc.args)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "-probe-interval") {
				t.Errorf("%v: err %v, want one naming -probe-interval", tc.args, err)
			}
			continue
		}
		if err != nil || cfg.ProbeInterval != tc.want {
			t.Errorf("%v: %v %v, want %v", tc.args, cfg.ProbeInterval, err, tc.want)
		}
	}
}

// TestDaemonSecondResponderSendFails: rounds whose probe could not be
// sent are not quiet: the alarm stays while probes fail (counted as send
// errors), and clears after two quiet rounds once they go out again.
func TestDaemonSecondResponderSendFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		const every = 200 * time.Millisecond
		cfg := cfgOf(inst("VI_1", 1, 200, "10.0.0.100/24"))
		cfg.ProbeInterval = every
		a := startProbeHost(t, lan, 1, cfg)
		vip := netip.MustParseAddr("10.0.0.100")
		a.sys.lan.hold(vip, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x66})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if is := a.inst(t); is.State != "MASTER" || len(is.SecondResponders) != 1 {
			t.Fatalf("%s, second responders %+v", is.State, is.SecondResponders)
		}
		a.sys.lan.hold(vip)
		a.sys.lan.setFail(true)
		time.Sleep(10 * every)
		synctest.Wait()
		is := a.inst(t)
		if len(is.SecondResponders) != 1 || is.Probe.SendErrors < 9 {
			t.Errorf("probes failing: second responders %+v, probe %+v; want the alarm kept and the errors counted", is.SecondResponders, is.Probe)
		}
		a.sys.lan.setFail(false)
		time.Sleep(3*every + every/2)
		synctest.Wait()
		if is := a.inst(t); len(is.SecondResponders) != 0 || is.Probe.Episodes != 1 {
			t.Errorf("probes sent again, nobody else answers: second responders %+v, probe %+v", is.SecondResponders, is.Probe)
		}
	})
}

// TestDaemonProbeRoundBatched: a round probes every address of every
// master instance in batches (arpnd.Prober.SendBatch: one sendmmsg per
// batch on Linux, issue 12), not one write per address: 200 masters with
// 260 addresses, every probe_interval 260 probes in 3 writes.
func TestDaemonProbeRoundBatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		const every = time.Second
		var ins []Instance
		for i := range 200 {
			vips := []string{fmt.Sprintf("10.1.%d.1/16", i)}
			if i < 60 {
				vips = append(vips, fmt.Sprintf("10.2.%d.1/16", i))
			}
			in := inst(fmt.Sprintf("VI_%d", i+1), uint8(i+1), 200, vips...)
			in.Interval = time.Second
			ins = append(ins, in)
		}
		c := cfgOf(ins...)
		c.ProbeInterval = every
		a := startProbeHost(t, lan, 1, c)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, is := range a.d.status().Instances {
			if is.State != "MASTER" {
				t.Fatalf("%s is %s", is.Name, is.State)
			}
		}
		probes, batches := a.sys.lan.probes(), len(a.sys.lan.batchSizes())
		time.Sleep(every)
		synctest.Wait()
		if n := a.sys.lan.probes() - probes; n != 260 {
			t.Errorf("%d probes in a round, want 260 (one per address)", n)
		}
		if got := a.sys.lan.batchSizes()[batches:]; !slices.Equal(got, []int{128, 128, 4}) {
			t.Errorf("a round's writes carried %v probes, want [128 128 4]", got)
		}
	})
}

// discardBatchConn is an arpnd.ProbeBatchConn that discards what it is
// given and counts its writes.
type discardBatchConn struct{ writes *int }

func (discardBatchConn) ReadFrame([]byte) (int, int, error) { return 0, 0, net.ErrClosed }
func (c discardBatchConn) WriteFrame([]byte, int) error     { *c.writes++; return nil }
func (c discardBatchConn) WriteFrames(fs []arpnd.ProbeFrame) (int, error) {
	*c.writes++
	return len(fs), nil
}
func (discardBatchConn) Close() error { return nil }

// BenchmarkDaemonProbeRound: the daemon's probe round over 4,094 master
// instances with a virtual address each on 4,094 interfaces (issue 12's
// scale), into a connection that discards: vrrpd's own cost per round
// (locks, round bookkeeping, arpnd.Prober.SendBatch), its allocations and
// its writes (one sendmmsg each on Linux).
func BenchmarkDaemonProbeRound(b *testing.B) {
	const n = 4094
	var writes int
	d, p := probeMasters(n, 0, &writes)
	defer p.Close()
	var r probeRound
	now := time.Now()
	d.probeRound(p, &r, now) // adds the probes
	writes = 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.probeRound(p, &r, now)
	}
	b.ReportMetric(float64(writes)/float64(b.N), "writes/round")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/address")
}

// TestDaemonProbeRoundScratch: a round of 4,094 addresses (issue 12's
// scale) keeps scratch for probeChunk probes between rounds, not for the
// round: 470 kB of it before, with arpnd's. Its writes are as many as
// in one batch: 32 of 128 probes.
func TestDaemonProbeRoundScratch(t *testing.T) {
	const n = 4094
	var writes int
	d, p := probeMasters(n, 100, &writes)
	defer p.Close()
	var r probeRound
	now := time.Now()
	for range 3 {
		writes = 0
		d.probeRound(p, &r, now)
	}
	if want := (n + n/100 + 1 + 127) / 128; writes != want {
		t.Errorf("%d writes in a round of %d probes, want %d", writes, n+n/100+1, want)
	}
	scratch := cap(r.vs)*int(unsafe.Sizeof(r.vs[0])) + cap(r.prs)*int(unsafe.Sizeof(r.prs[0])) +
		cap(r.refs)*int(unsafe.Sizeof(r.refs[0])) + cap(r.res)*int(unsafe.Sizeof(r.res[0]))
	t.Logf("round scratch: %d B (instances %d, probes %d, refs %d, results %d)", scratch, cap(r.vs), cap(r.prs), cap(r.refs), cap(r.res))
	// The instances (8 B each, 32 kB at 4,094) and a chunk's probes,
	// about 20 kB.
	if limit := 8*n + 24<<10; scratch > limit {
		t.Errorf("round scratch of %d kB for %d addresses, want at most %d kB", scratch>>10, n, limit>>10)
	}
	for i, v := range r.vs[:cap(r.vs)] {
		if v != nil {
			t.Fatalf("the scratch keeps instance %d alive", i)
		}
	}
}

// probeMasters returns a daemon of n master instances, one per interface
// with a virtual address each (and a second one every second'th instance
// when second is not 0), and a Prober whose connection discards what it
// is given and counts its writes in writes.
func probeMasters(n, second int, writes *int) (*daemon, *arpnd.Prober) {
	d := &daemon{log: slog.New(slog.DiscardHandler), vrs: map[string]*vrInst{}}
	for i := range n {
		vips := []string{fmt.Sprintf("10.%d.%d.100/24", i>>8, i&255)}
		if second != 0 && i%second == 0 {
			vips = append(vips, fmt.Sprintf("10.%d.%d.101/24", i>>8, i&255))
		}
		in := inst(fmt.Sprintf("VI_%d", i), 1, 200, vips...)
		v := &vrInst{in: &in, cur: &in, conn: &sharedConn{ifIndex: i + 1}}
		v.probe.master.Store(true)
		d.vrs[in.Name] = v
		d.order = append(d.order, in.Name)
	}
	p := arpnd.NewProberConn(arpnd.ProberConfig{Interface: func(i int) (arpnd.Interface, error) {
		return arpnd.Interface{Name: "eth0", Index: i, HardwareAddr: probeHostMAC}, nil
	}}, discardBatchConn{writes}, nil)
	return d, p
}
