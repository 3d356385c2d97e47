package vrrp_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/dheap"
	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/vrrp"
)

var rawSeeds = flag.Int("rawseeds", 2000, "seeds of TestRawRouterChaos")

// chaosVR is one virtual router every node of the chaos test runs.
type chaosVR struct {
	name, iface, group string
	vrid               uint8
	v6                 bool
}

var chaosVRs = []chaosVR{
	{"a", "eth0", "g", 1, false},
	{"b", "eth1", "g", 2, false},
	{"c", "eth0", "", 1, true}, // the same VRID as a, the other family
	{"d", "eth1", "", 3, false},
}

// chaosNode is one RawRouter and what the checker knows of its virtual
// routers.
type chaosNode struct {
	idx   int
	rr    *vrrp.RawRouter
	conn  transport.Conn
	state map[string]vrrp.State // from the transitions seen
	held  map[string]bool       // between Take and Release
	there map[string]bool       // between Added and Removed
	prio  map[string]uint8
}

type chaosDelivery struct {
	from int
	to   int
	b    []byte
	meta transport.Meta
}

type chaosRun struct {
	t        *testing.T
	seed     uint64
	rng      *rand.Rand
	now      time.Time
	nodes    []*chaosNode
	q        dheap.Heap[chaosDelivery]
	seq      uint64
	loss     float64
	group    []int // partition group of each node
	failed   bool
	transits int
}

func (c *chaosRun) fail(format string, args ...any) {
	if !c.failed {
		c.t.Errorf("seed %d at %v: "+format, append([]any{c.seed, c.now.Sub(mt0)}, args...)...)
	}
	c.failed = true
}

func (c *chaosRun) cfg(n *chaosNode, v chaosVR) vrrp.Config {
	cfg := vrrp.Config{VRID: v.vrid, Priority: n.prio[v.name], AdvertInterval: 200 * time.Millisecond}
	if v.v6 {
		cfg.Primary = netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(n.idx + 1)})
		cfg.Addrs = []netip.Addr{netip.MustParseAddr("fe80::100")}
	} else {
		cfg.Primary = netip.AddrFrom4([4]byte{192, 0, 2, byte(n.idx + 1)})
		cfg.Addrs = []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, 100 + v.vrid})}
	}
	return cfg
}

func (c *chaosRun) add(n *chaosNode, v chaosVR) {
	err := n.rr.Add(c.now, vrrp.VirtualRouter{Name: v.name, Conn: n.conn, Interface: v.iface, SyncGroup: v.group, Config: c.cfg(n, v)})
	if err != nil {
		c.fail("node %d Add(%s): %v", n.idx, v.name, err)
	}
}

