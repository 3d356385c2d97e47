package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tracked files and processes (keepalived's track_file and
// track_process). keepalived follows files with inotify and processes
// with the netlink process connector; vrrpd polls both every
// trackPollInterval (a file is read, /proc is scanned once for every
// tracked process), so a change is seen within that interval, and the
// process delays are rounded up to it.

// trackPollInterval is how often tracked files and processes are read.
const trackPollInterval = 500 * time.Millisecond

// TrackFile is a file holding an integer (keepalived's track_file, or
// vrrp_track_file). Each instance tracking it adds value * weight to its
// priority; with weight 0 a non-zero value puts it in FAULT; a result of
// -254 or less puts it in FAULT too (keepalived's rule). A missing,
// empty or unparsable file reads as 0. Reverse negates the weight (with
// weight 0: FAULT while the value is 0).
type TrackFile struct {
	Name    string
	Path    string
	Weight  int
	Reverse bool
	// Init writes InitValue into the file at start unless it exists;
	// with InitOverwrite, whatever it holds (keepalived's init_file).
	Init          bool
	InitValue     int
	InitOverwrite bool
}

// TrackProcess counts running processes (keepalived's
// vrrp_track_process): it is up while Quorum to QuorumMax of them run.
// Without Params, ParamMatch or FullCommand a process matches by its name
// (/proc/PID/comm, which the kernel cuts at 15 bytes); otherwise by its
// command line: argv[0] equal to Process and the arguments as ParamMatch
// says ("exact": equal; "partial": Params are its first arguments;
// "initial": the same, the last of Params being a prefix of its
// argument). Zombies are not counted. ForkDelay (TerminateDelay) is how
// long the quorum must hold (stay lost) before the status changes.
// Weight: as a script's (0: FAULT while down).
type TrackProcess struct {
	Name           string
	Process        string
	Params         []string
	ParamMatch     string
	FullCommand    bool
	Quorum         int
	QuorumMax      int // math.MaxInt: no maximum
	ForkDelay      time.Duration
	TerminateDelay time.Duration
	Weight         int
}

// TrackRef is an instance's reference to a tracked file or process, with
// the weight it uses (the object's own unless the reference sets one).
type TrackRef struct {
	Name    string
	Weight  int
	Reverse bool
}

// byCommand reports whether p matches command lines rather than names.
func (p *TrackProcess) byCommand() bool {
	return p.FullCommand || len(p.Params) > 0 || p.ParamMatch != ""
}

// procEntry is one running process as the scan sees it.
type procEntry struct {
	comm string
	argv []string // nil unless a tracked process needs command lines
}

// matches reports whether e is one of p's processes.
func (p *TrackProcess) matches(e procEntry) bool {
	if !p.byCommand() {
		return e.comm == p.Process
	}
	if len(e.argv) == 0 || e.argv[0] != p.Process {
		return false
	}
	args := e.argv[1:]
	switch p.ParamMatch {
	case "partial":
		return len(args) >= len(p.Params) && slices.Equal(args[:len(p.Params)], p.Params)
	case "initial":
		n := len(p.Params)
		if n == 0 {
			return true
		}
		return len(args) >= n && slices.Equal(args[:n-1], p.Params[:n-1]) && strings.HasPrefix(args[n-1], p.Params[n-1])
	case "exact":
		return slices.Equal(args, p.Params)
	}
	// No param_match: only argv[0] with full_command; exact with params.
	return len(p.Params) == 0 || slices.Equal(args, p.Params)
}

// scanProcs lists the running processes from /proc (proc); argv is read
// only when withArgv. Processes that end during the scan are skipped,
// and so are zombies.
func scanProcs(proc string, withArgv bool) ([]procEntry, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	out := make([]procEntry, 0, len(ents))
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// PID (comm) STATE ...: comm may hold spaces and parentheses.
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open || len(stat) < end+3 || stat[end+2] == 'Z' {
			continue
		}
		pe := procEntry{comm: string(stat[open+1 : end])}
		if withArgv {
			cl, err := os.ReadFile(filepath.Join(dir, "cmdline"))
			if err != nil || len(cl) == 0 {
				continue // gone, or a kernel thread
			}
			pe.argv = strings.Split(strings.TrimSuffix(string(cl), "\x00"), "\x00")
		}
		out = append(out, pe)
	}
	return out, nil
}

