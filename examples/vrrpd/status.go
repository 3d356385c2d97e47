package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/govrrp/govrrp/internal/httpd"
	"github.com/govrrp/govrrp/vrrp"
)

// Status is the JSON document served on -status.
type Status struct {
	Instances []InstanceStatus `json:"instances"`
	// Router are the Router-wide counters (RFC 6527 global statistics and
	// the runtime's own).
	Router vrrp.RouterStats `json:"router"`
	// Discards are the sources whose advertisements were dropped, by
	// reason and instance, largest count first: the Router's bounded
	// table (vrrp.Router.Discards), so that a second cluster on the same
	// VRID or a host sending with TTL 64 is named.
	Discards []DiscardStatus `json:"discards"`
	// NotifyFIFO counts the lines written to the notify FIFO and those
	// dropped (nobody reading); absent without notify_fifo.
	NotifyFIFO *fifoStats `json:"notify_fifo,omitempty"`
	// Notify is the notify commands' queue.
	Notify NotifyStatus `json:"notify"`
}

// NotifyStatus is the notify commands' queue in the status document.
type NotifyStatus struct {
	// Queued is the number of commands waiting to run.
	Queued int `json:"queued"`
	// Failed counts the commands that failed or timed out.
	Failed uint64 `json:"failed"`
	// Dropped counts the commands dropped because the queue was full
	// (beyond its cap, notifyQueueMax: each virtual router's latest state
	// is kept).
	Dropped uint64 `json:"dropped"`
}