// process checks and carries out a node's Ready.
func (c *chaosRun) process(n *chaosNode) {
	rd := n.rr.Ready()
	for _, o := range rd.Sends {
		if o.Conn != n.conn {
			c.fail("node %d sends on a Conn not its own", n.idx)
		}
		for _, m := range o.Msgs {
			for _, to := range c.nodes {
				if to == n || c.group[to.idx] != c.group[n.idx] || c.rng.Float64() < c.loss {
					continue
				}
				c.seq++
				c.q.Push(c.now.Add(time.Duration(c.rng.IntN(3))*time.Millisecond), c.seq, chaosDelivery{
					from: n.idx, to: to.idx, b: append([]byte(nil), m.Buf...), meta: transport.Meta{Src: m.Meta.Src, Dst: m.Meta.Dst, TTL: 255}}, nil)
			}
		}
	}
	// The last transition of a sync group member that its group follows
	// (to Master, or Master to Backup, not itself a follower's).
	var lead string
	var leadTo vrrp.State
	for _, h := range rd.Host {
		name := h.VR.Name
		if h.Kind == vrrp.HostTransition && (name == "a" || name == "b") && h.Event.Reason != vrrp.ReasonSyncGroup {
			switch {
			case h.Event.To == vrrp.Master:
				lead, leadTo = name, vrrp.Master
			case h.Event.From == vrrp.Master && h.Event.To == vrrp.Backup:
				lead, leadTo = name, vrrp.Backup
			default:
				lead = ""
			}
		}
		switch h.Kind {
		case vrrp.HostAdded:
			if n.there[name] {
				c.fail("node %d: %s added twice", n.idx, name)
			}
			n.there[name], n.state[name] = true, vrrp.Initialize
		case vrrp.HostRemoved:
			if !n.there[name] || n.held[name] || n.state[name] != vrrp.Initialize {
				c.fail("node %d: %s removed (there %v, held %v, %v)", n.idx, name, n.there[name], n.held[name], n.state[name])
			}
			delete(n.there, name)
			delete(n.state, name)
		case vrrp.HostTransition:
			c.transits++
			ev := h.Event
			if !n.there[name] {
				c.fail("node %d: transition of %s, not added", n.idx, name)
			}
			if ev.From != n.state[name] || ev.From == ev.To {
				c.fail("node %d: %s %v->%v after a transition to %v", n.idx, name, ev.From, ev.To, n.state[name])
			}
			if ev.From == vrrp.Master && n.held[name] {
				c.fail("node %d: %s left Master holding its addresses", n.idx, name)
			}
			if !ev.Time.Equal(c.now) {
				c.fail("node %d: %s transition stamped %v", n.idx, name, ev.Time.Sub(mt0))
			}
			n.state[name] = ev.To
		case vrrp.HostTake:
			if n.held[name] || n.state[name] != vrrp.Master {
				c.fail("node %d: %s Take (held %v) in %v", n.idx, name, n.held[name], n.state[name])
			}
			n.held[name] = true
		case vrrp.HostRelease:
			if !n.held[name] {
				c.fail("node %d: %s Release without Take", n.idx, name)
			}
			n.held[name] = false
		case vrrp.HostAnnounce:
			if !n.held[name] || n.state[name] != vrrp.Master {
				c.fail("node %d: %s Announce (held %v) in %v", n.idx, name, n.held[name], n.state[name])
			}
		}
	}
	for name, st := range n.state {
		if got, err := n.rr.State(name); err != nil || got != st {
			c.fail("node %d: %s State %v, %v; transitions say %v", n.idx, name, got, err, st)
		}
	}
	// The group followed its member: the other went to Master from Backup,
	// or left Master for Backup, with it.
	if lead != "" {
		other := map[string]string{"a": "b", "b": "a"}[lead]
		if st, ok := n.state[other]; ok && n.state[lead] == leadTo {
			if leadTo == vrrp.Master && st == vrrp.Backup || leadTo == vrrp.Backup && st == vrrp.Master {
				c.fail("node %d: %s went to %v, %s stayed %v", n.idx, lead, leadTo, other, st)
			}
		}
	}
	// A sync group member is in Fault while another is in a fault of its
	// own; checked through the members' states: never Master beside a
	// member in Fault.
	if n.state["a"] == vrrp.Master && n.state["b"] == vrrp.Fault || n.state["b"] == vrrp.Master && n.state["a"] == vrrp.Fault {
		c.fail("node %d: sync group split between Master and Fault: a %v b %v", n.idx, n.state["a"], n.state["b"])
	}
	n.rr.Advance()
	if d := n.rr.Deadline(); !d.IsZero() && !d.After(c.now) && !c.failed {
		// Allowed only until the next Tick, which the loop does at once.
		_ = d
	}
}

// runUntil delivers packets and ticks the RawRouters until end.
func (c *chaosRun) runUntil(end time.Time) {
	for !c.failed {
		next, which := end, -1
		if c.q.Len() > 0 && c.q.MinAt().Before(next) {
			next = c.q.MinAt()
		}
		for i, n := range c.nodes {
			if d := n.rr.Deadline(); !d.IsZero() && d.Before(next) {
				next, which = d, i
			}
		}
		_ = which
		if next.Before(c.now) {
			c.fail("time went back to %v", next.Sub(mt0))
			return
		}
		c.now = next
		for c.q.Len() > 0 && !c.q.MinAt().After(c.now) {
			d := c.q.Pop()
			to := c.nodes[d.to]
			if c.group[d.from] != c.group[d.to] {
				continue // partitioned while in flight
			}
			to.rr.Receive(c.now, to.conn, d.b, d.meta)
			c.process(to)
		}
		for _, n := range c.nodes {
			n.rr.Tick(c.now)
			c.process(n)
			if d := n.rr.Deadline(); !d.IsZero() && !d.After(c.now) {
				c.fail("node %d: Deadline %v not after now after Tick", n.idx, d.Sub(mt0))
			}
		}
		if !c.now.Before(end) {
			return
		}
	}
}

