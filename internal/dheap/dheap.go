// Package dheap is the one binary min-heap of the module: deadlines of
// virtual routers (vrrp), timers of the fake clock (clock), and the
// events of the simulation (internal/sim). Its elements know their own
// index, so that moving or removing one is O(log n), and it allocates
// nothing once its slice has grown.
package dheap

// Heap is a binary min-heap ordered by less. index returns a pointer to
// the element's position in the heap, which the heap keeps up to date:
// -1 while the element is not in it (set it to -1 before the first Fix).
// index may be nil for a heap used with Push, Min and Pop only (values
// that do not know their place; Fix and Remove then panic).
type Heap[T any] struct {
	less  func(a, b T) bool
	index func(T) *int
	s     []T
}

// New returns an empty Heap.
func New[T any](less func(a, b T) bool, index func(T) *int) Heap[T] {
	return Heap[T]{less: less, index: index}
}

// Len returns the number of elements.
func (h *Heap[T]) Len() int { return len(h.s) }

// Min returns the least element; the heap must not be empty.
func (h *Heap[T]) Min() T { return h.s[0] }

// At returns the i'th element in heap order (0 is the least).
func (h *Heap[T]) At(i int) T { return h.s[i] }

// Push adds x, which must not be in the heap.
func (h *Heap[T]) Push(x T) {
	i := len(h.s)
	h.s = append(h.s, x)
	if h.index != nil {
		*h.index(x) = i
	}
	h.up(i)
}

// Fix restores the order after x's key changed, adding x if it is not in
// the heap.
func (h *Heap[T]) Fix(x T) {
	i := *h.index(x)
	if i < 0 {
		h.Push(x)
		return
	}
	h.down(i)
	h.up(i)
}

// Remove removes x if it is in the heap.
func (h *Heap[T]) Remove(x T) {
	i := *h.index(x)
	if i < 0 {
		return
	}
	last := len(h.s) - 1
	if i != last {
		h.swap(i, last)
	}
	var zero T
	h.s[last] = zero
	h.s = h.s[:last]
	*h.index(x) = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// Pop removes and returns the least element; the heap must not be empty.
func (h *Heap[T]) Pop() T {
	x := h.s[0]
	last := len(h.s) - 1
	if last > 0 {
		h.swap(0, last)
	}
	var zero T
	h.s[last] = zero
	h.s = h.s[:last]
	if h.index != nil {
		*h.index(x) = -1
	}
	if last > 0 {
		h.down(0)
	}
	return x
}

func (h *Heap[T]) swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	if h.index != nil {
		*h.index(h.s[i]), *h.index(h.s[j]) = i, j
	}
}

func (h *Heap[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.s[i], h.s[p]) {
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
		if r := l + 1; r < n && h.less(h.s[r], h.s[l]) {
			m = r
		}
		if !h.less(h.s[m], h.s[i]) {
			return
		}
		h.swap(i, m)
		i = m
	}
}
