package arpnd

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
)

// batchProbeConn is a fakeProbeConn that also sends in batches: it
// records each WriteFrames call's size, and fails the frames whose
// interface is in failOn.
type batchProbeConn struct {
	*fakeProbeConn
	calls  []int
	failOn map[int]error
}

func newBatchProbeConn() *batchProbeConn {
	return &batchProbeConn{fakeProbeConn: newFakeProbeConn(), failOn: map[int]error{}}
}

func (c *batchProbeConn) WriteFrames(fs []ProbeFrame) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, len(fs))
	for i, f := range fs {
		if err := c.failOn[f.IfIndex]; err != nil {
			return i, err
		}
		c.sent = append(c.sent, probeFrame{bytes.Clone(f.B), f.IfIndex})
	}
	return len(fs), nil
}

// addProbes adds n IPv4 probes on interfaces first..first+n-1, or IPv6
// ones with v6.
func addProbes(t testing.TB, p *Prober, first, n int, v6 bool) []*Probe {
	t.Helper()
	prs := make([]*Probe, n)
	for i := range n {
		ifindex := first + i
		a := netip.AddrFrom4([4]byte{10, byte(ifindex >> 8), byte(ifindex), 100})
		if v6 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(ifindex >> 8), 15: byte(ifindex)})
		}
		pr, err := p.Add(ProbeTarget{IfIndex: ifindex, Addr: a, HardwareAddr: hostMAC, LinkLocal: ll1})
		if err != nil {
			t.Fatal(err)
		}
		prs[i] = pr
	}
	return prs
}

