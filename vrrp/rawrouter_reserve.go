package vrrp

import "github.com/govrrp/govrrp/packet"

// reserve makes room, when v is added, for what a step in which every
// virtual router sends and takes over at once puts in Ready: a Sends slot
// per Conn, the messages of v's Conn, the advertisements' bytes in the
// arena and three Host entries per virtual router (transition, take,
// announce). The room is written once, so that its pages are in memory.
//
// A takeover is often the first time a RawRouter sends anything (a
// backup that never was master): without the room, its first
// advertisement waited for that memory to be allocated and for its fresh
// pages to be faulted in, some tens of microseconds each on a virtual
// machine, which made the Router's takeover 0.1 ms later than the Router
// before it (internal/measure's Takeover at 10 ms; TestRawRouterTakeover-
// AllocatesNothing). Per virtual router it is a few hundred bytes; Remove
// gives its share back to those added later, but no capacity.
//
// The messages and Host entries are reserved for at most takeoverRoom
// virtual routers: one Conn shared by thousands of them (issue 12) would
// otherwise keep megabytes for a step that never comes, all of them
// taking over at once. A larger step allocates, and Advance gives that
// back after a quieter one (reuseRoom).
func (r *RawRouter) reserve(v *vrt) {
	r.rd.Sends = room(r.rd.Sends, len(r.conns))
	c := v.c
	need := 0
count:
	for f := range c.demux {
		for _, list := range c.demux[f] {
			for _, o := range list {
				if need += len(o.dsts); need >= takeoverRoom {
					break count // the room is bounded anyway
				}
			}
		}
	}
	c.msgs = room(c.msgs, min(need, takeoverRoom))
	r.roomHost += 3
	r.rd.Host = room(r.rd.Host, len(r.rd.Host)+r.hostRoom())
	r.roomBytes += len(v.dsts) * advLen(&v.m.cfg)
	r.arena = room(r.arena, len(r.arena)+r.roomBytes)
}

// unreserve gives back v's share of the room (the capacity stays, for
// the virtual routers to come).
func (r *RawRouter) unreserve(v *vrt) {
	r.roomHost -= 3
	r.roomBytes -= len(v.dsts) * advLen(&v.m.cfg)
}

// takeoverRoom is how many virtual routers' takeover in one step, or
// messages on one Conn in one step, the reserved room covers.
const takeoverRoom = 256

// hostRoom is the number of Host entries kept reserved.
func (r *RawRouter) hostRoom() int { return min(r.roomHost, 3*takeoverRoom) }

// reuseRoom empties s for the next round, keeping its array unless a
// burst made it much larger than both this round and the reserved room
// keep: starting thousands of virtual routers at once asks for thousands
// of host actions in one round, and their array (2 MB at 4,094) would
// otherwise stay for good (issue 12). It is then replaced by a fresh
// array of keep, written once (room), so that the next takeover neither
// allocates nor faults pages in.
//
// An array up to twice keep stays: room grows an array by a quarter at
// least, so that adding virtual routers one at a time, each Add (which
// reserves keep more than the entries pending) followed by an Advance,
// neither grows it by a few entries every time nor has Advance replace
// it every time (two arrays of 768 Host entries, 400 kB, per virtual
// router added: 1.3 GB of start-up garbage at 4,094 links;
// TestRawRouterAddAllocatesLittle).
func reuseRoom[T any](s []T, keep int) []T {
	if cap(s) > 2*max(64, keep) && len(s) < cap(s)/4 {
		return room([]T(nil), keep)
	}
	clear(s)
	return s[:0]
}

// reuseBurstRoom is reuseRoom for Ready.Host, whose bursts (thousands
// of virtual routers taking over, or starting, in one step) do not come
// back at the next step: an array much larger than keep is let go at the
// Advance of its own step, not kept until the next, quieter one. Held
// for an advertisement interval after a takeover of 4,094 links (2.5 MB
// of Host entries, 176 B each), it was marked live by a collection in
// that interval, which set the GC's heap goal above it (issue 12;
// TestRawRouterTakeoverBurstLetGo).
func reuseBurstRoom[T any](s []T, keep int) []T {
	if cap(s) > 2*max(64, keep) {
		return room([]T(nil), keep)
	}
	clear(s)
	return s[:0]
}

// grow returns s with a capacity of len(s)+extra: one array, whatever
// the build (slices.Grow also allocates a temporary array of extra
// elements under the race detector).
func grow[T any](s []T, extra int) []T {
	t := make([]T, len(s), len(s)+extra)
	copy(t, s)
	return t
}

// room returns s with a capacity of at least n, the elements beyond its
// length written (zeroed) once. A new array is a quarter larger than s's
// at least: reserving a little more for each virtual router added does
// not copy the whole array each time (quadratic in their number).
func room[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s
	}
	t := make([]T, len(s), max(n, cap(s)+cap(s)/4))
	copy(t, s)
	clear(t[len(t):cap(t)])
	return t
}

// advLen returns the length of an advertisement of cfg (defaults filled
// in).
func advLen(cfg *Config) int {
	n := packet.HeaderLen + 4*len(cfg.Addrs)
	if !cfg.Primary.Is4() {
		n = packet.HeaderLen + 16*len(cfg.Addrs)
	}
	if cfg.Version == 2 {
		n += packet.AuthDataLen
	}
	return n
}