// DiscardStatus is one row of Status.Discards (vrrp.Discard).
type DiscardStatus struct {
	Source string `json:"source"`
	// Reason is why its advertisements were dropped: ttl, checksum,
	// version, addressListMismatch, authentication, intervalMismatch, ...
	Reason string `json:"reason"`
	// Instance is empty for a packet of another VRRP version (dropped
	// before its instance is looked up).
	Instance  string    `json:"instance,omitempty"`
	Interface string    `json:"interface"`
	VRID      uint8     `json:"vrid"`
	Count     uint64    `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
}

// discardsOf returns ds as the status document shows them.
func discardsOf(ds []vrrp.Discard) []DiscardStatus {
	out := make([]DiscardStatus, 0, len(ds))
	for _, d := range ds {
		out = append(out, DiscardStatus{Source: d.Src.String(), Reason: d.Reason, Instance: d.Name,
			Interface: d.Interface, VRID: d.VRID, Count: d.Count, First: d.First, Last: d.Last})
	}
	return out
}

// InstanceStatus is one virtual router in Status.
type InstanceStatus struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	VRID      uint8  `json:"vrid"`
	Family    string `json:"family"`
	Version   uint8  `json:"version"`
	State     string `json:"state"`
	// Master is the primary address of the current master as this router
	// knows it (its own while master, the last accepted advertiser's while
	// backup); empty when unknown.
	Master string `json:"master,omitempty"`
	// Primary is this router's own address (the advertisements' source).
	Primary string `json:"primary"`
	// Priority is the effective priority (after tracking); BasePriority
	// the configured one.
	Priority     uint8 `json:"priority"`
	BasePriority uint8 `json:"base_priority"`
	// TrackFault is set while its own tracking holds it in FAULT (tracked
	// interfaces or scripts of weight 0). A member of its sync group in
	// FAULT holds it in FAULT too (keepalived's sync group FAULT): State
	// says FAULT, TrackFault stays false.
	TrackFault bool   `json:"track_fault,omitempty"`
	SyncGroup  string `json:"sync_group,omitempty"`
	// SyncGroupState is its sync group's state: FAULT when a member is in
	// FAULT, else the state all members share, else "mixed" (in
	// transition, or members not running).
	SyncGroupState string `json:"sync_group_state,omitempty"`
	// TrackScripts are the scripts it tracks, with their weight and
	// status.
	TrackScripts []TrackStatus `json:"track_scripts,omitempty"`
	// TrackFiles and TrackProcesses are its tracked files (Status "ok"
	// or "fault", Value the number read) and processes (Status "up" or
	// "down", Value the processes counted).
	TrackFiles     []TrackStatus `json:"track_files,omitempty"`
	TrackProcesses []TrackStatus `json:"track_processes,omitempty"`
	VIPs           []string      `json:"vips"`
	// HostPending is "take" or "release" while that host operation (adding
	// or removing the VIPs, the Accept_Mode filter, the announcer) has
	// failed and is being retried; HostError is its last error. Absent
	// when the host holds what the state says. HostRetries counts the
	// retries of failed operations since the instance started.
	HostPending string `json:"host_pending,omitempty"`
	HostError   string `json:"host_error,omitempty"`
	HostRetries uint64 `json:"host_retries"`
	// NewMasterReason is Stats.NewMasterReason by name.
	NewMasterReason string        `json:"new_master_reason"`
	Stats           InstanceStats `json:"stats"`
	// Election says who is master and why (observe.go).
	Election Election `json:"election"`
	// SecondResponders are the virtual addresses for which a MAC that is
	// not this router's answered the master's last probes, with the MACs
	// and since when (probe.go); absent when there are none.
	SecondResponders []SecondResponder `json:"second_responders,omitempty"`
	// Probe are the counters of the second-responder probing; absent
	// when probing is off (probe_interval).
	Probe *ProbeStatus `json:"probe,omitempty"`
}

// TrackStatus is a tracked script in InstanceStatus: Status is
// "succeeding", "failing" or "unknown" (no result yet).
type TrackStatus struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Status string `json:"status"`
	Value  *int64 `json:"value,omitempty"`
}

// InstanceStats is vrrp.Stats as the status document shows it: the keys
// are vrrp.Stats's field names (so a Go program can decode the object
// into a vrrp.Stats), except that the advertisement interval in use is
// RefreshRateMs, in milliseconds as RFC 6527's
// vrrpv3StatisticsRefreshRate, instead of a time.Duration in
// nanoseconds. Durations in the document are whole milliseconds, in keys
// ending in ms.
type InstanceStats struct {
	vrrp.Stats
	// RefreshRate hides vrrp.Stats.RefreshRate (nanoseconds) from the
	// JSON: a field of the outer struct wins over the embedded one, and
	// omitempty drops it while nil.
	RefreshRate *struct{} `json:"RefreshRate,omitempty"`
	// RefreshRateMs is vrrp.Stats.RefreshRate in milliseconds.
	RefreshRateMs int64 `json:"RefreshRateMs"`
}

// statsOf returns s as InstanceStats.
func statsOf(s vrrp.Stats) InstanceStats {
	return InstanceStats{Stats: s, RefreshRateMs: s.RefreshRate.Milliseconds()}
}

// status returns the current Status: streamStatus's instances, collected.
func (d *daemon) status() Status {
	ins := []InstanceStatus{}
	_ = d.eachStatus(time.Now(), func(is *InstanceStatus) error {
		ins = append(ins, *is)
		return nil
	})
	st := d.statusRest()
	st.Instances = ins
	return st
}

// streamStatus writes the current Status as the status document, one
// instance at a time: what it holds is one instance's InstanceStatus and
// its encoding, not the whole document's (issue 12: ~1.1 kB per instance,
// 4.5 MB at 4,094, held while the document was written, which set the
// GC's heap goal and the RSS after it).
func (d *daemon) streamStatus(w io.Writer) error {
	sw := statusWriter{w: w, el: elemWriter{prefix: "    "}}
	if err := d.eachStatus(time.Now(), sw.instance); err != nil {
		return err
	}
	rest := d.statusRest()
	return sw.finish(&rest)
}

// statusRest is the Status without its instances: the Router-wide
// counters, the discards and the notify FIFO's counters.
func (d *daemon) statusRest() Status {
	st := Status{Instances: []InstanceStatus{}, Router: d.router.RouterStats(), Discards: discardsOf(d.router.Discards())}
	if f := d.fifo.Load(); f != nil {
		fs := f.stats()
		st.NotifyFIFO = &fs
	}
	st.Notify.Queued, st.Notify.Failed = d.notif.figures()
	st.Notify.Dropped = d.notif.droppedCount()
	return st
}

// eachStatus calls each with the InstanceStatus of every instance, in the
// configuration's order, one instance at a time, and stops at the first
// error each returns. The daemon's lock is held while an instance's
// configuration and tracking are read, not while the Router is asked for
// its state and counters (a round trip to its goroutine per instance) nor
// while each runs (it writes to a client): interface and script changes,
// which take the lock, are not held up by a status read. An instance
// removed meanwhile is left out, as if the read had come after the
// removal; one added meanwhile too, as if it had come before. An instance
// the Router does not know (it failed to start) is left out.
//
// The sync groups' states are read first, from their members' states;
// a member's InstanceStatus shows the state its group's was derived from,
// so that the two agree as when the whole document was read at once.
func (d *daemon) eachStatus(now time.Time, each func(*InstanceStatus) error) error {
	d.mu.Lock()
	names := slices.Clone(d.order)
	groups := d.cfg.Groups
	var members []string
	for _, g := range groups {
		for _, m := range g.Members {
			if d.vrs[m] != nil {
				members = append(members, m)
			}
		}
	}
	d.mu.Unlock()
	// memberStates are the states of the sync groups' members the Router
	// knows, groupStates the groups' (groupState; "mixed" when none).
	var memberStates, groupStates map[string]string
	if len(groups) > 0 {
		memberStates = make(map[string]string, len(members))
		for _, m := range members {
			if s, err := d.router.State(m); err == nil {
				memberStates[m] = stateName(s)
			}
		}
		groupStates = make(map[string]string, len(groups))
		for _, g := range groups {
			s := groupState(g.Members, memberStates)
			if s == "" {
				s = "mixed"
			}
			groupStates[g.Name] = s
		}
	}
	rs := make([]vrrp.VRStatus, min(len(names), statusChunk))
	for chunk := range slices.Chunk(names, statusChunk) {
		// The Router's figures of the chunk, in one call (issue 12:
		// two calls per instance woke the protocol's goroutine 8,188
		// times for one read at 4,094 instances).
		if err := d.router.Status(chunk, rs); err != nil {
			return err
		}
		for i, name := range chunk {
			r := &rs[i]
			var is InstanceStatus
			if r.Err != nil || !d.instanceStatus(name, &is) {
				continue // removed meanwhile
			}
			if st, ok := memberStates[name]; ok {
				// The state its group's state was derived from.
				is.State = st
			} else {
				is.State = stateName(r.State)
			}
			if is.SyncGroup != "" {
				is.SyncGroupState = groupStates[is.SyncGroup]
			}
			if r.Master.IsValid() {
				// One form on master and backup: its own address has no
				// zone, an advertiser's link-local source has the
				// interface's; the interface is in the document already.
				is.Master = r.Master.WithZone("").String()
			}
			is.Stats = statsOf(r.Stats)
			is.NewMasterReason = r.Stats.NewMasterReason.String()
			is.Election = d.obs.election(name, is.State == "MASTER", is.Master, is.NewMasterReason, now)
			if err := each(&is); err != nil {
				return err
			}
		}
	}
	return nil
}

// statusChunk is how many instances the status and metrics read from the
// Router per call (vrrp.Router.Status): the protocol waits for the copy
// of that many, tens of microseconds.
const statusChunk = 256

// instanceStatus fills in is the configuration and tracking of the
// instance name (the daemon's lock taken); false when there is none.
func (d *daemon) instanceStatus(name string, is *InstanceStatus) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.vrs[name]
	if v == nil {
		return false
	}
	*is = InstanceStatus{
		Name:         name,
		Interface:    v.in.Interface,
		VRID:         v.in.VRID,
		Family:       v.in.Family().String(),
		Version:      v.in.Version,
		Primary:      v.conn.primary.String(),
		Priority:     uint8(v.prio.Load()),
		BasePriority: v.cur.Priority,
		TrackFault:   v.held,
		SyncGroup:    v.in.SyncGroup,
	}
	for _, p := range v.in.VIPs {
		is.VIPs = append(is.VIPs, p.String())
	}
	is.TrackScripts = d.trackScriptsLocked(v)
	is.TrackFiles, is.TrackProcesses = d.trackObjectsStatusLocked(v)
	is.HostPending, is.HostError, is.HostRetries = v.host.status()
	if ps, alarms := v.probe.figures(); d.probing() {
		is.Probe, is.SecondResponders = &ps, alarms
	}
	return true
}

// statusHandler serves the status document that write writes on / and
// /status (the daemon's: streamStatus); 404 elsewhere.
func statusHandler(write func(io.Writer) error) httpd.Handler {
	return func(r *httpd.Request) httpd.Response {
		if r.Path != "/" && r.Path != "/status" {
			return notFound
		}
		if !readOnly(r) {
			return methodNotAllowed
		}
		return httpd.Response{ContentType: "application/json", Body: func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, statusWriteBuffer)
			if err := write(bw); err != nil {
				return err
			}
			return bw.Flush()
		}}
	}
}

// readOnly reports whether r is a GET or a HEAD, the methods the status
// server's documents answer (others get methodNotAllowed).
func readOnly(r *httpd.Request) bool { return r.Method == "GET" || r.Method == "HEAD" }

// The status server's answers to a path it does not serve and to a
// method other than GET and HEAD.
var (
	notFound         = textResponse(404, "404 page not found\n", "")
	methodNotAllowed = textResponse(405, "Method Not Allowed\n", "GET, HEAD")
)

func textResponse(status int, body, allow string) httpd.Response {
	return httpd.Response{Status: status, ContentType: "text/plain; charset=utf-8", Allow: allow,
		Body: func(w io.Writer) error {
			_, err := io.WriteString(w, body)
			return err
		}}
}

// statusWriteBuffer is the size of the buffer between the status
// document's encoder and the connection: the document goes out in pieces
// of this size, never whole (1.7 MB at 1,000 instances).
const statusWriteBuffer = 32 << 10

// statusHead is how the indented Status begins with no instance.
const statusHead = "{\n  \"instances\": []"

// errStatusLayout: the Status's encoding does not begin with its
// instances (statusHead), which the status writer relies on.
var errStatusLayout = errors.New("status document: \"instances\" is not its first key")

// writeStatus writes st as json.Encoder with SetIndent("", "  ") writes
// it, byte for byte, but one instance at a time (statusWriter).
func writeStatus(w io.Writer, st *Status) error {
	sw := statusWriter{w: w, el: elemWriter{prefix: "    "}}
	for i := range st.Instances {
		if err := sw.instance(&st.Instances[i]); err != nil {
			return err
		}
	}
	return sw.finish(st)
}

// statusWriter writes a Status as json.Encoder with SetIndent("", "  ")
// writes it, byte for byte, given one instance at a time (instance), then
// the rest (finish): its buffers hold one instance (about 1.7 kB), never
// the whole document.
type statusWriter struct {
	w  io.Writer
	el elemWriter
}

// instance writes the next element of "instances".
func (sw *statusWriter) instance(is *InstanceStatus) error {
	if sw.el.n == 0 {
		// "instances" is the first key: the instances go between its
		// brackets, each at depth 2 (prefix "    ").
		if _, err := io.WriteString(sw.w, statusHead[:len(statusHead)-1]); err != nil {
			return err
		}
	}
	return sw.el.write(sw.w, is)
}

// finish writes the end of the document: the array's end and the fields
// of rest other than Instances.
func (sw *statusWriter) finish(rest *Status) error {
	r := *rest
	r.Instances = []InstanceStatus{}
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&r); err != nil {
		return err
	}
	b := head.Bytes()
	if !bytes.HasPrefix(b, []byte(statusHead)) {
		return errStatusLayout
	}
	if sw.el.n == 0 {
		_, err := sw.w.Write(b)
		return err
	}
	if _, err := io.WriteString(sw.w, "\n  ]"); err != nil {
		return err
	}
	_, err := sw.w.Write(b[len(statusHead):])
	return err
}

// elemWriter writes the elements of a JSON array that is at depth
// len(prefix)/2 of a document indented with "  ": each on a new line
// beginning with prefix, comma-separated, as the indenting encoder
// writes them. Each is encoded compactly, then indented (appendIndent),
// in buffers reused from one to the next.
type elemWriter struct {
	prefix string
	n      int // elements written
	raw    bytes.Buffer
	enc    *json.Encoder
	out    []byte
}

// write writes v (a pointer to the element) as the next element.
func (e *elemWriter) write(w io.Writer, v any) error {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.raw)
	}
	e.raw.Reset()
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	e.out = append(e.out[:0], ",\n"...)
	if e.n == 0 {
		e.out = e.out[1:]
	}
	e.out = append(e.out, e.prefix...)
	e.out = appendIndent(e.out, bytes.TrimSuffix(e.raw.Bytes(), []byte("\n")), e.prefix, "  ")
	e.n++
	_, err := w.Write(e.out)
	return err
}

// Limits of the status server (internal/httpd): it has no
// authentication and serves a small document, so a client that opens
// connections and keeps them idle, or sends slowly, must not exhaust the
// daemon's file descriptors (the host operations need some: netlink,
// nftables, notify pipes).
const (
	// statusMaxConns is how many status connections are served at once;
	// further ones wait until one closes (one accepted, the rest in the
	// listen backlog).
	statusMaxConns = 32
	// statusIdleTimeout closes a keep-alive connection idle this long.
	statusIdleTimeout = 10 * time.Second
	// statusReadTimeout bounds reading a request (its line and headers;
	// the server takes no body), statusWriteTimeout writing the response.
	statusReadTimeout  = 5 * time.Second
	statusWriteTimeout = 10 * time.Second
)

// statusOpts configures startStatus; zero fields take the defaults
// above (defaultStatusMode for the unix socket's mode).
type statusOpts struct {
	mode     os.FileMode
	maxConns int
	idle     time.Duration
}

type statusServer struct {
	srv  *httpd.Server
	addr net.Addr // where it listens
	done chan struct{}
	path string // unix socket to remove
}

// listenStatus listens on host:port or unix:/path. A stale unix socket
// file is replaced. The unix socket gets mode, whatever the umask: it is
// bound under a temporary name, given its mode, then renamed into place,
// so that it is never reachable with the umask's permissions.
func listenStatus(addr string, mode os.FileMode) (net.Listener, string, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := net.Listen("tcp", addr)
		return l, "", err
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	tmp := path + ".new"
	if fi, err := os.Lstat(tmp); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(tmp)
	}
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, path, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false) // statusServer.close removes path
	if err = os.Chmod(tmp, mode); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		l.Close()
		_ = os.Remove(tmp)
		return nil, path, err
	}
	return l, path, nil
}

func startStatus(addr string, o statusOpts, d *daemon, log *slog.Logger) (*statusServer, error) {
	if o.mode == 0 {
		o.mode = defaultStatusMode
	}
	if o.maxConns <= 0 {
		o.maxConns = statusMaxConns
	}
	if o.idle <= 0 {
		o.idle = statusIdleTimeout
	}
	l, path, err := listenStatus(addr, o.mode)
	if err != nil {
		return nil, errors.New("status server: " + err.Error())
	}
	s := &statusServer{
		srv: httpd.New(httpd.Config{
			Handler:      d.observeHandler(statusHandler(d.streamStatus)),
			MaxConns:     o.maxConns,
			ReadTimeout:  statusReadTimeout,
			WriteTimeout: statusWriteTimeout,
			IdleTimeout:  o.idle,
			Log:          log,
		}),
		addr: l.Addr(),
		done: make(chan struct{}),
		path: path,
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, httpd.ErrServerClosed) {
			log.Warn("status server stopped", "err", err)
		}
	}()
	log.Info("status server listening", "addr", addr, "max_conns", o.maxConns, "idle_timeout", o.idle)
	return s, nil
}

func (s *statusServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// After 2 s, the connections still busy are closed (Shutdown).
	_ = s.srv.Shutdown(ctx)
	<-s.done
	if s.path != "" {
		_ = os.Remove(s.path)
	}
}