// TestProberSendBatch: SendBatch sends each Probe's frame on its
// interface, in WriteFrames calls of at most probeBatchMax frames per
// family (a round of 300 IPv4 addresses: 3 calls, not 300 writes), ends
// each Probe's round as Send does (the MACs heard come back in its
// result), and a frame that fails is that Probe's error alone.
func TestProberSendBatch(t *testing.T) {
	c4, c6 := newBatchProbeConn(), newBatchProbeConn()
	p := NewProberConn(ProberConfig{}, c4, c6)
	defer p.Close()
	v4 := addProbes(t, p, 1, 300, false)
	v6 := addProbes(t, p, 1001, 5, true)
	// Interleaved families, as a daemon's instances come.
	prs := append(append(append([]*Probe{}, v4[:100]...), v6...), v4[100:]...)
	res := make([]ProbeResult, len(prs))

	// An answer from a MAC not ours for the first address, in the round
	// the batch ends.
	c4.push(t, arpReplyFrame(peerMAC, v4[0].Addr()), v4[0].IfIndex())
	c4.sync(t)
	c4.failOn[v4[150].IfIndex()] = errors.New("network is down")
	p.SendBatch(prs, res)

	// The second call stops at the failed frame (v4[150], its 23rd): the
	// next starts after it.
	if want := []int{probeBatchMax, probeBatchMax, probeBatchMax, 300 - 151 - probeBatchMax}; fmt.Sprint(c4.calls) != fmt.Sprint(want) {
		t.Errorf("IPv4 WriteFrames calls of %v frames, want %v", c4.calls, want)
	}
	if fmt.Sprint(c6.calls) != "[5]" {
		t.Errorf("IPv6 WriteFrames calls of %v frames, want [5]", c6.calls)
	}
	sent4 := map[int][]byte{}
	for _, f := range c4.frames() {
		if _, dup := sent4[f.ifindex]; dup {
			t.Errorf("interface %d: two probes", f.ifindex)
		}
		sent4[f.ifindex] = f.b
	}
	if len(sent4) != 299 {
		t.Errorf("%d IPv4 probes sent, want 299 (300, one failed)", len(sent4))
	}
	for i, pr := range prs {
		r := res[i]
		want4, _ := MarshalARPProbe(hostMAC, pr.Addr())
		switch {
		case pr == v4[150]:
			if r.Err == nil || !bytes.Contains([]byte(r.Err.Error()), []byte("network is down")) {
				t.Errorf("%v: err %v, want network is down", pr.Addr(), r.Err)
			}
			if st := pr.Stats(); st.SendErrors != 1 || st.Sent != 0 {
				t.Errorf("%v: stats %+v, want one send error", pr.Addr(), st)
			}
			if _, ok := sent4[pr.IfIndex()]; ok {
				t.Errorf("%v: the failed probe was recorded sent", pr.Addr())
			}
		case r.Err != nil:
			t.Errorf("%v: %v", pr.Addr(), r.Err)
		case pr.Addr().Is4() && !bytes.Equal(sent4[pr.IfIndex()], want4):
			t.Errorf("%v: sent %x on %d, want %x", pr.Addr(), sent4[pr.IfIndex()], pr.IfIndex(), want4)
		case pr.Stats().Sent != 1:
			t.Errorf("%v: stats %+v, want one sent", pr.Addr(), pr.Stats())
		}
		wantHeard := "[]"
		if pr == v4[0] {
			wantHeard = "[" + peerMAC.String() + "]"
		}
		if fmt.Sprint(r.Heard) != wantHeard {
			t.Errorf("%v: heard %v, want %v", pr.Addr(), r.Heard, wantHeard)
		}
	}
	for _, f := range c6.frames() {
		i := f.ifindex - 1001
		want, _ := MarshalNSProbe(hostMAC, ll1, v6[i].Addr())
		if i < 0 || i >= len(v6) || !bytes.Equal(f.b, want) {
			t.Errorf("IPv6 frame on %d: %x", f.ifindex, f.b)
		}
	}

	// The next round: the round ended, nothing heard; a closed Probe is
	// ErrProberClosed and sends nothing, the others go out (3 calls).
	delete(c4.failOn, v4[150].IfIndex())
	v4[7].Close()
	c4.calls = nil
	before := len(c4.frames())
	p.SendBatch(v4, res)
	for i, r := range res[:len(v4)] {
		switch {
		case i == 7:
			if !errors.Is(r.Err, ErrProberClosed) {
				t.Errorf("closed Probe: err %v, want ErrProberClosed", r.Err)
			}
		case r.Err != nil || r.Heard != nil:
			t.Errorf("%v: round 2: %+v", v4[i].Addr(), r)
		}
	}
	if n := len(c4.frames()) - before; n != 299 {
		t.Errorf("round 2: %d probes, want 299", n)
	}
	if want := []int{probeBatchMax, probeBatchMax, 299 - 2*probeBatchMax}; fmt.Sprint(c4.calls) != fmt.Sprint(want) {
		t.Errorf("round 2: WriteFrames calls of %v frames, want %v", c4.calls, want)
	}

	// A Probe of another Prober is an error, not a frame here.
	q := NewProberConn(ProberConfig{}, newBatchProbeConn(), nil)
	defer q.Close()
	other := addProbes(t, q, 1, 1, false)
	p.SendBatch(other, res)
	if !errors.Is(res[0].Err, ErrProberClosed) {
		t.Errorf("another Prober's Probe: err %v", res[0].Err)
	}
}

// TestProberSendBatchOneByOne: on a connection that cannot send batches
// SendBatch writes each frame; one that fails does not stop the others.
func TestProberSendBatchOneByOne(t *testing.T) {
	c4 := newFakeProbeConn()
	p := NewProberConn(ProberConfig{}, c4, nil)
	defer p.Close()
	prs := addProbes(t, p, 1, 10, false)
	res := make([]ProbeResult, len(prs))
	p.SendBatch(prs, res)
	if n := len(c4.frames()); n != 10 {
		t.Errorf("%d frames, want 10", n)
	}
	c4.mu.Lock()
	c4.err = errors.New("no buffer space")
	c4.mu.Unlock()
	p.SendBatch(prs, res)
	for i, r := range res {
		if r.Err == nil {
			t.Errorf("probe %d: no error", i)
		}
		if st := prs[i].Stats(); st.Sent != 1 || st.SendErrors != 1 {
			t.Errorf("probe %d: stats %+v", i, st)
		}
	}
}

// shortConn breaks the ProbeBatchConn contract: it sends nothing and
// says nothing.
type shortConn struct{ nopProbeConn }