// chaos runs one seed: three nodes, random faults, priority changes,
// Add/Remove, Shutdown/Start, partitions and loss for 30 virtual seconds,
// then everything healed for 5: each virtual router then has exactly one
// master, and a sync group's members are master on the same node.
func chaos(t *testing.T, seed uint64) (transitions int, ok bool) {
	c := &chaosRun{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x11)), now: mt0}
	const nn = 3
	c.group = make([]int, nn)
	for i := range nn {
		n := &chaosNode{idx: i, rr: vrrp.NewRawRouter(vrrp.RawConfig{}), conn: keyConn{fmt.Sprint("n", i)},
			state: map[string]vrrp.State{}, held: map[string]bool{}, there: map[string]bool{}, prio: map[string]uint8{}}
		for _, v := range chaosVRs {
			n.prio[v.name] = uint8(50 + 50*i) // a and b equal on a node
			c.add(n, v)
		}
		n.rr.StartAll(c.now)
		c.process(n)
		c.nodes = append(c.nodes, n)
	}
	removed := map[[2]int]bool{}
	for step := 0; step < 60 && !c.failed; step++ {
		c.runUntil(c.now.Add(time.Duration(c.rng.IntN(1000)) * time.Millisecond))
		n := c.nodes[c.rng.IntN(nn)]
		vi := c.rng.IntN(len(chaosVRs))
		v := chaosVRs[vi]
		var err error
		switch c.rng.IntN(9) {
		case 0:
			p := uint8(1 + c.rng.IntN(254))
			n.prio[v.name] = p
			err = n.rr.SetPriority(c.now, v.name, p)
		case 1:
			err = n.rr.SetFault(c.now, v.name, c.rng.IntN(2) == 0)
		case 2:
			err = n.rr.InterfaceDown(c.now, v.iface)
		case 3:
			err = n.rr.InterfaceUp(c.now, v.iface)
		case 4:
			if removed[[2]int{n.idx, vi}] {
				c.add(n, v)
				delete(removed, [2]int{n.idx, vi})
			} else {
				err = n.rr.Remove(c.now, v.name)
				removed[[2]int{n.idx, vi}] = true
			}
		case 5:
			err = n.rr.Shutdown(c.now, v.name)
		case 6:
			err = n.rr.Start(c.now, v.name)
		case 7:
			for i := range c.group {
				c.group[i] = c.rng.IntN(2)
			}
		case 8:
			c.loss = []float64{0, 0, 0.1, 0.5}[c.rng.IntN(4)]
		}
		if err != nil && !removed[[2]int{n.idx, vi}] {
			c.fail("node %d %s: %v", n.idx, v.name, err)
		}
		c.process(n)
	}
	// Heal: every virtual router back, started, no fault, no partition,
	// no loss, a and b of a node at one priority (distinct per node).
	c.loss = 0
	for i := range c.group {
		c.group[i] = 0
	}
	for _, n := range c.nodes {
		for vi, v := range chaosVRs {
			if removed[[2]int{n.idx, vi}] {
				c.add(n, v)
			}
			if err := n.rr.SetFault(c.now, v.name, false); err != nil {
				c.fail("heal: %v", err)
			}
			n.rr.SetPriority(c.now, v.name, uint8(50+50*n.idx))
			n.rr.Start(c.now, v.name)
		}
		n.rr.InterfaceUp(c.now, "eth0")
		n.rr.InterfaceUp(c.now, "eth1")
		c.process(n)
	}
	c.runUntil(c.now.Add(5 * time.Second))
	for _, v := range chaosVRs {
		var masters []int
		for _, n := range c.nodes {
			if n.state[v.name] == vrrp.Master {
				masters = append(masters, n.idx)
			}
		}
		if len(masters) != 1 {
			c.fail("after healing, %s is master on nodes %v", v.name, masters)
		}
	}
	for _, n := range c.nodes {
		if n.state["a"] != n.state["b"] {
			c.fail("after healing, node %d's sync group is split: a %v b %v", n.idx, n.state["a"], n.state["b"])
		}
	}
	return c.transits, !c.failed
}

// TestRawRouterChaos runs seeded chaos over three RawRouters: sync groups,
// fault holds (SetFault, interfaces), priority changes, Add and Remove,
// Shutdown and Start while running, partitions and loss. Throughout, each
// virtual router's transitions form one chain, addresses are taken only
// as master and released before leaving it, nothing happens to a virtual
// router outside Added..Removed, State agrees with the transitions, a
// sync group is never Master beside a member in Fault, and deadlines move
// on; once healed, each virtual router has one master and each sync group
// moves as one. -rawseeds sets the number of seeds (2,000 by default).
func TestRawRouterChaos(t *testing.T) {
	seeds := *rawSeeds
	if raceEnabled && seeds == 2000 {
		seeds = 200 // the race detector's run checks the races, not the seeds
	}
	total := 0
	for seed := range uint64(seeds) {
		n, ok := chaos(t, seed)
		total += n
		if !ok {
			break
		}
	}
	if total < seeds*10 {
		t.Errorf("%d transitions in %d seeds: the chaos does too little", total, seeds)
	}
}
