package main

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// summary gathers, per virtual router (VRID and address family), what
// -summary prints at the end: who was master when, the largest gap
// between advertisements, and counts per source. Only valid
// advertisements (err=none) count as advertisements; the others are
// counted as invalid.
type summary struct {
	routers map[routerKey]*router
}

// routerKey names a virtual router: a VRID of one family (an IPv4 and an
// IPv6 virtual router with the same VRID are distinct, RFC 9568 section
// 5.2.3).
type routerKey struct {
	v6   bool
	vrid uint8
}

type router struct {
	adverts, prio0, invalid int
	sources                 map[netip.Addr]*source
	order                   []netip.Addr // sources in order of appearance
	// last is the time of the last advertisement; gap the largest time
	// between two consecutive ones, from gapFrom to gapTo.
	last           time.Time
	gap            time.Duration
	gapFrom, gapTo time.Time
	// terms are the masters in turn: a term is a run of advertisements
	// from one source.
	terms []term
}

type source struct {
	adverts, prio0 int
	first, last    time.Time
}

// term is a run of consecutive advertisements from one source: that
// source was master from the first to the last (RFC 9568 section 6.4.3:
// only the master advertises).
type term struct {
	src      netip.Addr
	from, to time.Time
	adverts  int
	prio0    bool // the term ended with a priority-0 advertisement
}

func newSummary() *summary { return &summary{routers: map[routerKey]*router{}} }

func (s *summary) router(src netip.Addr, vrid uint8) *router {
	k := routerKey{v6: !src.Unmap().Is4(), vrid: vrid}
	r := s.routers[k]
	if r == nil {
		r = &router{sources: map[netip.Addr]*source{}}
		s.routers[k] = r
	}
	return r
}

// invalid counts an advertisement that failed validation.
func (s *summary) invalid(src netip.Addr, vrid uint8) { s.router(src, vrid).invalid++ }

// advert records a valid advertisement from src at t. Advertisements are
// taken in capture order; one captured earlier than the one before it
// (several interfaces of a pcapng file) opens no gap.
func (s *summary) advert(t time.Time, src netip.Addr, vrid, prio uint8) {
	r := s.router(src, vrid)
	if r.adverts > 0 {
		if g := t.Sub(r.last); g > r.gap {
			r.gap, r.gapFrom, r.gapTo = g, r.last, t
		}
	}
	r.adverts++
	r.last = t
	so := r.sources[src]
	if so == nil {
		so = &source{first: t}
		r.sources[src] = so
		r.order = append(r.order, src)
	}
	so.adverts++
	so.last = t
	if n := len(r.terms); n == 0 || r.terms[n-1].src != src || r.terms[n-1].prio0 && prio != 0 {
		r.terms = append(r.terms, term{src: src, from: t})
	}
	tm := &r.terms[len(r.terms)-1]
	tm.to = t
	tm.adverts++
	if prio == 0 {
		r.prio0++
		so.prio0++
		tm.prio0 = true
	}
}

// write prints the summary: for each virtual router (IPv4 first, then by
// VRID) a line with its totals and largest gap, a line per source, and a
// line per master term.
func (s *summary) write(w io.Writer) error {
	keys := make([]routerKey, 0, len(s.routers))
	for k := range s.routers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b routerKey) int {
		if a.v6 != b.v6 {
			if a.v6 {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.vrid, b.vrid)
	})
	var b []byte
	ts := func(key string, t time.Time) {
		b = append(b, key...)
		b = t.UTC().AppendFormat(b, timeFormat)
	}
	for _, k := range keys {
		r := s.routers[k]
		head := "summary vrid=" + strconv.Itoa(int(k.vrid)) + " family=ipv4"
		if k.v6 {
			head = head[:len(head)-1] + "6"
		}
		b = append(b, head...)
		b = fmt.Appendf(b, " adverts=%d prio0=%d invalid=%d sources=%d masters=%d maxgap=", r.adverts, r.prio0, r.invalid, len(r.order), len(r.terms))
		if r.adverts < 2 {
			b = append(b, '-')
		} else {
			b = append(b, r.gap.String()...)
			ts(" gapfrom=", r.gapFrom)
			ts(" gapto=", r.gapTo)
		}
		b = append(b, '\n')
		for _, src := range r.order {
			so := r.sources[src]
			b = append(b, head...)
			b = append(b, " source="...)
			b = src.AppendTo(b)
			b = fmt.Appendf(b, " adverts=%d prio0=%d", so.adverts, so.prio0)
			ts(" first=", so.first)
			ts(" last=", so.last)
			b = append(b, '\n')
		}
		for i, tm := range r.terms {
			b = append(b, head...)
			b = append(b, " master="...)
			b = tm.src.AppendTo(b)
			ts(" from=", tm.from)
			ts(" to=", tm.to)
			b = fmt.Appendf(b, " adverts=%d end=", tm.adverts)
			switch {
			case tm.prio0:
				b = append(b, "prio0"...) // it resigned
			case i == len(r.terms)-1:
				b = append(b, "capture-end"...) // still master when the capture ended
			default:
				b = append(b, "taken"...) // another router advertised
			}
			b = append(b, '\n')
		}
	}
	_, err := w.Write(b)
	return err
}
