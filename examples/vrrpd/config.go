package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/raw"
	"github.com/govrrp/govrrp/vrrp"
)

// Config is the daemon's whole configuration: from flags (one virtual
// router), or from a TOML file (-config) with some flags overriding it.
type Config struct {
	// File is the -config path; empty when the virtual router comes from
	// flags. SIGHUP re-reads it.
	File string
	// LogLevel is -log-level / log_level.
	LogLevel slog.Level
	// Status is the -status address: host:port, or unix:/path. Empty: no
	// status server.
	Status string
	// StatusMode is -status-mode / status_mode: the permissions of the
	// unix status socket, whatever the umask. Default (0) is
	// defaultStatusMode, owner only.
	StatusMode os.FileMode
	// NotifyTimeout bounds every notify command. Default 10s.
	NotifyTimeout time.Duration
	// NotifyNice is notify_nice / -notify-nice: the niceness, 0-19, notify
	// commands run at. The files and flags default to 10
	// (defaultNotifyNice): a takeover of thousands of virtual routers
	// starts thousands of them, and at the normal priority they take the
	// CPU the protocol needs to keep up with its sockets (issue 12: a
	// takeover storm that fed itself). 0, the zero value of a Config built
	// in Go, runs them at vrrpd's own, as keepalived runs its scripts.
	// Track scripts are not affected (their result decides priorities).
	// A reload applies it to the commands started after it.
	NotifyNice int
	// Instances are the virtual routers, in file order.
	Instances []Instance
	// Groups are the sync groups.
	Groups []Group
	// Scripts are the check commands instances track.
	Scripts []Script
	// RTPriority is rt_priority / -rt-priority (keepalived's
	// vrrp_rt_priority): the SCHED_RR priority, 1-99, of every thread of
	// the daemon (setProcessRealtime; commands it starts keep the normal
	// policy); 0: normal scheduling. Taken at start only.
	RTPriority int
	// LockMemory is lock_memory / -lock-memory (keepalived's
	// vrrp_no_swap): mlockall at start. Taken at start only.
	LockMemory bool
	// TrackFiles and TrackProcesses are the files and processes
	// instances track (trackobj.go).
	TrackFiles     []TrackFile
	TrackProcesses []TrackProcess
	// NotifyFIFO is notify_fifo (keepalived's vrrp_notify_fifo): the path
	// of the FIFO every transition is written to (notifyfifo.go); empty:
	// none. NotifyFIFOScript, if set, is started to read it, with the
	// path as its last argument.
	NotifyFIFO, NotifyFIFOScript string
	// ProbeInterval is probe_interval / -probe-interval: how often a
	// master probes each of its virtual addresses for a second responder
	// (probe.go), 100ms-10s. The files and flags default to 2s
	// (defaultProbeInterval); 0, the zero value of a Config built in Go,
	// is off ("off" or 0 in a file or flag). A reload applies it.
	ProbeInterval time.Duration
	// ReceivePoll is receive_poll / -receive-poll: read the VRRP sockets
	// every ReceivePoll instead of being woken by each packet that
	// arrives (transport/raw's Config.Poll): with many instances, a
	// backup wakes ReceivePoll⁻¹ times a second instead of thousands, at
	// the price of reacting to an advertisement up to ReceivePoll later
	// (the timers count from each packet's kernel arrival time, so they
	// do not move). 1ms-100ms, at most a tenth of every instance's
	// advertisement interval; 0 is off. The files and flags default to
	// "auto" (autoReceivePoll): 5ms, or a tenth of the shortest
	// interval, when the instances receive 1,000 advertisements a second
	// or more, else off; 0, the zero value of a Config built in Go, is
	// off. Instances with ring receive through their ring. Taken at
	// start only.
	ReceivePoll time.Duration
	// ReceivePollAuto says ReceivePoll came from "auto", which counts and
	// polls only the instances on the shared sockets (multicast, without
	// src: shareable): one with a socket of its own (unicast peers, its
	// own source) receives one instance's advertisements, which a pause
	// would only delay.
	ReceivePollAuto bool
	// SendPath is send_path / -send-path: how IPv4 multicast
	// advertisements leave (transport/raw's Config.Send): "socket" on
	// the protocol-112 socket, as keepalived does (the kernel routes
	// them, resolves the group's MAC, and runs the host firewall's
	// output hooks); "link" on an AF_PACKET socket with the IPv4 header
	// built by vrrpd, straight to the interface (the output hooks do not
	// see them); "auto", the files' and flags' default, on the link layer
	// once a shared socket serves raw.AutoLinkIfaces (256) interfaces,
	// where the kernel's per-packet work on the socket path grows with
	// the number of links (BENCHMARKS.md, "Link-layer send"). IPv6,
	// unicast peers and interfaces that are not Ethernet always use the
	// socket. SendSocket, the zero value of a Config built in Go, is
	// "socket". Taken at start only.
	SendPath raw.SendPath
}

// sendPathAllowed is send_path's range (Config.SendPath).
const sendPathAllowed = `"auto" (the default: the link layer from 256 interfaces on a shared socket), "link" or "socket"`

// parseSendPath parses a send_path value; empty is "auto".
func parseSendPath(v string, k keyNamer) (raw.SendPath, error) {
	switch v {
	case "", "auto":
		return raw.SendAuto, nil
	case "link":
		return raw.SendLink, nil
	case "socket":
		return raw.SendSocket, nil
	}
	return 0, k.err("send_path", v, sendPathAllowed)
}

// receivePollAllowed is receive_poll's range (Config.ReceivePoll).
const receivePollAllowed = `"auto" (the default), 0 or "off", or a Go duration from 1ms to 100ms, at most a tenth of every instance's interval`

// receive_poll = "auto" (autoReceivePoll): polled when the instances
// without ring receive at least autoPollRate advertisements a second,
// every autoPoll or a tenth of the shortest interval.
const (
	autoPollRate = 1000
	autoPoll     = 5 * time.Millisecond
)

// autoReceivePoll is what receive_poll = "auto" means for ins: below
// autoPollRate advertisements a second on the shared sockets, waking for
// each costs little and vrrpd reacts at once, as keepalived does; above
// it, waking is most of a backup's CPU (1,000 links at 100 ms: 9.5% of a
// core, 4.4% polled; BENCHMARKS.md).
func autoReceivePoll(ins []Instance) time.Duration {
	rate := 0.0
	shortest := time.Duration(0)
	for i := range ins {
		in := &ins[i]
		if !pollable(in, true) || in.Interval <= 0 {
			continue
		}
		rate += float64(time.Second) / float64(in.Interval)
		if shortest == 0 || in.Interval < shortest {
			shortest = in.Interval
		}
	}
	if rate < autoPollRate {
		return 0
	}
	return min(autoPoll, shortest/10)
}

