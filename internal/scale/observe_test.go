package scale

import (
	"slices"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/keepalived"
)

func TestParseStatus(t *testing.T) {
	doc := `{"instances": [
	  {"name": "VI_1", "state": "MASTER", "priority": 150, "base_priority": 151,
	   "election": {"last_event": {"time": "2026-12-05T16:00:02.5Z", "from": "BACKUP", "to": "MASTER"},
	     "transitions": {"STOP->BACKUP start": 1, "BACKUP->MASTER masterNoResponse": 2, "MASTER->BACKUP higherPriority": 1}}},
	  {"name": "VI_2", "state": "BACKUP", "base_priority": 100,
	   "election": {"last_event": {"time": "2026-12-05T16:00:01Z"}, "transitions": {"STOP->BACKUP start": 1}}},
	  {"name": "VI_3", "state": "STOP", "election": {}}
	], "router": {"Received": 5}}`
	s, err := ParseStatus([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if s.Instances != 3 || s.States["MASTER"] != 1 || s.States["BACKUP"] != 1 || s.States["STOP"] != 1 ||
		s.Trans != 5 || s.ToMaster != 2 || !s.Last.Equal(time.Date(2026, 12, 5, 16, 0, 2, 5e8, time.UTC)) {
		t.Errorf("ParseStatus = %+v", s)
	}
	if in := s.Inst["VI_1"]; in.Priority != 151 || in.Trans != 4 || in.State != "MASTER" {
		t.Errorf("VI_1 = %+v", in)
	}
	if _, err := ParseStatus([]byte("{")); err == nil {
		t.Error("bad JSON: no error")
	}
}

func TestKeepalivedSnap(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC)
	lines := []keepalived.LogLine{
		{Time: t0, Text: "Sat Dec  5 16:00:00 2026: (VI_1) Entering BACKUP STATE (init)"},
		{Time: t0.Add(time.Second), Text: "Sat Dec  5 16:00:01 2026: (VI_2) Entering BACKUP STATE (init)"},
		{Time: t0.Add(2 * time.Second), Text: "Sat Dec  5 16:00:02 2026: (VI_1) Entering MASTER STATE"},
		{Time: t0.Add(3 * time.Second), Text: "Sat Dec  5 16:00:03 2026: (VI_1) received lower priority advert"},
		{Time: t0.Add(4 * time.Second), Text: "Sat Dec  5 16:00:04 2026: (VI_1) Entering BACKUP STATE"},
	}
	s := KeepalivedSnap(lines)
	if s.Instances != 2 || s.States["BACKUP"] != 2 || s.Trans != 4 || s.ToMaster != 1 || !s.Last.Equal(t0.Add(4*time.Second)) {
		t.Errorf("KeepalivedSnap = %+v", s)
	}
	if in := s.Inst["VI_1"]; in.Trans != 3 || in.State != "BACKUP" {
		t.Errorf("VI_1 = %+v", in)
	}
}

func TestSnapMoved(t *testing.T) {
	before := Snap{Inst: map[string]InstSnap{"VI_1": {State: "MASTER", Trans: 2}, "VI_2": {State: "MASTER", Trans: 2}, "VI_3": {State: "MASTER", Trans: 2}}}
	after := Snap{Inst: map[string]InstSnap{"VI_1": {State: "MASTER", Trans: 2, Priority: 151}, "VI_2": {State: "MASTER", Trans: 4}, "VI_4": {State: "MASTER", Trans: 1}}}
	// VI_2 moved (and came back), VI_3 is gone; VI_4 is beyond n.
	if got := after.Moved(before, 3); !slices.Equal(got, []string{"VI_2", "VI_3"}) {
		t.Errorf("Moved = %v", got)
	}
}

func TestMasterDownInterval(t *testing.T) {
	// RFC 9568 section 6.1: 3 x 1 s + (256-100)/256 s.
	if got, want := MasterDownInterval(time.Second, 100), 3*time.Second+609375*time.Microsecond; got != want {
		t.Errorf("MasterDownInterval(1s, 100) = %v, want %v", got, want)
	}
	if got, want := MasterDownInterval(100*time.Millisecond, 100), 360937500*time.Nanosecond; got != want {
		t.Errorf("MasterDownInterval(100ms, 100) = %v, want %v", got, want)
	}
}

func TestParseMonitorAndReplay(t *testing.T) {
	out := []string{
		"[2026-12-05T16:55:01.100000]2: l1    inet 10.0.1.100/24 scope global secondary l1",
		"       valid_lft forever preferred_lft forever",
		"[2026-12-05T16:55:01.200000]3: l2    inet 10.0.2.1/24 scope global l2", // not a VIP
		"[2026-12-05T16:55:01.300000]3: l2    inet 10.0.2.100/24 scope global secondary l2",
		"[2026-12-05T16:55:01.400000]4: l3    inet 10.0.3.100/24 scope global secondary l3", // beyond n = 2
		"[2026-12-05T16:55:02.000000]Deleted 2: l1    inet 10.0.1.100/24 scope global secondary l1",
		"[2026-12-05T16:55:02.500000]Deleted 3: l2    inet 10.0.2.100/24 scope global secondary l2",
		"[2026-12-05T16:55:03.000000]Deleted 4: l3    inet 10.0.3.100/24 scope global secondary l3",
		"[2026-12-05T16:55:04.000000]2: l1    inet6 fe80::1/64 scope link",
	}
	var evs []AddrEvent
	var last time.Time
	for _, l := range out {
		ev, stamp, ok := ParseMonitorLine(l, last)
		last = stamp
		if ok {
			evs = append(evs, ev)
		}
	}
	if len(evs) != 6 || evs[3].Del != true || evs[3].Link != 1 || evs[1].Link != 2 {
		t.Fatalf("events = %+v", evs)
	}
	at := func(s string) time.Time {
		x, _ := time.ParseInLocation("15:04:05.000", s, time.Local)
		return time.Date(2026, 12, 5, x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.Local)
	}
	full, clear, left := Replay(evs, 2)
	if !full.Equal(at("16:55:01.300")) || !clear.Equal(at("16:55:03.000")) || left != 0 {
		t.Errorf("Replay = %v, %v, %d", full, clear, left)
	}
	if full, clear, left := Replay(evs[:3], 3); !full.Equal(at("16:55:01.400")) || !clear.IsZero() || left != 3 {
		t.Errorf("Replay (adds only) = %v, %v, %d", full, clear, left)
	}
}

// FuzzParseMonitorLine: any line of ip monitor's output parses without a
// panic, and an event it returns is of a link's VIP.
func FuzzParseMonitorLine(f *testing.F) {
	f.Add("[2026-12-05T16:55:01.100000]2: l1    inet 10.0.1.100/24 scope global secondary l1")
	f.Add("[2026-12-05T16:55:02.000000]Deleted 2: l1    inet 10.0.1.100/24 scope global secondary l1")
	f.Add("       valid_lft forever preferred_lft forever")
	f.Add("[2026-12-05T16:55:04.000000]2: l1    inet6 fe80::1/64 scope link")
	f.Fuzz(func(t *testing.T, line string) {
		ev, _, ok := ParseMonitorLine(line, time.Time{})
		if ok && (ev.Link < 1 || ev.Link > 0xffff) {
			t.Errorf("%q: link %d", line, ev.Link)
		}
	})
}

// FuzzParseStatus: any document parses or fails without a panic, and
// the counts of a parsed one agree.
func FuzzParseStatus(f *testing.F) {
	f.Add(`{"instances": [{"name": "VI_1", "state": "MASTER", "election": {"transitions": {"STOP->BACKUP start": 1, "BACKUP->MASTER masterNoResponse": 2}}}]}`)
	f.Add(`{"instances": null}`)
	f.Fuzz(func(t *testing.T, doc string) {
		s, err := ParseStatus([]byte(doc))
		if err != nil {
			return
		}
		n := 0
		for _, c := range s.States {
			n += c
		}
		if n != s.Instances {
			t.Errorf("%q: %+v", doc, s)
		}
	})
}
