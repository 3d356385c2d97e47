package dheap

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type item struct {
	key, idx int
}

// TestHeap checks the heap against a sorted slice through random pushes,
// fixes, removals and pops.
func TestHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := New(func(a, b *item) bool { return a.key < b.key }, func(x *item) *int { return &x.idx })
	var in []*item
	check := func() {
		t.Helper()
		if h.Len() != len(in) {
			t.Fatalf("Len %d, want %d", h.Len(), len(in))
		}
		for i := range h.Len() {
			if x := h.At(i); h.s[x.idx] != x {
				t.Fatalf("index of element %d is %d", i, x.idx)
			}
			if i > 0 && h.less(h.At(i), h.At((i-1)/2)) {
				t.Fatalf("element %d is less than its parent", i)
			}
		}
	}
	for range 20000 {
		switch op := rng.IntN(4); {
		case op == 0 || len(in) == 0:
			x := &item{key: rng.IntN(100), idx: -1}
			h.Fix(x)
			in = append(in, x)
		case op == 1:
			x := in[rng.IntN(len(in))]
			x.key = rng.IntN(100)
			h.Fix(x)
		case op == 2:
			i := rng.IntN(len(in))
			h.Remove(in[i])
			h.Remove(in[i]) // twice: a no-op
			if in[i].idx != -1 {
				t.Fatal("removed element keeps an index")
			}
			in = slices.Delete(in, i, i+1)
		default:
			min := slices.MinFunc(in, func(a, b *item) int { return a.key - b.key })
			x := h.Pop()
			if x.key != min.key {
				t.Fatalf("Pop = %d, want %d", x.key, min.key)
			}
			in = slices.DeleteFunc(in, func(y *item) bool { return y == x })
		}
		check()
	}
}

// TestHeapValues: without an index, Push and Pop order values.
func TestHeapValues(t *testing.T) {
	h := New(func(a, b int) bool { return a < b }, nil)
	for _, v := range []int{5, 3, 9, 1, 1, 7} {
		h.Push(v)
	}
	var got []int
	for h.Len() > 0 {
		got = append(got, h.Pop())
	}
	if !slices.Equal(got, []int{1, 1, 3, 5, 7, 9}) {
		t.Errorf("popped %v", got)
	}
}