// setReceivePoll parses receive_poll (v: "auto" or "" for
// autoReceivePoll, "0" or "off" for off, or a Go duration) into cfg and
// its instances (Instance.ReceivePoll; 0 for those with ring), checking
// it against each instance's interval.
func setReceivePoll(cfg *Config, v string, k keyNamer) error {
	var d time.Duration
	auto := false
	switch v {
	case "", "auto":
		d, auto = autoReceivePoll(cfg.Instances), true
	case "0", "off":
	default:
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < time.Millisecond || d > 100*time.Millisecond {
			return k.err("receive_poll", v, receivePollAllowed)
		}
	}
	for i := range cfg.Instances {
		in := &cfg.Instances[i]
		if !pollable(in, auto) {
			in.ReceivePoll = 0
			continue
		}
		if 10*d > in.Interval {
			return k.err("receive_poll", v, fmt.Sprintf("%s (instance %q: interval %v)", receivePollAllowed, in.Name, in.Interval))
		}
		in.ReceivePoll = d
	}
	cfg.ReceivePoll, cfg.ReceivePollAuto = d, auto
	return nil
}

// pollable reports whether receive_poll applies to in: not with ring, and
// under "auto" only on a shared socket.
func pollable(in *Instance, auto bool) bool {
	return !in.Ring && (!auto || shareable(in))
}

// notify_nice: its default and range (Config.NotifyNice).
const (
	defaultNotifyNice = 10
	notifyNiceAllowed = "a niceness 0-19 (0: vrrpd's own; default 10)"
)

func checkNotifyNice(n int) bool { return n >= 0 && n <= 19 }

// rtPriorityAllowed is rt_priority's range.
const rtPriorityAllowed = "0 (off) or a SCHED_RR priority 1-99"

func checkRTPriority(p int) bool { return p >= 0 && p <= 99 }

// Instance is one virtual router (keepalived's vrrp_instance).
type Instance struct {
	Name      string
	Interface string
	VRID      uint8
	// Priority is the configured (base) priority, 1-255.
	Priority  uint8
	Version   uint8
	NoPreempt bool
	// Accept is Accept_Mode: without it a non-owner master drops packets
	// addressed to the VIPs (RFC 9568 section 6.4.3), except ARP and
	// Neighbor Discovery.
	Accept bool
	// VMAC uses arpnd's macvlan mode (keepalived's use_vmac).
	VMAC bool
	// Ring receives through transport/raw's TPACKET_V3 ring (raw.Config.Ring):
	// far less CPU with many virtual routers, but the host firewall does
	// not apply to the advertisements received.
	Ring bool
	// Checksum is the VRRPv3-over-IPv4 checksum form to send;
	// ChecksumUnknown for VRRPv2 and IPv6, where there is no choice.
	Checksum packet.Checksum
	// (The fields above share a word: Instance is 344 B, in Go's 352 B
	// size class; one per instance, issue 12.)

	Interval     time.Duration
	PreemptDelay time.Duration
	// AuthPass is the VRRPv2 simple password (at most 8 bytes); empty: no
	// authentication.
	AuthPass string
	// Peers are unicast peers; empty: multicast.
	Peers []netip.Addr
	// Src is the source address of advertisements; zero: the interface's
	// first address (IPv4) or link-local address (IPv6).
	Src netip.Addr
	// ReceivePoll is the daemon's Config.ReceivePoll, which the
	// configuration's parsers copy here (0 with Ring): instances share a
	// socket only when they agree on it.
	ReceivePoll time.Duration
	// Notify is run on every transition; empty: none.
	Notify string
	// VIPs are the virtual addresses, with the prefix length to install
	// them with (/32 or /128 when none was given).
	VIPs []netip.Prefix
	// SyncGroup is the name of the group the instance belongs to, if any.
	SyncGroup string
	// TrackInterfaces and TrackScripts adjust the priority (or, with
	// weight 0, put the instance in Fault).
	TrackInterfaces []TrackInterface
	TrackScripts    []string
	// TrackFiles and TrackProcesses are its tracked files and processes
	// (trackobj.go), with the weights it uses.
	TrackFiles     []TrackRef
	TrackProcesses []TrackRef
	// GARP is the schedule of its gratuitous ARPs / unsolicited NAs
	// (garp.go; keepalived's garp_*).
	GARP garpSchedule
}

// TrackInterface watches another interface (keepalived's
// track_interface): with Weight > 0 the priority is raised by Weight
// while it is up, with Weight < 0 lowered by -Weight while it is down,
// with Weight 0 the instance goes to Fault while it is down.
type TrackInterface struct {
	Name   string
	Weight int
}

// Script is a check command run every Interval (keepalived's
// vrrp_script): exit status 0 is success. With Weight > 0 the priority of
// every instance tracking it is raised by Weight while it succeeds, with
// Weight < 0 lowered by -Weight while it fails, with Weight 0 the
// instances go to Fault while it fails. Rise successes (Fall failures) in
// a row are needed to change its status.
type Script struct {
	Name     string
	Command  string
	Interval time.Duration
	Timeout  time.Duration
	Weight   int
	Rise     int
	Fall     int
}

// Group is a sync group (keepalived's vrrp_sync_group).
type Group struct {
	Name    string
	Members []string
	Notify  string
}

// Family returns the address family of the instance's virtual addresses.
func (in *Instance) Family() vrrp.Family {
	if len(in.VIPs) > 0 && in.VIPs[0].Addr().Is4() {
		return vrrp.IPv4
	}
	return vrrp.IPv6
}

// Addrs returns the virtual addresses without prefix lengths.
func (in *Instance) Addrs() []netip.Addr {
	as := make([]netip.Addr, len(in.VIPs))
	for i, p := range in.VIPs {
		as[i] = p.Addr()
	}
	return as
}

// VRRPConfig returns the protocol configuration with primary as this
// router's own address.
func (in *Instance) VRRPConfig(primary netip.Addr) vrrp.Config {
	c := vrrp.Config{
		VRID:           in.VRID,
		Priority:       in.Priority,
		Version:        in.Version,
		AdvertInterval: in.Interval,
		Addrs:          in.Addrs(),
		Primary:        primary,
		NoPreempt:      in.NoPreempt,
		PreemptDelay:   in.PreemptDelay,
		AcceptMode:     in.Accept,
		Checksum:       in.Checksum,
	}
	if in.AuthPass != "" {
		c.AuthType = packet.AuthPass
		copy(c.AuthData[:], in.AuthPass)
	}
	return c
}

