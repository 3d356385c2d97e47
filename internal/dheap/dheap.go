// Package dheap is the one binary min-heap of the module, of values by
// deadline: the timers of virtual routers (vrrp's RawRouter), of the fake
// clock (clock), the packets in flight of the in-memory LAN
// (transport/memnet) and the events of the simulation (internal/sim).
// Elements are ordered by time (to the nanosecond, as UnixNano, between
// the years 1678 and 2262), then by a sequence number the caller gives (0
// for all: ties go by the heap's structure). An element may know
// its own position (an index the heap keeps up to date), so that moving
// or removing it is O(log n). Comparisons are inline, not calls, and
// nothing is allocated once the slice has grown: it is on the hot path.
package dheap

import "time"

// Heap is a binary min-heap of T by (time, sequence). The zero value is
// an empty heap.
type Heap[T any] struct {
	s []entry[T]
}

// An entry's time is kept as nanoseconds since the Unix epoch: comparing
// two integers is what makes the heap cheap (time.Time's Before and Equal
// weigh its monotonic reading and are not inlined here).
type entry[T any] struct {
	at  int64
	seq uint64
	idx *int // the element's index, kept up to date; nil if it keeps none
	v   T
}

func (e *entry[T]) before(o *entry[T]) bool {
	return e.at < o.at || e.at == o.at && e.seq < o.seq
}

// Len returns the number of elements.
func (h *Heap[T]) Len() int { return len(h.s) }

// MinAt returns the least element's time, in UTC and without a monotonic
// clock reading (compare it with Before, After and Equal, not ==); the
// heap must not be empty.
func (h *Heap[T]) MinAt() time.Time { return time.Unix(0, h.s[0].at).UTC() }

// Min returns the least element; the heap must not be empty.
func (h *Heap[T]) Min() T { return h.s[0].v }

// Push adds v at time at with sequence number seq. If idx is not nil the
// heap keeps *idx the element's index (for Fix and Remove) and sets it to
// -1 when the element leaves.
func (h *Heap[T]) Push(at time.Time, seq uint64, v T, idx *int) {
	i := len(h.s)
	h.s = append(h.s, entry[T]{at: at.UnixNano(), seq: seq, idx: idx, v: v})
	if idx != nil {
		*idx = i
	}
	h.up(i)
}

// Fix moves the element at index i to time at.
func (h *Heap[T]) Fix(i int, at time.Time) {
	h.s[i].at = at.UnixNano()
	h.down(i)
	h.up(i)
}

// Remove removes and returns the element at index i.
func (h *Heap[T]) Remove(i int) T {
	last := len(h.s) - 1
	if i != last {
		h.swap(i, last)
	}
	e := h.s[last]
	h.s[last] = entry[T]{}
	h.s = h.s[:last]
	if e.idx != nil {
		*e.idx = -1
	}
	if i != last {
		h.down(i)
		h.up(i)
	}
	return e.v
}

// Pop removes and returns the least element; the heap must not be empty.
func (h *Heap[T]) Pop() T { return h.Remove(0) }

func (h *Heap[T]) swap(i, j int) {
	s := h.s
	s[i], s[j] = s[j], s[i]
	if s[i].idx != nil {
		*s[i].idx = i
	}
	if s[j].idx != nil {
		*s[j].idx = j
	}
}

func (h *Heap[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.s[i].before(&h.s[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *Heap[T]) down(i int) {
	n := len(h.s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.s[r].before(&h.s[l]) {
			m = r
		}
		if !h.s[m].before(&h.s[i]) {
			return
		}
		h.swap(i, m)
		i = m
	}
}