// parseTrackValue reads a track file's content as keepalived does
// (strtol with base 0: leading spaces, a sign, 0x hex, 0 octal; what
// follows the number is ignored; no number is 0). ok is false for a
// value out of keepalived's range, which keeps the last value.
func parseTrackValue(b []byte) (v int64, ok bool) {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") && strings.ContainsRune("0123456789abcdefABCDEF", rune(s[2])):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base = 8
	}
	i := 0
	for i < len(s) {
		c := s[i]
		d := 99
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		}
		if d >= base {
			break
		}
		i++
	}
	if i == 0 {
		return 0, true
	}
	u, err := strconv.ParseUint(s[:i], base, 63)
	if err != nil {
		return 0, false
	}
	v = int64(u)
	if neg {
		v = -v
	}
	if v < math.MinInt32 || v > math.MaxInt32+1 {
		return 0, false
	}
	return v, true
}

// fileTracked is what value does to an instance tracking the file with
// weight w (reverse r), as effectivePriority takes it.
func fileTracked(value int64, w int, r bool) tracked {
	if w == 0 {
		if (value != 0) != r {
			return tracked{weight: 0, status: statusDown}
		}
		return tracked{weight: 0, status: statusUp}
	}
	m := int64(w)
	if r {
		m = -m
	}
	s := min(max(value*m, -254), 253)
	switch {
	case s == -254:
		return tracked{weight: 0, status: statusDown} // FAULT
	case s > 0:
		return tracked{weight: int(s), status: statusUp}
	case s < 0:
		return tracked{weight: int(s), status: statusDown}
	}
	return tracked{weight: 0, status: statusUp}
}

// procState is the quorum status of a tracked process.
type procState struct {
	def     TrackProcess
	status  int8
	count   int
	pending time.Time // when the quorum started to differ from status
}

// observe records count processes seen at now; it reports whether the
// status changed. The first observation decides at once; after that a
// change waits ForkDelay (quorum gained) or TerminateDelay (lost), and
// is forgotten if the quorum comes back first.
func (s *procState) observe(now time.Time, count int) bool {
	s.count = count
	p := &s.def
	want := statusDown
	if count >= p.Quorum && count <= p.QuorumMax {
		want = statusUp
	}
	switch {
	case want == s.status:
		s.pending = time.Time{}
		return false
	case s.status == statusUnknown:
		s.status = want
		return true
	}
	delay := p.TerminateDelay
	if want == statusUp {
		delay = p.ForkDelay
	}
	if delay > 0 {
		if s.pending.IsZero() {
			s.pending = now
		}
		if now.Sub(s.pending) < delay {
			return false
		}
	}
	s.status, s.pending = want, time.Time{}
	return true
}

// fileState is the last value read from a tracked file.
type fileState struct {
	def   TrackFile
	value int64
	read  bool
	bad   string // the out-of-range content last logged: logged once
}

// trackers holds the tracked files' and processes' states (guarded by
// daemon.mu) and the poller.
type trackers struct {
	files   map[string]*fileState
	procs   map[string]*procState
	cancel  context.CancelFunc // the poller; nil: not running
	proc    string             // /proc (tests may point it elsewhere)
	procErr string             // the scan error last logged
	now     func() time.Time
}

