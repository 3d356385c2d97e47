package vrrp_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

// TestRawScenarios replays the scripts in testdata/rawscenarios as
// TestScenarios does (same format; -update rewrites them), each driving
// several RawRouters on one LAN: every advertisement one writes reaches
// every other at once. Commands (virtual time starts at 0):
//
//	router R                      a new RawRouter named R
//	add R NAME vrid=N prio=N addr=A[,A] primary=A [iface=I] [group=G] [interval=D]
//	remove R NAME | setprio R NAME N | fault R NAME on|off
//	start R [NAME]                StartAll, or Start of one
//	shutdown R [NAME]             ShutdownAll, or Shutdown of one
//	ifdown R I | ifup R I
//	advance D                     advance virtual time by D, ticking every RawRouter
//	                              at each deadline and delivering what it sends
//	state                         every virtual router's state
//
// Output: what each RawRouter's Ready asks for, as "T R: ...".
func TestRawScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/rawscenarios/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata/rawscenarios")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			blocks := parseScenarios(t, file)
			s := &rawScenario{now: mt0, byName: map[string]*rawScenarioRouter{}}
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
		})
	}
}

type rawScenarioRouter struct {
	name  string
	rr    *vrrp.RawRouter
	conn  transport.Conn
	names []string // virtual routers, in the order added
}

type rawScenario struct {
	now     time.Time
	routers []*rawScenarioRouter
	byName  map[string]*rawScenarioRouter
	out     strings.Builder
}

func (s *rawScenario) printf(format string, args ...any) { fmt.Fprintf(&s.out, format, args...) }

func (s *rawScenario) router(name string) *rawScenarioRouter {
	r := s.byName[name]
	if r == nil {
		panic(fmt.Sprintf("no router %q", name))
	}
	return r
}

// flush prints and carries out every Ready until all are empty.
func (s *rawScenario) flush() {
	at := s.now.Sub(mt0)
	for again := true; again; {
		again = false
		for _, r := range s.routers {
			rd := r.rr.Ready()
			if rd.Empty() {
				continue
			}
			again = true
			for _, o := range rd.Sends {
				for _, m := range o.Msgs {
					adv, _, err := packet.Parse(m.Buf, m.Meta.Src, m.Meta.Dst)
					if err != nil {
						panic(err)
					}
					s.printf("%v %s: send vrid=%d prio=%d src=%v\n", at, r.name, adv.VRID, adv.Priority, m.Meta.Src)
					for _, o := range s.routers {
						if o != r {
							o.rr.Receive(s.now, o.conn, m.Buf, transport.Meta{Src: m.Meta.Src, Dst: m.Meta.Dst, TTL: 255})
						}
					}
				}
			}
			for _, h := range rd.Host {
				switch h.Kind {
				case vrrp.HostTransition:
					ev := h.Event
					s.printf("%v %s: %s %v->%v %v", at, r.name, ev.Name, ev.From, ev.To, ev.Reason)
					if ev.Peer.IsValid() {
						s.printf(" peer=%v/%d", ev.Peer, ev.PeerPriority)
					}
					s.printf("\n")
				default:
					s.printf("%v %s: %v %s prio=%d\n", at, r.name, h.Kind, h.VR.Name, h.VR.Priority)
				}
			}
			for _, n := range rd.Notes {
				switch {
				case n.SecondMaster:
					s.printf("%v %s: note %s second master %v prio=%d\n", at, r.name, n.Name, n.Src, n.Priority)
				case n.Repeats > 0:
					s.printf("%v %s: note %s %v%v%v%s repeated %d in %v\n", at, r.name, n.Name, n.Kind, n.Anomaly, n.Err, n.Why, n.Repeats, n.Period)
				default:
					s.printf("%v %s: note %s %v%v%v%s\n", at, r.name, n.Name, n.Kind, n.Anomaly, n.Err, n.Why)
				}
			}
			for _, c := range rd.Closed {
				s.printf("%v %s: close %v\n", at, r.name, c)
			}
			r.rr.Advance()
		}
	}
}

