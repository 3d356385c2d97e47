package dheap

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type item struct {
	at  time.Time
	idx int
}

// TestHeap checks the heap against a slice through random pushes, fixes,
// removals and pops.
func TestHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Heap[*item]
	var in []*item
	check := func() {
		t.Helper()
		if h.Len() != len(in) {
			t.Fatalf("Len %d, want %d", h.Len(), len(in))
		}
		for i := range h.s {
			if *h.s[i].idx != i || h.s[i].v.at.UnixNano() != h.s[i].at {
				t.Fatalf("element %d: index %d", i, *h.s[i].idx)
			}
			if i > 0 && h.s[i].before(&h.s[(i-1)/2]) {
				t.Fatalf("element %d is less than its parent", i)
			}
		}
	}
	at := func() time.Time { return t0.Add(time.Duration(rng.IntN(100)) * time.Second) }
	for range 20000 {
		switch op := rng.IntN(4); {
		case op == 0 || len(in) == 0:
			x := &item{at: at(), idx: -1}
			h.Push(x.at, 0, x, &x.idx)
			in = append(in, x)
		case op == 1:
			x := in[rng.IntN(len(in))]
			x.at = at()
			h.Fix(x.idx, x.at)
		case op == 2:
			i := rng.IntN(len(in))
			if h.Remove(in[i].idx) != in[i] || in[i].idx != -1 {
				t.Fatal("Remove returned another element or left an index")
			}
			in = slices.Delete(in, i, i+1)
		default:
			least := slices.MinFunc(in, func(a, b *item) int { return a.at.Compare(b.at) })
			if !h.MinAt().Equal(least.at) {
				t.Fatalf("MinAt = %v, want %v", h.MinAt(), least.at)
			}
			x := h.Pop()
			if !x.at.Equal(least.at) || x.idx != -1 {
				t.Fatalf("Pop = %v (index %d), want %v", x.at, x.idx, least.at)
			}
			in = slices.DeleteFunc(in, func(y *item) bool { return y == x })
		}
		check()
	}
}

// TestHeapSequence: values without an index, ties broken by sequence.
func TestHeapSequence(t *testing.T) {
	var h Heap[string]
	h.Push(t0.Add(2), 1, "c", nil)
	h.Push(t0.Add(1), 3, "b", nil)
	h.Push(t0.Add(1), 2, "a", nil)
	h.Push(t0.Add(3), 0, "d", nil)
	var got []string
	for h.Len() > 0 {
		got = append(got, h.Pop())
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("popped %v", got)
	}
}

// BenchmarkFix moves elements of a 255-element heap, as a backup
// RawRouter does for every advertisement.
func BenchmarkFix(b *testing.B) {
	var h Heap[*item]
	items := make([]*item, 255)
	for i := range items {
		items[i] = &item{at: t0.Add(time.Duration(i) * time.Millisecond), idx: -1}
		h.Push(items[i].at, 0, items[i], &items[i].idx)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		x := items[i%255]
		x.at = x.at.Add(3 * time.Second)
		h.Fix(x.idx, x.at)
	}
}