// initFile writes keepalived's init_file value.
func initFile(f TrackFile) error {
	if !f.Init {
		return nil
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if f.InitOverwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	h, err := os.OpenFile(f.Path, flags, 0o644)
	if os.IsExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(h, "%d\n", f.InitValue)
	return errors.Join(err, h.Close())
}

// startTrackersLocked follows the files and processes the running
// instances track: new ones are read at once (init_file written first),
// unused ones forgotten, changed definitions read again; the poller runs
// while any is tracked. Called after startScriptsLocked (which makes the
// context the poller runs in).
func (d *daemon) startTrackersLocked() {
	t := &d.trk
	if t.files == nil {
		t.files, t.procs = map[string]*fileState{}, map[string]*procState{}
	}
	if t.proc == "" {
		t.proc = "/proc"
	}
	if t.now == nil {
		t.now = time.Now
	}
	usedF, usedP := map[string]bool{}, map[string]bool{}
	for _, name := range d.order {
		for _, r := range d.vrs[name].cur.TrackFiles {
			usedF[r.Name] = true
		}
		for _, r := range d.vrs[name].cur.TrackProcesses {
			usedP[r.Name] = true
		}
	}
	for name, fs := range t.files {
		if !usedF[name] || !slices.ContainsFunc(d.cfg.TrackFiles, func(f TrackFile) bool { return f.Name == name && f.Path == fs.def.Path }) {
			delete(t.files, name)
		}
	}
	for name, ps := range t.procs {
		if !usedP[name] || !slices.ContainsFunc(d.cfg.TrackProcesses, func(p TrackProcess) bool { return p.Name == name && trackProcEqual(p, ps.def) }) {
			delete(t.procs, name)
		}
	}
	var newProcs bool
	for _, f := range d.cfg.TrackFiles {
		if !usedF[f.Name] {
			continue
		}
		if fs := t.files[f.Name]; fs != nil {
			fs.def = f // weight, reverse, init: no new read needed
			continue
		}
		if err := initFile(f); err != nil {
			d.log.Warn("track file: init_file", "track_file", f.Name, "file", f.Path, "err", err)
		}
		fs := &fileState{def: f}
		t.files[f.Name] = fs
		d.readTrackFile(fs)
	}
	for _, p := range d.cfg.TrackProcesses {
		if usedP[p.Name] && t.procs[p.Name] == nil {
			t.procs[p.Name] = &procState{def: p}
			newProcs = true
		}
	}
	if newProcs {
		d.pollProcsLocked()
	}
	// What was just read applies at once (at start: before the Router
	// runs, so that an instance starts in FAULT or with its priority).
	for _, name := range d.order {
		if v := d.vrs[name]; len(v.cur.TrackFiles)+len(v.cur.TrackProcesses) > 0 {
			d.recomputeLocked(v)
		}
	}
	if len(t.files)+len(t.procs) == 0 {
		if t.cancel != nil {
			t.cancel()
			t.cancel = nil
		}
		return
	}
	if t.cancel == nil && d.scriptCtx != nil {
		var ctx context.Context
		ctx, t.cancel = context.WithCancel(d.scriptCtx)
		d.wg.Add(1)
		go d.pollTrackers(ctx)
	}
}

func trackProcEqual(a, b TrackProcess) bool {
	a.Weight, b.Weight = 0, 0
	return a.Name == b.Name && a.Process == b.Process && slices.Equal(a.Params, b.Params) && a.ParamMatch == b.ParamMatch &&
		a.FullCommand == b.FullCommand && a.Quorum == b.Quorum && a.QuorumMax == b.QuorumMax &&
		a.ForkDelay == b.ForkDelay && a.TerminateDelay == b.TerminateDelay
}

// readTrackFile reads fs's file; it reports whether the value changed.
// Called with d.mu held (a small file read).
func (d *daemon) readTrackFile(fs *fileState) bool {
	b, err := os.ReadFile(fs.def.Path)
	return d.applyTrackFile(fs, b, err)
}

// applyTrackFile takes what reading fs's file gave; it reports whether
// the value changed. Called with d.mu held.
func (d *daemon) applyTrackFile(fs *fileState, b []byte, err error) bool {
	var v int64
	if len(b) > 127 {
		b = b[:127] // keepalived reads 127 bytes
	}
	if err == nil {
		var ok bool
		if v, ok = parseTrackValue(b); !ok {
			if c := string(bytes.TrimSpace(b)); c != fs.bad {
				fs.bad = c
				d.log.Warn("track file: number out of range, ignored (the last value stays)", "track_file", fs.def.Name, "file", fs.def.Path, "content", c)
			}
			return false
		}
	}
	fs.bad = ""
	if fs.read && v == fs.value {
		return false
	}
	old := fs.value
	fs.value, fs.read = v, true
	d.log.Info("track file value", "track_file", fs.def.Name, "file", fs.def.Path, "from", old, "to", v)
	return true
}

// pollProcsLocked scans /proc once and updates every tracked process;
// it returns the names whose status changed.
func (d *daemon) pollProcsLocked() []string {
	if len(d.trk.procs) == 0 {
		return nil
	}
	procs, err := scanProcs(d.trk.proc, d.procsNeedArgvLocked())
	return d.applyProcsLocked(procs, err)
}

// procsNeedArgvLocked reports whether a tracked process matches command
// lines.
func (d *daemon) procsNeedArgvLocked() bool {
	for _, ps := range d.trk.procs {
		if ps.def.byCommand() {
			return true
		}
	}
	return false
}

// applyProcsLocked counts the tracked processes in procs (a scan's
// result, or its error); it returns the names whose status changed.
func (d *daemon) applyProcsLocked(procs []procEntry, err error) []string {
	t := &d.trk
	if err != nil {
		if err.Error() != t.procErr { // once, not every poll
			t.procErr = err.Error()
			d.log.Warn("track process: reading the process list (statuses kept)", "err", err)
		}
		return nil
	}
	t.procErr = ""
	now := t.now()
	var changed []string
	for name, ps := range t.procs {
		n := 0
		for _, e := range procs {
			if ps.def.matches(e) {
				n++
			}
		}
		if ps.observe(now, n) {
			changed = append(changed, name)
			d.log.Info("track process status", "track_process", name, "processes", n, "status", statusWord(ps.status))
		}
	}
	return changed
}

// pollTrackers reads the tracked files and processes every
// trackPollInterval and recomputes the instances whose objects changed.
func (d *daemon) pollTrackers(ctx context.Context) {
	defer d.wg.Done()
	tk := time.NewTicker(trackPollInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		// What to read, under the lock; the reading (a /proc scan takes
		// milliseconds) without it.
		d.mu.Lock()
		type read struct {
			fs   *fileState
			path string
			b    []byte
			err  error
		}
		var reads []read
		for _, fs := range d.trk.files {
			reads = append(reads, read{fs: fs, path: fs.def.Path})
		}
		scan, argv, proc := len(d.trk.procs) > 0, d.procsNeedArgvLocked(), d.trk.proc
		d.mu.Unlock()
		for i := range reads {
			reads[i].b, reads[i].err = os.ReadFile(reads[i].path)
		}
		var scanned []procEntry
		var scanErr error
		if scan {
			scanned, scanErr = scanProcs(proc, argv)
		}

		d.mu.Lock()
		if ctx.Err() != nil {
			d.mu.Unlock()
			return
		}
		files := map[string]bool{}
		for _, r := range reads {
			// A reload may have replaced or dropped it meanwhile.
			if name := r.fs.def.Name; d.trk.files[name] == r.fs && r.fs.def.Path == r.path && d.applyTrackFile(r.fs, r.b, r.err) {
				files[name] = true
			}
		}
		procs := map[string]bool{}
		if scan {
			for _, name := range d.applyProcsLocked(scanned, scanErr) {
				procs[name] = true
			}
		}
		if len(files)+len(procs) > 0 {
			for _, name := range d.order {
				v := d.vrs[name]
				if slices.ContainsFunc(v.cur.TrackFiles, func(r TrackRef) bool { return files[r.Name] }) ||
					slices.ContainsFunc(v.cur.TrackProcesses, func(r TrackRef) bool { return procs[r.Name] }) {
					d.recomputeLocked(v)
				}
			}
		}
		d.mu.Unlock()
	}
}

// trackedObjectsLocked returns what v's tracked files and processes do
// to its priority (computeLocked).
func (d *daemon) trackedObjectsLocked(v *vrInst) []tracked {
	var ts []tracked
	for _, r := range v.cur.TrackFiles {
		fs := d.trk.files[r.Name]
		if fs == nil || !fs.read {
			continue // not read yet: neither adds nor subtracts
		}
		ts = append(ts, fileTracked(fs.value, r.Weight, r.Reverse))
	}
	for _, r := range v.cur.TrackProcesses {
		st := statusUnknown
		if ps := d.trk.procs[r.Name]; ps != nil {
			st = ps.status
		}
		ts = append(ts, tracked{weight: r.Weight, status: st})
	}
	return ts
}

// trackObjectsStatusLocked returns v's tracked files and processes for
// the status document.
func (d *daemon) trackObjectsStatusLocked(v *vrInst) (files, procs []TrackStatus) {
	for _, r := range v.cur.TrackFiles {
		ts := TrackStatus{Name: r.Name, Weight: r.Weight, Status: "unknown"}
		if fs := d.trk.files[r.Name]; fs != nil && fs.read {
			val := fs.value
			ts.Value = &val
			if t := fileTracked(fs.value, r.Weight, r.Reverse); t.weight == 0 && t.status == statusDown {
				ts.Status = "fault"
			} else {
				ts.Status = "ok"
			}
		}
		files = append(files, ts)
	}
	for _, r := range v.cur.TrackProcesses {
		ts := TrackStatus{Name: r.Name, Weight: r.Weight, Status: "unknown"}
		if ps := d.trk.procs[r.Name]; ps != nil && ps.status != statusUnknown {
			n := int64(ps.count)
			ts.Value = &n
			ts.Status = "down"
			if ps.status == statusUp {
				ts.Status = "up"
			}
		}
		procs = append(procs, ts)
	}
	return files, procs
}
