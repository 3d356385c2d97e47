package main

import (
	"net/netip"
	"slices"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// snapshot is everything GET /metrics and GET /ietf-vrrp show, read at
// once: the Router's figures (Router.Stats, RouterStats, State, Master),
// the daemon's configuration and tracking, the observer's record of
// transitions and the notify queue.
type snapshot struct {
	Time      time.Time
	Instances []instSnap
	Router    vrrp.RouterStats
	// Started is when the daemon was created (the discontinuity time of
	// the Router-wide counters).
	Started time.Time
	// NotifyQueue is the number of notify commands waiting to run;
	// NotifyFailed counts those that failed or timed out, NotifyDropped
	// those dropped beyond the queue's cap (notifyQueueMax).
	NotifyQueue   int
	NotifyFailed  uint64
	NotifyDropped uint64
	// FIFO is the notify FIFO's counters; nil without one.
	FIFO *fifoStats
	// Probing is whether second-responder probing is on; ProbeDropped
	// counts the frames its prober dropped as malformed
	// (arpnd.ProberStats.Malformed).
	Probing      bool
	ProbeDropped uint64
	// Discards is the Router's table of discarded advertisements
	// (vrrp.Router.Discards), largest count first.
	Discards []vrrp.Discard
}

// instSnap is one virtual router in a snapshot.
type instSnap struct {
	Name      string
	Interface string
	IfIndex   int
	VRID      uint8
	Family    vrrp.Family
	Version   uint8
	// Running is false when the Router does not know it (it failed to
	// start): State, Master and Stats are then zero.
	Running  bool
	State    vrrp.State
	Master   netip.Addr // Router.Master: own as master, last advertiser's otherwise
	Primary  netip.Addr
	Priority uint8 // effective, after tracking
	Base     uint8 // configured
	// TrackFault: held in Fault by its own tracking.
	TrackFault   bool
	LinkStatus   int8 // its interface: statusUp, statusDown or statusUnknown
	Stats        vrrp.Stats
	Interval     time.Duration // configured advertisement interval
	NoPreempt    bool
	PreemptDelay time.Duration
	Accept       bool
	VIPs         []netip.Prefix
	TrackIfaces  []trackSnap
	TrackScripts []trackSnap
	// TrackFiles (Status: statusUnknown until read, Value the number
	// read) and TrackProcs (Value the processes counted).
	TrackFiles []trackSnap
	TrackProcs []trackSnap
	// Last is the last transition (zero Time before any), Up the last
	// one out of Initialize, Transitions the counts by kind, in
	// transitionKey order (From, To, Reason): a copy of the observer's,
	// a few entries, not a map (issue 12).
	Last        vrrp.Event
	Up          time.Time
	Transitions []transitionCount
	// Probe is its second-responder probing (probe.go).
	Probe probeSnap
}

// trackSnap is one tracked interface or script of an instance.
type trackSnap struct {
	Name   string
	Weight int
	Status int8 // statusUp, statusDown or statusUnknown
	Value  int64
}

// snapshot reads the daemon's figures.
func (d *daemon) snapshot() snapshot {
	s := snapshot{Time: time.Now(), Router: d.router.RouterStats(), Started: processStart, Discards: d.router.Discards()}
	d.mu.Lock()
	s.NotifyQueue, s.NotifyFailed = d.notif.figures()
	s.NotifyDropped = d.notif.droppedCount()
	if f := d.fifo.Load(); f != nil {
		fs := f.stats()
		s.FIFO = &fs
	}
	if s.Probing = d.probing(); s.Probing {
		if p := d.prober.Load(); p != nil {
			s.ProbeDropped = p.Stats().Malformed
		}
	}
	weights := d.scriptWeightsLocked()
	s.Instances = make([]instSnap, 0, len(d.order))
	for _, name := range d.order {
		s.Instances = append(s.Instances, d.instSnapLocked(name, d.vrs[name], weights))
	}
	d.obs.prune(d.order)
	d.mu.Unlock()
	s.Instances = d.routerFigures(s.Instances)
	return s
}

// instSnaps returns the instSnaps of the instances names that are still
// configured, read as snapshot reads them, without the daemon's figures;
// weights are the scripts' (scriptWeightsLocked).
func (d *daemon) instSnaps(names []string, weights map[string]int) []instSnap {
	d.mu.Lock()
	ins := make([]instSnap, 0, len(names))
	for _, name := range names {
		if v := d.vrs[name]; v != nil {
			ins = append(ins, d.instSnapLocked(name, v, weights))
		}
	}
	d.mu.Unlock()
	return d.routerFigures(ins)
}

// scriptWeightsLocked returns the tracked scripts' weights by name.
func (d *daemon) scriptWeightsLocked() map[string]int {
	weights := make(map[string]int, len(d.cfg.Scripts))
	for _, sc := range d.cfg.Scripts {
		weights[sc.Name] = sc.Weight
	}
	return weights
}

// instSnapLocked returns the configuration and tracking of the instance
// name, v, as an instSnap without the Router's and the observer's
// figures (routerFigures).
func (d *daemon) instSnapLocked(name string, v *vrInst, weights map[string]int) instSnap {
	is := instSnap{
		Name:         name,
		Interface:    v.in.Interface,
		IfIndex:      v.conn.ifIndex,
		VRID:         v.in.VRID,
		Family:       v.in.Family(),
		Version:      v.in.Version,
		Primary:      v.conn.primary,
		Priority:     uint8(v.prio.Load()),
		Base:         v.cur.Priority,
		TrackFault:   v.held,
		LinkStatus:   d.links[v.in.Interface],
		Interval:     v.in.Interval,
		NoPreempt:    v.in.NoPreempt,
		PreemptDelay: v.in.PreemptDelay,
		Accept:       v.in.Accept,
		VIPs:         v.in.VIPs,
	}
	if is.Version == 0 {
		is.Version = 3
	}
	if is.Interval == 0 {
		is.Interval = time.Second
	}
	for _, t := range v.cur.TrackInterfaces {
		is.TrackIfaces = append(is.TrackIfaces, trackSnap{Name: t.Name, Weight: t.Weight, Status: d.links[t.Name]})
	}
	for _, sc := range v.cur.TrackScripts {
		st := statusUnknown
		if ss := d.scripts[sc]; ss != nil {
			st = ss.status
		}
		is.TrackScripts = append(is.TrackScripts, trackSnap{Name: sc, Weight: weights[sc], Status: st})
	}
	for _, r := range v.cur.TrackFiles {
		ts := trackSnap{Name: r.Name, Weight: r.Weight}
		if fs := d.trk.files[r.Name]; fs != nil && fs.read {
			ts.Status, ts.Value = statusUp, fs.value
		}
		is.TrackFiles = append(is.TrackFiles, ts)
	}
	for _, r := range v.cur.TrackProcesses {
		ts := trackSnap{Name: r.Name, Weight: r.Weight}
		if ps := d.trk.procs[r.Name]; ps != nil {
			ts.Status, ts.Value = ps.status, int64(ps.count)
		}
		is.TrackProcs = append(is.TrackProcs, ts)
	}
	if d.probing() {
		is.Probe.On = true
		is.Probe.Status, is.Probe.Alarms = v.probe.figures()
	}
	return is
}

// routerFigures adds to ins the Router's figures (State, Master, Stats)
// and the observer's, without the daemon's lock (status has why), and
// returns it without the instances a reload removed meanwhile.
func (d *daemon) routerFigures(ins []instSnap) []instSnap {
	gone := false // an instance the Router does not know
	names := make([]string, min(len(ins), statusChunk))
	rs := make([]vrrp.VRStatus, len(names))
	for start := 0; start < len(ins); start += statusChunk {
		chunk := ins[start:min(start+statusChunk, len(ins))]
		for i := range chunk {
			names[i] = chunk[i].Name
		}
		// The chunk's figures in one call (eachStatus has why); a
		// stopped Router's are still read.
		err := d.router.Status(names[:len(chunk)], rs)
		for i := range chunk {
			is, r := &chunk[i], &rs[i]
			if err != nil || r.Err != nil {
				gone = true
			} else {
				is.Running = true
				is.State, is.Master, is.Stats = r.State, r.Master, r.Stats
			}
			is.Last, is.Up, is.Transitions = d.obs.read(is.Name)
		}
	}
	if gone {
		// One that failed to start stays (not running); one that a
		// reload removed meanwhile goes, as if read after the reload.
		d.mu.Lock()
		ins = slices.DeleteFunc(ins, func(is instSnap) bool {
			return !is.Running && d.vrs[is.Name] == nil
		})
		d.mu.Unlock()
	}
	return ins
}

// figures returns the length of the notify queue and the number of
// notify commands that failed (or timed out) so far.
func (n *notifier) figures() (queued int, failed uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.q), n.failed
}

// droppedCount returns the number of notify commands dropped so far
// beyond the queue's cap (notifyQueueMax).
func (n *notifier) droppedCount() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped
}

// countFailure counts a notify command that failed or timed out.
func (n *notifier) countFailure() {
	n.mu.Lock()
	n.failed++
	n.mu.Unlock()
}
