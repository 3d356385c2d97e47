package vrrp

import (
	"errors"
	"net/netip"
	"time"

	"github.com/govrrp/govrrp/packet"
)

// Diagnostics: the table of discarded advertisements by source, the
// second-master watch and the summarising of repeated log notes. All of
// it is RawRouter state, updated on the receive path without allocating.

// DiscardTableLen is the number of rows of the discarded-advertisement
// table (RawRouter.Discards).
const DiscardTableLen = 16

// Discard is one row of the discarded-advertisement table: the
// advertisements of one source dropped for one reason by one virtual
// router, so that "two clusters use the same VRID" (reason
// addressListMismatch, authentication, intervalMismatch) and "a host
// sends with TTL 64" (reason ttl) name the culprit.
type Discard struct {
	// Src is the packet's source address.
	Src netip.Addr
	// Reason is why it was dropped: an Anomaly name (ttl, version, vrid,
	// type, family, noAddresses, zeroInterval, authentication,
	// intervalMismatch, addressListMismatch, ownerReceived) or, for a
	// packet that did not parse, checksum or malformed.
	Reason string
	// Name, VRID and Interface are those of the virtual router the packet
	// was for (Name is empty for a packet of another version, dropped
	// before its virtual router is looked up).
	Name      string
	VRID      uint8
	Interface string
	// Count is how many were dropped since First; Last is the latest.
	Count       uint64
	First, Last time.Time
}

// discardStale is how long an unseen row is kept before any other is
// evicted for a new one.
const discardStale = 5 * time.Minute

// discardTable is a bounded table of Discards. When full, a new row
// replaces the least recently seen row unseen for discardStale, else the
// row with the smallest count (the least recent of those): a flood of one
// source keeps its row, a steady trickle of another keeps its own.
type discardTable struct {
	rows [DiscardTableLen]Discard
	n    int
}

func (t *discardTable) add(now time.Time, src netip.Addr, reason, name string, vrid uint8, ifname string) {
	for i := range t.n {
		d := &t.rows[i]
		if d.Src == src && d.Reason == reason && d.Name == name && d.VRID == vrid && d.Interface == ifname {
			d.Count++
			d.Last = now
			return
		}
	}
	i := t.n
	if i < len(t.rows) {
		t.n++
	} else {
		i = t.victim(now)
	}
	t.rows[i] = Discard{Src: src, Reason: reason, Name: name, VRID: vrid, Interface: ifname, Count: 1, First: now, Last: now}
}

func (t *discardTable) victim(now time.Time) int {
	stale, small := -1, 0
	for i := range t.n {
		d := &t.rows[i]
		if now.Sub(d.Last) >= discardStale && (stale < 0 || d.Last.Before(t.rows[stale].Last)) {
			stale = i
		}
		s := &t.rows[small]
		if d.Count < s.Count || d.Count == s.Count && d.Last.Before(s.Last) {
			small = i
		}
	}
	if stale >= 0 {
		return stale
	}
	return small
}

// list appends the rows to dst, largest count first.
func (t *discardTable) list(dst []Discard) []Discard {
	start := len(dst)
	dst = append(dst, t.rows[:t.n]...)
	s := dst[start:]
	// Insertion sort: at most DiscardTableLen rows.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].Count > s[j-1].Count || s[j].Count == s[j-1].Count && s[j].Last.After(s[j-1].Last)); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return dst
}

// parseReason names a packet.Unmarshal error for the discard table.
func parseReason(err error) string {
	switch {
	case errors.Is(err, packet.ErrChecksum):
		return "checksum"
	case errors.Is(err, packet.ErrVersion):
		return AnomalyVersion.String()
	case errors.Is(err, packet.ErrType):
		return AnomalyType.String()
	case errors.Is(err, packet.ErrNoAddrs):
		return AnomalyNoAddrs.String()
	case errors.Is(err, packet.ErrZeroInterval):
		return AnomalyZeroInterval.String()
	}
	return "malformed"
}