// ErrUsage matches every configuration error returned by parseFlags.
var ErrUsage = errors.New("bad configuration")

// usageError is a flag syntax error, worded by package flag.
type usageError string

func (e usageError) Error() string        { return string(e) }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// A ConfigError names the flag or configuration key at fault and what is
// allowed there.
type ConfigError struct {
	// Where is "" for flags, or "FILE: instance \"NAME\": " and the like.
	Where string
	// Key is the flag ("-vrid") or the TOML key ("vrid").
	Key     string
	Value   string
	Allowed string
	// Flag is set when Key is a command-line flag or argument.
	Flag bool
}

func (e *ConfigError) Error() string {
	sep := " = "
	if e.Flag {
		sep = " "
	}
	if e.Value == "" {
		return fmt.Sprintf("%s%s: want %s", e.Where, e.Key, e.Allowed)
	}
	return fmt.Sprintf("%s%s%s%s: want %s", e.Where, e.Key, sep, e.Value, e.Allowed)
}

// Is makes errors.Is(err, ErrUsage) true.
func (e *ConfigError) Is(target error) bool { return target == ErrUsage }

// rawInstance is an instance as written, before validation. Pointers tell
// a missing key from a zero.
type rawInstance struct {
	Name           string              `toml:"name"`
	State          string              `toml:"state"`
	Interface      string              `toml:"interface"`
	VRID           *int                `toml:"vrid"`
	Priority       *int                `toml:"priority"`
	Version        *int                `toml:"version"`
	Interval       string              `toml:"interval"`
	NoPreempt      bool                `toml:"nopreempt"`
	PreemptDelay   string              `toml:"preempt_delay"`
	Accept         bool                `toml:"accept"`
	AuthPass       string              `toml:"auth_pass"`
	Peers          []string            `toml:"peers"`
	Src            string              `toml:"src"`
	VMAC           bool                `toml:"vmac"`
	Ring           bool                `toml:"ring"`
	Checksum       string              `toml:"checksum"`
	Notify         string              `toml:"notify"`
	VIPs           []string            `toml:"vips"`
	TrackInterface []rawTrackInterface `toml:"track_interface"`
	TrackScript    []string            `toml:"track_script"`
	TrackFile      []rawTrackRef       `toml:"track_file"`
	TrackProcess   []rawTrackRef       `toml:"track_process"`
	rawGARP
	rawNotifyStates
}

type rawTrackInterface struct {
	Name   string `toml:"name"`
	Weight int    `toml:"weight"`
}

type rawScript struct {
	Name     string `toml:"name"`
	Command  string `toml:"command"`
	Interval string `toml:"interval"`
	Timeout  string `toml:"timeout"`
	Weight   int    `toml:"weight"`
	Rise     *int   `toml:"rise"`
	Fall     *int   `toml:"fall"`
}

type rawGroup struct {
	Name    string   `toml:"name"`
	Members []string `toml:"members"`
	Notify  string   `toml:"notify"`
	rawNotifyStates
}

// rawNotifyStates are keepalived's notify_master / _backup / _fault /
// _stop: run, without arguments, on entering that state, before notify.
// They are folded into the one notify command (kaNotify.shell).
type rawNotifyStates struct {
	NotifyMaster string `toml:"notify_master"`
	NotifyBackup string `toml:"notify_backup"`
	NotifyFault  string `toml:"notify_fault"`
	NotifyStop   string `toml:"notify_stop"`
}

// fold returns notify with the state commands folded in.
func (r rawNotifyStates) fold(notify string) string {
	return kaNotify{all: notify, master: r.NotifyMaster, backup: r.NotifyBackup, fault: r.NotifyFault, stop: r.NotifyStop}.shell()
}

type rawFile struct {
	LogLevel      string        `toml:"log_level"`
	Status        string        `toml:"status"`
	StatusMode    string        `toml:"status_mode"`
	Notify        string        `toml:"notify"`
	NotifyTimeout string        `toml:"notify_timeout"`
	NotifyNice    *int          `toml:"notify_nice"`
	RTPriority    int           `toml:"rt_priority"`
	LockMemory    bool          `toml:"lock_memory"`
	NotifyFIFO    string        `toml:"notify_fifo"`
	NotifyFIFOScr string        `toml:"notify_fifo_script"`
	ProbeInterval any           `toml:"probe_interval"`
	ReceivePoll   string        `toml:"receive_poll"`
	SendPath      string        `toml:"send_path"`
	Instances     []rawInstance `toml:"instance"`
	SyncGroups    []rawGroup    `toml:"sync_group"`
	Scripts       []rawScript   `toml:"script"`
	rawTrackObjects
	rawGARP
}

// keyNamer turns a TOML key into the name the user wrote: the key itself
// in a file, the flag for a command line.
type keyNamer struct {
	where string
	flags bool
}

var flagNames = map[string]string{
	"interface":      "-iface",
	"vrid":           "-vrid",
	"priority":       "-priority",
	"version":        "-version",
	"interval":       "-interval",
	"preempt_delay":  "-preempt-delay",
	"accept":         "-accept",
	"auth_pass":      "-auth-pass",
	"peers":          "-peer",
	"src":            "-src",
	"vmac":           "-vmac",
	"ring":           "-ring",
	"checksum":       "-checksum",
	"vips":           "VIP argument",
	"log_level":      "-log-level",
	"status":         "-status",
	"status_mode":    "-status-mode",
	"rt_priority":    "-rt-priority",
	"lock_memory":    "-lock-memory",
	"probe_interval": "-probe-interval",
	"receive_poll":   "-receive-poll",
	"send_path":      "-send-path",
	"notify_nice":    "-notify-nice",
}

func (k keyNamer) err(key, value, allowed string) error {
	if k.flags {
		if f, ok := flagNames[key]; ok {
			key = f
		}
	}
	return &ConfigError{Where: k.where, Key: key, Value: value, Allowed: allowed, Flag: k.flags}
}