func (shortConn) WriteFrames([]ProbeFrame) (int, error) { return 0, nil }

// TestProberSendBatchShortWrite: a batch connection that sends nothing
// without an error does not make SendBatch spin: each frame fails.
func TestProberSendBatchShortWrite(t *testing.T) {
	p := NewProberConn(ProberConfig{}, shortConn{}, nil)
	defer p.Close()
	prs := addProbes(t, p, 1, 3, false)
	res := make([]ProbeResult, len(prs))
	p.SendBatch(prs, res)
	for i, r := range res {
		if r.Err == nil {
			t.Errorf("probe %d: no error", i)
		}
	}
}

// nopBatchConn sends batches into the void and counts the calls.
type nopBatchConn struct {
	nopProbeConn
	calls *int
}

func (c nopBatchConn) WriteFrames(fs []ProbeFrame) (int, error) { *c.calls++; return len(fs), nil }

// TestProberSendBatchAllocs: a round of SendBatch over quiet addresses
// allocates nothing once its scratch has grown.
func TestProberSendBatchAllocs(t *testing.T) {
	var calls int
	p := NewProberConn(ProberConfig{}, nopBatchConn{calls: &calls}, nil)
	defer p.Close()
	prs := addProbes(t, p, 1, 1000, false)
	res := make([]ProbeResult, len(prs))
	p.SendBatch(prs, res)
	if n := testing.AllocsPerRun(20, func() { p.SendBatch(prs, res) }); n != 0 {
		t.Errorf("SendBatch of %d probes allocates %v times", len(prs), n)
	}
}

// BenchmarkProberSend and BenchmarkProberSendBatch: a round of probes
// over 4,094 addresses on 4,094 interfaces (one link each, issue 12's
// scale), Send by Send into a connection that discards, or one
// SendBatch into one that discards batches: the Prober's own cost per
// round, and the writes (system calls on Linux) it makes per round.
func BenchmarkProberSend(b *testing.B) {
	const n = 4094
	var writes int
	p := NewProberConn(ProberConfig{}, countConn{writes: &writes}, nil)
	defer p.Close()
	prs := addProbes(b, p, 1, n, false)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, pr := range prs {
			_, _ = pr.Send()
		}
	}
	b.ReportMetric(float64(writes)/float64(b.N), "writes/round")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
}

func BenchmarkProberSendBatch(b *testing.B) {
	const n = 4094
	var calls int
	p := NewProberConn(ProberConfig{}, nopBatchConn{calls: &calls}, nil)
	defer p.Close()
	prs := addProbes(b, p, 1, n, false)
	res := make([]ProbeResult, n)
	p.SendBatch(prs, res) // grows the scratch
	calls = 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.SendBatch(prs, res)
	}
	b.ReportMetric(float64(calls)/float64(b.N), "writes/round")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
}

// countConn discards frames one by one and counts them.
type countConn struct {
	nopProbeConn
	writes *int
}

func (c countConn) WriteFrame([]byte, int) error { *c.writes++; return nil }

// closedBatchConn is a batch connection closed under the Prober: every
// write fails with net.ErrClosed.
type closedBatchConn struct {
	nopProbeConn
	calls *int
}

func (c closedBatchConn) WriteFrames([]ProbeFrame) (int, error) { *c.calls++; return 0, net.ErrClosed }

// TestProberSendBatchClosed: when the connection is closed (the Prober
// closing meanwhile), SendBatch stops at the first failed write and
// reports ErrProberClosed for the rest, rather than one write per probe.
func TestProberSendBatchClosed(t *testing.T) {
	var calls int
	p := NewProberConn(ProberConfig{}, closedBatchConn{calls: &calls}, nil)
	defer p.Close()
	prs := addProbes(t, p, 1, 300, false)
	res := make([]ProbeResult, len(prs))
	p.SendBatch(prs, res)
	if calls != 1 {
		t.Errorf("%d writes, want 1", calls)
	}
	for i, r := range res {
		if !errors.Is(r.Err, ErrProberClosed) && !errors.Is(r.Err, net.ErrClosed) {
			t.Errorf("probe %d: err %v", i, r.Err)
		}
	}
}