// secondMasterEpisodes is how many of the longer of the two advertisement
// intervals without an advertisement from another master end a
// second-master episode.
const secondMasterEpisodes = 3

// secondMaster is a virtual router's watch for another master of its VRID
// while it is master (a split brain).
type secondMaster struct {
	count uint64     // advertisements heard from another router while master
	src   netip.Addr // of the current episode
	last  time.Time  // the latest such advertisement
	end   time.Duration
}

// heard records an advertisement from src while master and reports
// whether it starts an episode (to be logged).
func (s *secondMaster) heard(now time.Time, src netip.Addr, ours, theirs time.Duration) bool {
	s.count++
	iv := max(ours, theirs)
	fresh := s.last.IsZero() || now.Sub(s.last) > s.end || now.Before(s.last) || src != s.src
	s.last, s.src, s.end = now, src, secondMasterEpisodes*iv
	return fresh
}

// SummaryPeriod is how often a repeated note is summarised: the first
// note of a (virtual router, source, reason) is logged, the repeats within
// SummaryPeriod are counted, and one summary note (Note.Repeats) follows
// at the end of the period if there were any.
const SummaryPeriod = time.Minute

// summaryLen bounds the (virtual router, source, reason) keys followed at
// once; a key beyond it is noted within the rate limit only.
const summaryLen = 64

type summaryKey struct {
	owner any // *vrt or *rconn
	src   netip.Addr
	kind  ActionKind
	anom  Anomaly
	why   string
}

type summary struct {
	key   summaryKey
	note  Note // the first note, for the summary
	start time.Time
	n     uint64 // repeats since start
}

// summaries follows repeated notes (RawRouter.note).
type summaries struct {
	rows [summaryLen]summary
	n    int
	next time.Time // the earliest end of a period, zero if none
}

// repeat reports whether a note of k repeats one noted within the
// period, and counts it.
func (s *summaries) repeat(k summaryKey) bool {
	for i := range s.n {
		row := &s.rows[i]
		if row.key == k {
			row.n++
			return true
		}
	}
	return false
}

// track starts following k, noted at now as n (if there is room).
func (s *summaries) track(now time.Time, k summaryKey, n *Note) {
	if s.n == len(s.rows) {
		return
	}
	s.rows[s.n] = summary{key: k, note: *n, start: now}
	s.n++
	if end := now.Add(SummaryPeriod); s.next.IsZero() || end.Before(s.next) {
		s.next = end
	}
}

// flush appends a summary note for every key whose period ended by now
// with repeats, and forgets the keys whose period ended without.
func (s *summaries) flush(now time.Time, out []Note) []Note {
	if s.next.IsZero() || now.Before(s.next) {
		return out
	}
	s.next = time.Time{}
	for i := 0; i < s.n; {
		row := &s.rows[i]
		end := row.start.Add(SummaryPeriod)
		if now.Before(end) && !now.Before(row.start) {
			if s.next.IsZero() || end.Before(s.next) {
				s.next = end
			}
			i++
			continue
		}
		if row.n == 0 {
			s.n--
			s.rows[i] = s.rows[s.n]
			s.rows[s.n] = summary{}
			continue
		}
		n := row.note
		n.Repeats, n.Period = row.n, max(now.Sub(row.start), 0)
		out = append(out, n)
		// A new period: repeats go on being counted, not noted.
		row.start, row.n = now, 0
		if end := now.Add(SummaryPeriod); s.next.IsZero() || end.Before(s.next) {
			s.next = end
		}
		i++
	}
	return out
}

// forget drops the keys of owner (a removed virtual router or Conn).
func (s *summaries) forget(owner any) {
	for i := 0; i < s.n; {
		if s.rows[i].key.owner == owner {
			s.n--
			s.rows[i] = s.rows[s.n]
			s.rows[s.n] = summary{}
			continue
		}
		i++
	}
}
