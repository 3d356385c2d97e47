package vrrp_test

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

var updateScenarios = flag.Bool("update", false, "rewrite testdata/scenarios/*.txt with the actual output")

// TestScenarios replays the scripts in testdata/scenarios. Each block is
// optional '#' comment lines, a command, a line "----", and the expected
// output up to a blank line. Run
//
//	go test ./vrrp -run TestScenarios -update
//
// to rewrite the expected output, then review the diff.
//
// Commands (one machine per script, virtual time starts at 0):
//
//	new vrid=1 prio=100 interval=1s addr=10.0.0.100[,...] primary=10.0.0.1
//	    [version=2] [nopreempt] [delay=5s] [auth=secret] [rfc5798] [checksum=message]
//	start | shutdown | ifdown | ifup | setprio N | sync master|backup
//	groupfault on|off   SetGroupFault
//	advance D        advance virtual time by D, calling Tick at every deadline passed
//	wait D           advance virtual time by D without calling Tick (a late caller)
//	recv from=A prio=N [interval=D] [ttl=N] [addrs=A,B] [vrid=N] [version=N]
//	    [auth=secret] [type=N] [checksum=pseudo|message|unknown] [nolinklocal]
//	counterror length|type|noaddrs|zerointerval|family|version|checksum
//	adv PRIO         the advertisement Machine.Advertisement builds
//	state            state, priority, master, deadline
//	stats            the non-zero statistics
//
// Actions print as "T: action" with T the virtual time since the start.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata/scenarios")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScenarioFile(t, file)
		})
	}
}

type scenarioBlock struct {
	comments []string
	cmd      string
	line     int
	want     string
}

func parseScenarios(t *testing.T, file string) []scenarioBlock {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []scenarioBlock
	var cur *scenarioBlock
	var comments []string
	inOutput := false
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case inOutput && line == "":
			inOutput = false
			cur = nil
		case inOutput:
			cur.want += line + "\n"
		case line == "":
		case strings.HasPrefix(line, "#"):
			comments = append(comments, line)
		case line == "----":
			if cur == nil {
				t.Fatalf("%s:%d: ---- without a command", file, n)
			}
			inOutput = true
		default:
			if cur != nil {
				t.Fatalf("%s:%d: command %q: want ---- after command at line %d", file, n, line, cur.line)
			}
			blocks = append(blocks, scenarioBlock{comments: comments, cmd: line, line: n})
			cur = &blocks[len(blocks)-1]
			comments = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil && !inOutput {
		t.Fatalf("%s:%d: command %q without ----", file, cur.line, cur.cmd)
	}
	return blocks
}