func (s *rawScenario) advance(d time.Duration) {
	end := s.now.Add(d)
	for {
		next := end
		for _, r := range s.routers {
			if dl := r.rr.Deadline(); !dl.IsZero() && dl.Before(next) {
				next = dl
			}
		}
		s.now = next
		for _, r := range s.routers {
			r.rr.Tick(s.now)
		}
		s.flush()
		if !s.now.Before(end) {
			return
		}
	}
}

func (s *rawScenario) run(line string) (out string) {
	s.out.Reset()
	defer func() {
		if r := recover(); r != nil {
			s.printf("error: %v\n", r)
		}
		out = s.out.String()
	}()
	f := strings.Fields(line)
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	arg := func(i int) string {
		if i >= len(f) {
			panic(fmt.Sprintf("%s: missing argument %d", f[0], i))
		}
		return f[i]
	}
	switch f[0] {
	case "router":
		r := &rawScenarioRouter{name: arg(1), rr: vrrp.NewRawRouter(vrrp.RawConfig{Notes: true}), conn: keyConn{arg(1)}}
		s.routers = append(s.routers, r)
		s.byName[r.name] = r
	case "add":
		r := s.router(arg(1))
		vr := vrrp.VirtualRouter{Name: arg(2), Conn: r.conn, Interface: "eth0"}
		cfg := &vr.Config
		for _, kv := range f[3:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "vrid":
				var n uint8
				fmt.Sscan(v, &n)
				cfg.VRID = n
			case "prio":
				var n uint8
				fmt.Sscan(v, &n)
				cfg.Priority = n
			case "addr":
				for _, a := range strings.Split(v, ",") {
					cfg.Addrs = append(cfg.Addrs, netip.MustParseAddr(a))
				}
			case "primary":
				cfg.Primary = netip.MustParseAddr(v)
			case "iface":
				vr.Interface = v
			case "group":
				vr.SyncGroup = v
			case "interval":
				d, err := time.ParseDuration(v)
				must(err)
				cfg.AdvertInterval = d
			default:
				panic("unknown key " + k)
			}
		}
		must(r.rr.Add(s.now, vr))
		r.names = append(r.names, vr.Name)
	case "remove":
		r := s.router(arg(1))
		must(r.rr.Remove(s.now, arg(2)))
		r.names = slices.DeleteFunc(r.names, func(n string) bool { return n == f[2] })
	case "setprio":
		var n uint8
		fmt.Sscan(arg(3), &n)
		must(s.router(arg(1)).rr.SetPriority(s.now, arg(2), n))
	case "fault":
		must(s.router(arg(1)).rr.SetFault(s.now, arg(2), arg(3) == "on"))
	case "start":
		if len(f) > 2 {
			must(s.router(arg(1)).rr.Start(s.now, f[2]))
		} else {
			s.router(arg(1)).rr.StartAll(s.now)
		}
	case "shutdown":
		if len(f) > 2 {
			must(s.router(arg(1)).rr.Shutdown(s.now, f[2]))
		} else {
			s.router(arg(1)).rr.ShutdownAll(s.now)
		}
	case "ifdown":
		must(s.router(arg(1)).rr.InterfaceDown(s.now, arg(2)))
	case "ifup":
		must(s.router(arg(1)).rr.InterfaceUp(s.now, arg(2)))
	case "advance":
		d, err := time.ParseDuration(arg(1))
		must(err)
		s.advance(d)
		return
	case "state":
		for _, r := range s.routers {
			for _, n := range r.names {
				st, err := r.rr.State(n)
				must(err)
				m, _ := r.rr.Master(n)
				s.printf("%s %s: %v master=%v\n", r.name, n, st, m)
			}
		}
		return
	default:
		panic("unknown command " + f[0])
	}
	s.flush()
	return
}