// usage is the command's synopsis, printed by -h and after flag errors.
const usage = `usage:
  vrrpd -iface IFACE -vrid N [-priority P] [-version 2|3] [-interval DURATION]
        [-nopreempt] [-preempt-delay DURATION] [-accept] [-auth-pass SECRET]
        [-peer ADDR]... [-src ADDR] [-vmac] [-ring] [-checksum rfc9568|pseudo]
        [-notify CMD] [-status ADDR [-status-mode MODE]] [-log-level debug|info|warn] VIP...
  vrrpd -config FILE [-status ADDR [-status-mode MODE]] [-log-level LEVEL] [-notify CMD]
  either form also takes [-rt-priority 1-99] [-lock-memory] [-probe-interval DURATION|off] [-notify-nice 0-19]
        [-receive-poll DURATION|auto|off] [-send-path auto|link|socket]

VIP is ADDR or ADDR/LEN, IPv4 or IPv6 (one family per command line).
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// parseFlags parses the command line (without the program name). With
// -config it reads and validates the file too, so calling it again with
// the same arguments is how SIGHUP reloads. Errors match ErrUsage when
// the configuration is at fault, and flag.ErrHelp for -h.
func parseFlags(args []string) (Config, error) {
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	var (
		ri                  rawInstance
		vrid, prio, version int
		peers               multiFlag
		file, status, level string
		statusMode          string
		rtPrio, notifyNice  int
		lockMem             bool
		probeIv             string
		receivePoll         string
		sendPath            string
	)
	fs.StringVar(&ri.Interface, "iface", "", "`interface` to run on")
	fs.IntVar(&vrid, "vrid", 0, "virtual router `ID`, 1-255 (required)")
	fs.IntVar(&prio, "priority", vrrp.DefaultPriority, "`priority`, 1-255 (255: address owner)")
	fs.IntVar(&version, "version", 3, "VRRP `version`, 2 or 3")
	fs.StringVar(&ri.Interval, "interval", "1s", "advertisement `interval`: v3 10ms-40.95s in 10ms steps, v2 1s-255s")
	fs.BoolVar(&ri.NoPreempt, "nopreempt", false, "do not preempt a lower-priority master")
	fs.StringVar(&ri.PreemptDelay, "preempt-delay", "0s", "wait this `long` after start before preempting, 0s-1000s")
	fs.BoolVar(&ri.Accept, "accept", false, "Accept_Mode: as master, accept packets addressed to the VIPs, as keepalived does by default (with VRRPv2 too, "+
		"which RFC 3768 section 6.4.3 forbids and keepalived allows). "+
		"Off by default, as RFC 9568 says: a master that is not the owner (priority 255) drops them (an nftables table), "+
		"answering only ARP and Neighbor Discovery; a service listening on a VIP needs -accept")
	fs.StringVar(&ri.AuthPass, "auth-pass", "", "VRRPv2 simple password, at most 8 bytes")
	fs.Var(&peers, "peer", "unicast peer `address` (repeat for several)")
	fs.StringVar(&ri.Src, "src", "", "source `address` of advertisements")
	fs.BoolVar(&ri.VMAC, "vmac", false, "use a macvlan with the virtual MAC (keepalived's use_vmac)")
	fs.BoolVar(&ri.Ring, "ring", false, "receive through a TPACKET_V3 ring: less CPU, but the host firewall does not filter received advertisements")
	fs.StringVar(&ri.Checksum, "checksum", "", "VRRPv3 IPv4 checksum: pseudo (keepalived, default) or rfc9568")
	fs.StringVar(&ri.Notify, "notify", "", "`command` run on every transition: CMD INSTANCE NAME STATE PRIORITY")
	fs.StringVar(&status, "status", "", "serve JSON status on `ADDR`: a loopback host:port or unix:/path")
	fs.StringVar(&statusMode, "status-mode", "", "permissions of the unix status socket, octal (default 0600: owner only, whatever the umask)")
	fs.StringVar(&level, "log-level", "info", "log `level`: debug, info or warn")
	fs.IntVar(&rtPrio, "rt-priority", 0, "run vrrpd's threads under SCHED_RR at this `priority`, 1-99, commands it starts excepted (keepalived's vrrp_rt_priority; needs CAP_SYS_NICE); 0: off")
	fs.BoolVar(&lockMem, "lock-memory", false, "lock vrrpd's memory (mlockall; keepalived's vrrp_no_swap; needs CAP_IPC_LOCK or LimitMEMLOCK=infinity)")
	fs.IntVar(&notifyNice, "notify-nice", defaultNotifyNice, "run notify commands at this `niceness`, 0-19 (0: vrrpd's own, as keepalived does)")
	fs.StringVar(&receivePoll, "receive-poll", "auto", "read the VRRP sockets this `often` instead of on every packet: less CPU with many instances, "+
		"reactions up to that much later; 1ms-100ms and at most a tenth of every interval, off, or auto: 5ms from 1,000 advertisements a second on")
	fs.StringVar(&sendPath, "send-path", "auto", "how IPv4 multicast advertisements leave: socket (the protocol-112 socket, as keepalived), link (AF_PACKET, "+
		"past the host firewall's output hooks: less CPU with many links), or auto: link from 256 interfaces on a shared socket")
	fs.StringVar(&probeIv, "probe-interval", "2s", "while master, probe each VIP (ARP / NS) this `often` and warn when another MAC answers: 100ms-10s, or off")
	fs.StringVar(&file, "config", "", "TOML configuration `file` (many virtual routers)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage, "\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, fmt.Errorf("%w\n%s", flag.ErrHelp, out.String())
		}
		return Config{}, usageError(strings.TrimSpace(firstLine(out.String())))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	k := keyNamer{flags: true}

	var cfg Config
	if file != "" {
		for _, name := range []string{"iface", "vrid", "priority", "version", "interval", "nopreempt",
			"preempt-delay", "accept", "auth-pass", "peer", "src", "vmac", "ring", "checksum"} {
			if set[name] {
				return Config{}, k.err("-"+name, "", "no -"+name+" with -config: put it in the file")
			}
		}
		if fs.NArg() > 0 {
			return Config{}, k.err("vips", fs.Arg(0), "no VIP arguments with -config: put them in the file")
		}
		var err error
		if cfg, err = loadFile(file); err != nil {
			return Config{}, err
		}
		if set["notify"] {
			for i := range cfg.Instances {
				if cfg.Instances[i].Notify == "" {
					cfg.Instances[i].Notify = ri.Notify
				}
			}
			for i := range cfg.Groups {
				if cfg.Groups[i].Notify == "" {
					cfg.Groups[i].Notify = ri.Notify
				}
			}
		}
	} else {
		if ri.Interface == "" {
			return Config{}, k.err("interface", "", "an interface name (required)")
		}
		ri.VRID, ri.Priority, ri.Version = &vrid, &prio, &version
		ri.Peers = peers
		ri.VIPs = fs.Args()
		if !set["checksum"] {
			ri.Checksum = "default"
		}
		in, err := buildInstance(ri, k)
		if err != nil {
			return Config{}, err
		}
		in.Name = "VI_" + strconv.Itoa(int(in.VRID))
		in.GARP = defaultGARP
		cfg.Instances = []Instance{in}
		cfg.NotifyTimeout = defaultNotifyTimeout
		cfg.LogLevel = slog.LevelInfo
		cfg.ProbeInterval = defaultProbeInterval
		cfg.NotifyNice = defaultNotifyNice
	}
	if set["notify-nice"] {
		if !checkNotifyNice(notifyNice) {
			return Config{}, k.err("notify_nice", strconv.Itoa(notifyNice), notifyNiceAllowed)
		}
		cfg.NotifyNice = notifyNice
	}
	if set["probe-interval"] {
		d, ok := parseProbeInterval(probeIv)
		if !ok {
			return Config{}, k.err("probe_interval", probeIv, probeIntervalAllowed)
		}
		cfg.ProbeInterval = d
	}
	if set["log-level"] || file == "" {
		l, err := parseLevel(level)
		if err != nil {
			return Config{}, k.err("log_level", level, "debug, info or warn")
		}
		cfg.LogLevel = l
	}
	if set["status"] {
		cfg.Status = status
	}
	if set["rt-priority"] {
		if !checkRTPriority(rtPrio) {
			return Config{}, k.err("rt_priority", strconv.Itoa(rtPrio), rtPriorityAllowed)
		}
		cfg.RTPriority = rtPrio
	}
	if set["lock-memory"] {
		cfg.LockMemory = lockMem
	}
	if set["receive-poll"] || file == "" {
		if err := setReceivePoll(&cfg, receivePoll, k); err != nil {
			return Config{}, err
		}
	}
	if set["send-path"] || file == "" {
		sp, err := parseSendPath(sendPath, k)
		if err != nil {
			return Config{}, err
		}
		cfg.SendPath = sp
	}
	if cfg.Status != "" {
		if err := checkStatusAddr(cfg.Status); err != nil {
			return Config{}, k.err("status", cfg.Status, statusAllowed)
		}
	}
	if set["status-mode"] {
		m, err := parseMode(statusMode)
		if err != nil {
			return Config{}, k.err("status_mode", statusMode, statusModeAllowed)
		}
		cfg.StatusMode = m
	}
	if cfg.StatusMode != 0 && !strings.HasPrefix(cfg.Status, "unix:") {
		return Config{}, k.err("status_mode", fmt.Sprintf("%04o", uint32(cfg.StatusMode)), "no status_mode without a unix:/path status address")
	}
	return cfg, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

const defaultNotifyTimeout = 10 * time.Second

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	}
	return 0, errors.New("bad level")
}

// defaultStatusMode is the unix status socket's mode when none is
// configured: owner only (connecting needs write permission).
const defaultStatusMode os.FileMode = 0o600

const statusModeAllowed = "an octal mode from 0200 to 0777 with the owner's write bit (like 0600 or 0660; default 0600)"

// parseMode parses an octal file mode for the status socket: at most
// 0777, and the owner must be able to connect (write permission).
func parseMode(s string) (os.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 || v&0o200 == 0 {
		return 0, errors.New("bad mode")
	}
	return os.FileMode(v), nil
}

// statusAllowed is what -status / status accepts.
const statusAllowed = "host:port on a loopback address (like 127.0.0.1:8080, [::1]:8080 or localhost:8080) or unix:/path/to.sock; " +
	"the status server has no authentication, so it never listens on other addresses"

// checkStatusAddr accepts unix:/path, or host:port where host is a
// loopback address or "localhost". An empty host (":8080"), an
// unspecified address (0.0.0.0, ::) or any other address would expose
// the status document to the network.
func checkStatusAddr(s string) error {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if p == "" {
			return errors.New("empty path")
		}
		return nil
	}
	host, port, err := splitHostPort(s)
	if err != nil || port == "" {
		return errors.New("bad address")
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" || !a.Unmap().IsLoopback() {
		return errors.New("not a loopback address")
	}
	return nil
}

func splitHostPort(s string) (string, string, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", errors.New("missing port")
	}
	host, port := s[:i], s[i+1:]
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", err
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port, nil
}

// loadFile reads and validates a TOML configuration.
func loadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fileError(path, err)
	}
	return parseTOML(path, string(b))
}

// parseTOML validates the TOML configuration text read from name.
func parseTOML(name, text string) (Config, error) {
	var rf rawFile
	md, err := toml.Decode(text, &rf)
	if err != nil {
		return Config{}, fileError(name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Config{}, &ConfigError{Where: name + ": ", Key: und[0].String(), Value: "...",
			Allowed: "a known key (see vrrpd.example.toml)"}
	}
	return buildFile(name, rf)
}

// fileError wraps a TOML syntax or type error (which names the line and
// key) or a read error.
func fileError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return usageError(path + ": " + pe.Error())
	}
	return usageError(path + ": " + err.Error())
}

func buildFile(path string, rf rawFile) (Config, error) {
	top := keyNamer{where: path + ": "}
	cfg := Config{File: path, Status: rf.Status, NotifyTimeout: defaultNotifyTimeout}
	var err error
	if cfg.LogLevel, err = parseLevel(rf.LogLevel); err != nil {
		return Config{}, top.err("log_level", rf.LogLevel, "debug, info or warn")
	}
	if rf.NotifyTimeout != "" {
		d, err := time.ParseDuration(rf.NotifyTimeout)
		if err != nil || d <= 0 {
			return Config{}, top.err("notify_timeout", rf.NotifyTimeout, "a positive Go duration like 10s")
		}
		cfg.NotifyTimeout = d
	}
	if rf.Status != "" {
		if err := checkStatusAddr(rf.Status); err != nil {
			return Config{}, top.err("status", rf.Status, statusAllowed)
		}
	}
	if rf.StatusMode != "" {
		if cfg.StatusMode, err = parseMode(rf.StatusMode); err != nil {
			return Config{}, top.err("status_mode", rf.StatusMode, statusModeAllowed)
		}
	}
	if !checkRTPriority(rf.RTPriority) {
		return Config{}, top.err("rt_priority", strconv.Itoa(rf.RTPriority), rtPriorityAllowed)
	}
	cfg.RTPriority, cfg.LockMemory = rf.RTPriority, rf.LockMemory
	garp, err := rf.rawGARP.resolve(defaultGARP, true, top)
	if err != nil {
		return Config{}, err
	}
	if rf.NotifyFIFOScr != "" && rf.NotifyFIFO == "" {
		return Config{}, top.err("notify_fifo_script", rf.NotifyFIFOScr, "no notify_fifo_script without a notify_fifo")
	}
	if rf.NotifyFIFO != "" && strings.ContainsRune(rf.NotifyFIFO, 0) {
		return Config{}, top.err("notify_fifo", rf.NotifyFIFO, "a path")
	}
	cfg.NotifyFIFO, cfg.NotifyFIFOScript = rf.NotifyFIFO, rf.NotifyFIFOScr
	cfg.NotifyNice = defaultNotifyNice
	if rf.NotifyNice != nil {
		if !checkNotifyNice(*rf.NotifyNice) {
			return Config{}, top.err("notify_nice", strconv.Itoa(*rf.NotifyNice), notifyNiceAllowed)
		}
		cfg.NotifyNice = *rf.NotifyNice
	}
	cfg.ProbeInterval = defaultProbeInterval
	if rf.ProbeInterval != nil {
		// A string ("2s", "off"), or the switch: 0 or false is off.
		var ok bool
		switch v := rf.ProbeInterval.(type) {
		case string:
			cfg.ProbeInterval, ok = parseProbeInterval(v)
		case int64:
			cfg.ProbeInterval, ok = 0, v == 0
		case bool:
			cfg.ProbeInterval, ok = 0, !v
		}
		if !ok {
			return Config{}, top.err("probe_interval", fmt.Sprint(rf.ProbeInterval), probeIntervalAllowed)
		}
	}

	scripts := map[string]bool{}
	for i, rs := range rf.Scripts {
		s, err := buildScript(rs, keyNamer{where: fmt.Sprintf("%sscript[%d] %q: ", top.where, i, rs.Name)})
		if err != nil {
			return Config{}, err
		}
		if scripts[s.Name] {
			return Config{}, top.err(fmt.Sprintf("script[%d].name", i), s.Name, "a name no other script has")
		}
		scripts[s.Name] = true
		cfg.Scripts = append(cfg.Scripts, s)
	}

	fileW, fileR, procW := map[string]int{}, map[string]bool{}, map[string]int{}
	for i, r := range rf.TrackFiles {
		f, err := buildTrackFile(r, keyNamer{where: fmt.Sprintf("%strack_file[%d] %q: ", top.where, i, r.Name)})
		if err != nil {
			return Config{}, err
		}
		if _, dup := fileW[f.Name]; dup {
			return Config{}, top.err(fmt.Sprintf("track_file[%d].name", i), f.Name, "a name no other track_file has")
		}
		fileW[f.Name], fileR[f.Name] = f.Weight, f.Reverse
		cfg.TrackFiles = append(cfg.TrackFiles, f)
	}
	for i, r := range rf.TrackProcs {
		p, err := buildTrackProcess(r, keyNamer{where: fmt.Sprintf("%strack_process[%d] %q: ", top.where, i, r.Name)})
		if err != nil {
			return Config{}, err
		}
		if _, dup := procW[p.Name]; dup {
			return Config{}, top.err(fmt.Sprintf("track_process[%d].name", i), p.Name, "a name no other track_process has")
		}
		procW[p.Name] = p.Weight
		cfg.TrackProcesses = append(cfg.TrackProcesses, p)
	}

	if len(rf.Instances) == 0 {
		return Config{}, top.err("instance", "[]", "at least one [[instance]]")
	}
	names := map[string]int{}
	type wire struct {
		iface string
		vrid  uint8
		fam   vrrp.Family
	}
	wires := map[wire]string{}
	for i, ri := range rf.Instances {
		k := keyNamer{where: fmt.Sprintf("%sinstance[%d] %q: ", top.where, i, ri.Name)}
		if ri.Name == "" {
			return Config{}, k.err("name", "", "a non-empty instance name")
		}
		if _, dup := names[ri.Name]; dup {
			return Config{}, k.err("name", ri.Name, "a name no other instance has")
		}
		if ri.Interface == "" {
			return Config{}, k.err("interface", "", "an interface name (required)")
		}
		if ri.VRID == nil {
			return Config{}, k.err("vrid", "", "1-255 (required)")
		}
		if ri.Notify == "" {
			ri.Notify = rf.Notify
		}
		ri.Notify = ri.rawNotifyStates.fold(ri.Notify)
		if ri.Checksum == "" {
			ri.Checksum = "default"
		}
		if err := initialState(&ri, k); err != nil {
			return Config{}, err
		}
		in, err := buildInstance(ri, k)
		if err != nil {
			return Config{}, err
		}
		in.Name = ri.Name
		if in.GARP, err = ri.rawGARP.resolve(garp, false, k); err != nil {
			return Config{}, err
		}
		w := wire{in.Interface, in.VRID, in.Family()}
		if other, dup := wires[w]; dup {
			return Config{}, k.err("vrid", strconv.Itoa(int(in.VRID)),
				fmt.Sprintf("a VRID not used by instance %q on %s for %v", other, in.Interface, in.Family()))
		}
		wires[w] = in.Name
		for j, t := range ri.TrackScript {
			if !scripts[t] {
				return Config{}, k.err(fmt.Sprintf("track_script[%d]", j), t, "the name of a [[script]]")
			}
		}
		if in.TrackFiles, err = buildTrackRefs("track_file", ri.TrackFile, fileW, fileR, k); err != nil {
			return Config{}, err
		}
		if in.TrackProcesses, err = buildTrackRefs("track_process", ri.TrackProcess, procW, nil, k); err != nil {
			return Config{}, err
		}
		names[in.Name] = len(cfg.Instances)
		cfg.Instances = append(cfg.Instances, in)
	}

	groups := map[string]bool{}
	for i, rg := range rf.SyncGroups {
		k := keyNamer{where: fmt.Sprintf("%ssync_group[%d] %q: ", top.where, i, rg.Name)}
		if rg.Name == "" {
			return Config{}, k.err("name", "", "a non-empty group name")
		}
		if groups[rg.Name] {
			return Config{}, k.err("name", rg.Name, "a name no other sync group has")
		}
		groups[rg.Name] = true
		if len(rg.Members) < 2 {
			return Config{}, k.err("members", fmt.Sprint(rg.Members), "at least two instance names")
		}
		for j, m := range rg.Members {
			idx, ok := names[m]
			if !ok {
				return Config{}, k.err(fmt.Sprintf("members[%d]", j), m, "the name of an [[instance]]")
			}
			in := &cfg.Instances[idx]
			if in.SyncGroup != "" {
				return Config{}, k.err(fmt.Sprintf("members[%d]", j), m,
					fmt.Sprintf("an instance in no other sync group (it is in %q)", in.SyncGroup))
			}
			in.SyncGroup = rg.Name
		}
		notify := rg.Notify
		if notify == "" {
			notify = rf.Notify
		}
		notify = rg.rawNotifyStates.fold(notify)
		cfg.Groups = append(cfg.Groups, Group{Name: rg.Name, Members: slices.Clone(rg.Members), Notify: notify})
	}
	if err := setReceivePoll(&cfg, rf.ReceivePoll, top); err != nil {
		return Config{}, err
	}
	sp, err := parseSendPath(rf.SendPath, top)
	if err != nil {
		return Config{}, err
	}
	cfg.SendPath = sp
	return cfg, nil
}

// minScriptTimeout is the least default timeout of a track script.
const minScriptTimeout = 5 * time.Second

// defaultScriptTimeout is the timeout of a script that sets none: its
// interval, but at least minScriptTimeout. keepalived kills a script at
// its interval when no timeout is given; on a loaded machine even `true`
// can take longer than a short interval to start, and each run killed is
// a failure that moves the priority or holds the instances in FAULT. A
// script that hangs is still killed, and its run counted as a failure,
// after minScriptTimeout at most (unless configured longer); the next
// run starts at the next interval tick after it ends.
func defaultScriptTimeout(interval time.Duration) time.Duration {
	return max(interval, minScriptTimeout)
}

func buildScript(rs rawScript, k keyNamer) (Script, error) {
	s := Script{Name: rs.Name, Command: rs.Command, Weight: rs.Weight, Rise: 1, Fall: 1,
		Interval: time.Second}
	if s.Name == "" {
		return Script{}, k.err("name", "", "a non-empty script name")
	}
	if strings.TrimSpace(s.Command) == "" {
		return Script{}, k.err("command", "", "a command to run")
	}
	if rs.Interval != "" {
		d, err := time.ParseDuration(rs.Interval)
		if err != nil || d < 10*time.Millisecond || d > time.Hour {
			return Script{}, k.err("interval", rs.Interval, "a Go duration from 10ms to 1h (default 1s)")
		}
		s.Interval = d
	}
	s.Timeout = defaultScriptTimeout(s.Interval)
	if rs.Timeout != "" {
		d, err := time.ParseDuration(rs.Timeout)
		if err != nil || d <= 0 || d > time.Hour {
			return Script{}, k.err("timeout", rs.Timeout, "a positive Go duration up to 1h (default: the interval, at least 5s)")
		}
		s.Timeout = d
	}
	if s.Weight < -254 || s.Weight > 254 {
		return Script{}, k.err("weight", strconv.Itoa(s.Weight), "-254 to 254 (0: fault while failing)")
	}
	for _, f := range []struct {
		key string
		p   *int
		dst *int
	}{{"rise", rs.Rise, &s.Rise}, {"fall", rs.Fall, &s.Fall}} {
		if f.p == nil {
			continue
		}
		if *f.p < 1 || *f.p > 1000 {
			return Script{}, k.err(f.key, strconv.Itoa(*f.p), "1-1000 (default 1)")
		}
		*f.dst = *f.p
	}
	return s, nil
}

// buildInstance validates ri and converts it; k names the keys in errors.
// ri.Checksum "default" means not given.
func buildInstance(ri rawInstance, k keyNamer) (Instance, error) {
	in := Instance{
		Interface: ri.Interface,
		NoPreempt: ri.NoPreempt,
		Accept:    ri.Accept,
		VMAC:      ri.VMAC,
		Ring:      ri.Ring,
		Notify:    ri.Notify,
		AuthPass:  ri.AuthPass,
		Priority:  vrrp.DefaultPriority,
		Version:   3,
		Interval:  time.Second,
	}
	if len(in.Interface) > 15 || strings.ContainsAny(in.Interface, "/ \t\n") {
		return Instance{}, k.err("interface", in.Interface, "an interface name (at most 15 bytes, no '/' or spaces)")
	}
	if ri.VRID == nil || *ri.VRID < 1 || *ri.VRID > 255 {
		v := "0"
		if ri.VRID != nil {
			v = strconv.Itoa(*ri.VRID)
		}
		return Instance{}, k.err("vrid", v, "1-255 (required)")
	}
	in.VRID = uint8(*ri.VRID)
	if ri.Priority != nil {
		if *ri.Priority < 1 || *ri.Priority > 255 {
			return Instance{}, k.err("priority", strconv.Itoa(*ri.Priority), "1-255 (255: address owner; default 100)")
		}
		in.Priority = uint8(*ri.Priority)
	}
	if ri.Version != nil {
		if *ri.Version != 2 && *ri.Version != 3 {
			return Instance{}, k.err("version", strconv.Itoa(*ri.Version), "2 or 3 (default 3)")
		}
		in.Version = uint8(*ri.Version)
	}

	// Addresses first: the interval and checksum rules depend on the family.
	if len(ri.VIPs) == 0 {
		return Instance{}, k.err("vips", "", "1-255 virtual addresses (ADDR or ADDR/LEN)")
	}
	if len(ri.VIPs) > packet.MaxAddrs {
		return Instance{}, k.err("vips", fmt.Sprintf("%d addresses", len(ri.VIPs)), "1-255 virtual addresses")
	}
	for _, s := range ri.VIPs {
		p, err := parseVIP(s)
		if err != nil {
			return Instance{}, k.err("vips", s, "an IPv4 or IPv6 address, optionally with /LEN ("+err.Error()+")"+vipAllowed)
		}
		if len(in.VIPs) > 0 && p.Addr().Is4() != in.VIPs[0].Addr().Is4() {
			return Instance{}, k.err("vips", s, "addresses of one family ("+in.VIPs[0].Addr().String()+" came first): run one instance per family")
		}
		if slices.ContainsFunc(in.VIPs, func(q netip.Prefix) bool { return q.Addr() == p.Addr() }) {
			return Instance{}, k.err("vips", s, "distinct addresses")
		}
		in.VIPs = append(in.VIPs, p)
	}
	v4 := in.Family() == vrrp.IPv4
	if in.Version == 2 && !v4 {
		return Instance{}, k.err("version", "2", "3 for IPv6 virtual addresses (VRRPv2 is IPv4 only)")
	}

	if ri.Interval != "" {
		d, err := time.ParseDuration(ri.Interval)
		if err != nil {
			return Instance{}, k.err("interval", ri.Interval, "a Go duration like 1s or 100ms")
		}
		in.Interval = d
	}
	if in.Version == 2 {
		if d := in.Interval; d%time.Second != 0 || d < time.Second || d > 255*time.Second {
			return Instance{}, k.err("interval", in.Interval.String(), "whole seconds from 1s to 255s for VRRPv2")
		}
	} else if d := in.Interval; d%(10*time.Millisecond) != 0 || d < 10*time.Millisecond || d > 40950*time.Millisecond {
		return Instance{}, k.err("interval", in.Interval.String(), "a multiple of 10ms from 10ms to 40.95s for VRRPv3")
	}
	if ri.PreemptDelay != "" {
		d, err := time.ParseDuration(ri.PreemptDelay)
		if err != nil || d < 0 || d > vrrp.MaxPreemptDelay {
			return Instance{}, k.err("preempt_delay", ri.PreemptDelay, "a Go duration from 0s to 1000s")
		}
		in.PreemptDelay = d
	}
	if in.AuthPass != "" {
		if in.Version != 2 {
			return Instance{}, k.err("auth_pass", "(secret)", "no password for VRRPv3 (authentication is VRRPv2 only)")
		}
		if len(in.AuthPass) > packet.AuthDataLen {
			return Instance{}, k.err("auth_pass", fmt.Sprintf("(%d bytes)", len(in.AuthPass)), "at most 8 bytes")
		}
	}
	switch ri.Checksum {
	case "default":
		if in.Version == 3 && v4 {
			in.Checksum = packet.ChecksumPseudoHeader
		}
	case "pseudo":
		if in.Version == 2 {
			return Instance{}, k.err("checksum", ri.Checksum, "no checksum choice for VRRPv2 (it has only the RFC 3768 form)")
		}
		if v4 {
			in.Checksum = packet.ChecksumPseudoHeader
		}
	case "rfc9568":
		if in.Version == 2 || !v4 {
			return Instance{}, k.err("checksum", ri.Checksum, "pseudo or nothing: rfc9568 applies to VRRPv3 over IPv4 only")
		}
		in.Checksum = packet.ChecksumMessage
	default:
		return Instance{}, k.err("checksum", ri.Checksum, "rfc9568 or pseudo (default)")
	}
	for _, s := range ri.Peers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Instance{}, k.err("peers", s, "a unicast IPv4 or IPv6 address")
		}
		if a.Is4() != v4 {
			return Instance{}, k.err("peers", s, "an address of the family of the virtual addresses")
		}
		if a.IsMulticast() || a.IsUnspecified() {
			return Instance{}, k.err("peers", s, "a unicast address")
		}
		if slices.Contains(in.Peers, a) {
			return Instance{}, k.err("peers", s, "distinct peers")
		}
		in.Peers = append(in.Peers, a)
	}
	if ri.Src != "" {
		a, err := netip.ParseAddr(ri.Src)
		if err != nil || a.Is4() != v4 || a.IsMulticast() || a.IsUnspecified() {
			return Instance{}, k.err("src", ri.Src, "a unicast address of the family of the virtual addresses")
		}
		in.Src = a.WithZone("")
	}
	for i, rt := range ri.TrackInterface {
		key := fmt.Sprintf("track_interface[%d]", i)
		if rt.Name == "" || len(rt.Name) > 15 {
			return Instance{}, k.err(key+".name", rt.Name, "an interface name")
		}
		if rt.Weight < -254 || rt.Weight > 254 {
			return Instance{}, k.err(key+".weight", strconv.Itoa(rt.Weight), "-254 to 254 (0: fault while down)")
		}
		in.TrackInterfaces = append(in.TrackInterfaces, TrackInterface(rt))
	}
	in.TrackScripts = slices.Clone(ri.TrackScript)

	// Whatever the checks above missed, the library's own validation
	// catches (with a placeholder primary address).
	primary := netip.MustParseAddr("fe80::1")
	if v4 {
		primary = netip.MustParseAddr("192.0.2.1")
	}
	if _, err := vrrp.NewMachine(in.VRRPConfig(primary)); err != nil {
		return Instance{}, fmt.Errorf("%w: %s%w", ErrUsage, k.where, err)
	}
	return in, nil
}

// vipAllowed is what a virtual address may be, as the config errors say.
const vipAllowed = "; a unicast address: not loopback (127.0.0.0/8, ::1), " +
	"unspecified (0.0.0.0, ::), multicast (224.0.0.0/4, ff00::/8), broadcast (255.255.255.255 or the last address of its /LEN), " +
	"IPv4 link-local (169.254.0.0/16) or IPv4-mapped"

// notOursError refuses VIP p of non-owner instance in: p is on its
// interface and was not added by vrrpd (err says why), so it is the
// host's own address (or somebody else's).
func notOursError(in *Instance, p netip.Prefix, err error) error {
	return &ConfigError{
		Key:   "vips",
		Value: p.String(),
		Allowed: fmt.Sprintf("an address not configured on %s by anyone but vrrpd (%v); "+
			"a non-owner (priority below 255) would remove it when it stops being master. "+
			"Use the address as a VIP only with priority 255 (the address owner), or remove it from the interface",
			in.Interface, err),
	}
}

// parseVIP parses ADDR or ADDR/LEN. A VIP without a length is a host
// prefix (/32, /128). It refuses what cannot be a virtual router's
// address, which hosts use as their gateway (RFC 9568 section 1): a
// loopback, unspecified, multicast or broadcast address (the limited
// broadcast 255.255.255.255, or the directed broadcast of the VIP's own
// IPv4 prefix), an IPv4-mapped IPv6 address and an IPv4 link-local
// address (169.254.0.0/16). IPv4 link-local addresses are chosen by
// each host for itself and defended with ARP conflict detection (RFC
// 3927 sections 2.1 and 2.5), and routers must not forward packets
// from or to them (RFC 3927 section 7), so one is never a gateway;
// keepalived accepts it, vrrpd does not. IPv6 link-local VIPs (fe80::/10)
// are accepted: with VRRPv3 they are the usual first virtual address
// (RFC 9568 section 5.2.9).
func parseVIP(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errors.New("bad prefix")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("bad address")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("no zone")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	switch {
	case a.Is4In6():
		return netip.Prefix{}, errors.New("IPv4-mapped")
	case a.IsUnspecified():
		return netip.Prefix{}, errors.New("not unicast")
	case a.IsMulticast():
		return netip.Prefix{}, errors.New("not unicast")
	case a.IsLoopback():
		return netip.Prefix{}, errors.New("loopback address")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Prefix{}, errors.New("limited broadcast address")
	case a.Is4() && a.IsLinkLocalUnicast():
		return netip.Prefix{}, errors.New("IPv4 link-local address: chosen by each host for itself, never a gateway (RFC 3927)")
	case a.Is4() && p.Bits() < 31 && a == lastAddr(p):
		return netip.Prefix{}, errors.New("the broadcast address of " + p.Masked().String())
	}
	return p, nil
}

// lastAddr returns the last address of IPv4 prefix p (its directed
// broadcast address when p is shorter than /31).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