func runScenarioFile(t *testing.T, file string) {
	blocks := parseScenarios(t, file)
	s := &scenario{now: mt0}
	var out strings.Builder
	for i := range blocks {
		b := &blocks[i]
		got := s.run(b.cmd)
		if got == "" {
			got = "(none)\n"
		}
		if *updateScenarios {
			for _, c := range b.comments {
				out.WriteString(c + "\n")
			}
			out.WriteString(b.cmd + "\n----\n" + got + "\n")
			continue
		}
		if diff := cmp.Diff(b.want, got); diff != "" {
			t.Errorf("%s:%d: %s: output mismatch (-want +got):\n%s", file, b.line, b.cmd, diff)
		}
	}
	if *updateScenarios {
		if err := os.WriteFile(file, []byte(strings.TrimSuffix(out.String(), "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scenario struct {
	m   *vrrp.Machine
	cfg vrrp.Config
	now time.Time
	out strings.Builder
}

func (s *scenario) printf(format string, args ...any) { fmt.Fprintf(&s.out, format, args...) }

func (s *scenario) since(t time.Time) string { return t.Sub(mt0).String() }

func (s *scenario) actions(at time.Time, acts []vrrp.Action) {
	for _, a := range acts {
		s.printf("%s: %v\n", s.since(at), a)
	}
}

// run executes one command line and returns its output.
func (s *scenario) run(line string) (out string) {
	s.out.Reset()
	defer func() {
		if r := recover(); r != nil {
			s.printf("error: %v\n", r)
		}
		out = s.out.String()
	}()
	fields := strings.Fields(line)
	cmd, args := fields[0], parseArgs(fields[1:])
	if cmd != "new" && s.m == nil {
		panic("no machine: use new first")
	}
	switch cmd {
	case "new":
		s.newMachine(args)
	case "start":
		s.actions(s.now, s.m.Start(s.now))
	case "shutdown":
		s.actions(s.now, s.m.Shutdown(s.now))
	case "ifdown":
		s.actions(s.now, s.m.InterfaceDown(s.now))
	case "ifup":
		s.actions(s.now, s.m.InterfaceUp(s.now))
	case "setprio":
		s.m.SetPriority(uint8(args.int(0, "", 0)))
	case "sync":
		to := map[string]vrrp.State{"master": vrrp.Master, "backup": vrrp.Backup}[args.pos(0)]
		s.actions(s.now, s.m.Sync(s.now, to))
	case "advance":
		s.advance(args.dur(0, "", 0))
	case "groupfault":
		held := map[string]bool{"on": true, "off": false}
		h, ok := held[args.pos(0)]
		if !ok {
			panic("groupfault on|off")
		}
		s.actions(s.now, s.m.SetGroupFault(s.now, h))
	case "wait":
		s.now = s.now.Add(args.dur(0, "", 0))
	case "recv":
		s.recv(args)
	case "counterror":
		errs := map[string]error{
			"length": packet.ErrShortAddrs, "type": packet.ErrType, "noaddrs": packet.ErrNoAddrs,
			"zerointerval": packet.ErrZeroInterval, "family": packet.ErrFamily,
			"version": packet.ErrVersion, "checksum": packet.ErrChecksum,
		}
		err, ok := errs[args.pos(0)]
		if !ok {
			panic("unknown error " + args.pos(0))
		}
		s.m.CountError(err)
	case "adv":
		a := s.m.Advertisement(uint8(args.int(0, "", 0)))
		s.printf("version=%d type=%d vrid=%d prio=%d maxadvint=%d auth=%d authdata=%q addrs=%v\n",
			a.Version, a.Type, a.VRID, a.Priority, a.MaxAdvertInt, a.AuthType, strings.TrimRight(string(a.AuthData[:]), "\x00"), a.Addrs)
	case "state":
		d := "none"
		if dl := s.m.Deadline(); !dl.IsZero() {
			d = s.since(dl)
		}
		master := "none"
		if a := s.m.Master(); a.IsValid() {
			master = a.String()
		}
		s.printf("%v prio=%d master=%s deadline=%s\n", s.m.State(), s.m.Priority(), master, d)
	case "stats":
		s.stats()
	default:
		panic("unknown command " + cmd)
	}
	return ""
}

func (s *scenario) newMachine(a scenarioArgs) {
	c := vrrp.Config{
		VRID:           uint8(a.int(-1, "vrid", 0)),
		Priority:       uint8(a.int(-1, "prio", 0)),
		Version:        uint8(a.int(-1, "version", 0)),
		AdvertInterval: a.dur(-1, "interval", 0),
		Addrs:          a.addrs("addr"),
		Primary:        a.addr("primary"),
		NoPreempt:      a.flag("nopreempt"),
		PreemptDelay:   a.dur(-1, "delay", 0),
		RFC5798:        a.flag("rfc5798"),
		AcceptMode:     a.flag("accept"),
	}
	if pw, ok := a["auth"]; ok {
		c.AuthType = packet.AuthPass
		copy(c.AuthData[:], pw)
	}
	if a["checksum"] == "message" {
		c.Checksum = packet.ChecksumMessage
	}
	m, err := vrrp.NewMachine(c)
	if err != nil {
		s.printf("error: %v\n", err)
		return
	}
	s.m, s.cfg, s.now = m, m.Config(), mt0
	s.printf("ok\n")
}

// advance moves virtual time by d, calling Tick at every deadline on the
// way, in order.
func (s *scenario) advance(d time.Duration) {
	end := s.now.Add(d)
	for i := 0; ; i++ {
		if i > 100000 {
			panic("Tick does not move the deadline")
		}
		dl := s.m.Deadline()
		if dl.IsZero() || dl.After(end) {
			break
		}
		if dl.Before(s.now) {
			dl = s.now
		}
		s.now = dl
		s.actions(s.now, s.m.Tick(s.now))
	}
	s.now = end
}

func (s *scenario) recv(a scenarioArgs) {
	adv := mtAdv(s.cfg, uint8(a.int(-1, "prio", 100)))
	if v, ok := a["version"]; ok {
		n, _ := strconv.Atoi(v)
		adv.Version = uint8(n)
	}
	adv.VRID = uint8(a.int(-1, "vrid", int(s.cfg.VRID)))
	adv.Type = packet.Type(a.int(-1, "type", 1))
	if iv, ok := a["interval"]; ok {
		d, err := time.ParseDuration(iv)
		if err != nil {
			panic(err)
		}
		if adv.Version == 2 {
			adv.MaxAdvertInt = uint16(d / time.Second)
		} else {
			adv.MaxAdvertInt = uint16(d / (10 * time.Millisecond))
		}
	}
	if _, ok := a["addrs"]; ok {
		adv.Addrs = a.addrs("addrs")
	}
	if pw, ok := a["auth"]; ok {
		adv.AuthType = packet.AuthPass
		adv.AuthData = [8]byte{}
		if pw == "none" {
			adv.AuthType = packet.AuthNone
		} else {
			copy(adv.AuthData[:], pw)
		}
	}
	info := packet.Info{Checksum: packet.ChecksumPseudoHeader}
	switch a["checksum"] {
	case "message":
		info.Checksum = packet.ChecksumMessage
	case "unknown":
		info.Checksum = packet.ChecksumUnknown
	}
	info.NoLinkLocalFirst = a.flag("nolinklocal")
	ttl := a.int(-1, "ttl", 255)
	s.actions(s.now, s.m.Receive(s.now, adv, a.addr("from"), ttl, info))
}

// stats prints the non-zero fields of Stats, one per line.
func (s *scenario) stats() {
	st := s.m.Stats()
	v := reflect.ValueOf(st)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		if name == "DiscontinuityTime" {
			if t := f.Interface().(time.Time); !t.IsZero() {
				s.printf("%s=%s\n", name, s.since(t))
			}
			continue
		}
		if f.IsZero() {
			continue
		}
		s.printf("%s=%v\n", name, f.Interface())
	}
}

// scenarioArgs holds key=value arguments; positional ones are keyed "0",
// "1", ...; bare words map to "".
type scenarioArgs map[string]string

func parseArgs(fields []string) scenarioArgs {
	a := scenarioArgs{}
	pos := 0
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			a[k] = v
			continue
		}
		a[f] = ""
		a[strconv.Itoa(pos)] = f
		pos++
	}
	return a
}

func (a scenarioArgs) pos(i int) string { return a[strconv.Itoa(i)] }

func (a scenarioArgs) get(pos int, key string) (string, bool) {
	if pos >= 0 {
		v, ok := a[strconv.Itoa(pos)]
		return v, ok
	}
	v, ok := a[key]
	return v, ok
}

func (a scenarioArgs) int(pos int, key string, def int) int {
	v, ok := a.get(pos, key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		panic(fmt.Sprintf("%s=%q: %v", key, v, err))
	}
	return n
}

func (a scenarioArgs) dur(pos int, key string, def time.Duration) time.Duration {
	v, ok := a.get(pos, key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic(fmt.Sprintf("%s=%q: %v", key, v, err))
	}
	return d
}

func (a scenarioArgs) flag(key string) bool { _, ok := a[key]; return ok }

func (a scenarioArgs) addr(key string) netip.Addr {
	v, ok := a[key]
	if !ok || v == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(v)
}

func (a scenarioArgs) addrs(key string) []netip.Addr {
	v, ok := a[key]
	if !ok || v == "" {
		return nil
	}
	var out []netip.Addr
	for _, s := range strings.Split(v, ",") {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}
