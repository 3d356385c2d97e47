package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// receiveLAN is lan with Config.RecordReceives, not started.
func receiveLAN(t *testing.T, record bool, prios ...uint8) *Sim {
	t.Helper()
	s := New(1, Config{RecordReceives: record})
	for i, p := range prios {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			t.Fatal(err)
		}
		if err := s.AddVR(nodeName(i), vrConfig(vr4, 3, p, time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func receives(s *Sim) []Record {
	var out []Record
	for _, r := range s.Trace() {
		if r.Kind == KindReceive {
			out = append(out, r)
		}
	}
	return out
}

// Without Config.RecordReceives the trace has no KindReceive record.
func TestReceiveRecordsOff(t *testing.T) {
	s := receiveLAN(t, false, 200, 100)
	s.Start("r1")
	s.Start("r2")
	s.Run(10 * time.Second)
	if got := receives(s); len(got) != 0 {
		t.Errorf("%d receive records without RecordReceives: %v", len(got), got[0])
	}
	if s.Delivered("r2", vr4).Adverts == 0 {
		t.Error("nothing delivered")
	}
}

// With it, every advertisement a machine accepts is recorded, with its
// sender and priority, at its arrival, before what the machine did about
// it; one it rejects (a TTL error) is not.
func TestReceiveRecords(t *testing.T) {
	s := receiveLAN(t, true, 200, 100)
	s.Start("r2") // r2 becomes master first, at 3.609375 s
	s.Run(4 * time.Second)
	s.Start("r1") // and r1 preempts it 3.21875 s later
	s.Run(10 * time.Second)
	s.Shutdown("r1")
	s.Run(12 * time.Second)

	tr := s.Trace()
	var r1, r2 int
	for i, r := range tr {
		if r.Kind != KindReceive {
			continue
		}
		if r.VR != vr4 || r.Node == r.Sender || r.Sender != "r1" && r.Sender != "r2" {
			t.Errorf("record %d: %v", i, r)
		}
		// The send it answers is at the same instant, earlier in the trace.
		found := false
		for j := i - 1; j >= 0 && tr[j].At == r.At; j-- {
			if tr[j].Kind == KindSend && tr[j].Node == r.Sender && tr[j].Priority == r.Priority {
				found = true
			}
		}
		if !found {
			t.Errorf("record %d %v: no send by %s of priority %d at that instant before it", i, r, r.Sender, r.Priority)
		}
		if r.Node == "r1" {
			r1++
		} else {
			r2++
		}
	}
	if d := s.Delivered("r1", vr4).Adverts; uint64(r1) != d || r1 == 0 {
		t.Errorf("r1: %d receive records, %d delivered", r1, d)
	}
	if d := s.Delivered("r2", vr4).Adverts; uint64(r2) != d || r2 == 0 {
		t.Errorf("r2: %d receive records, %d delivered", r2, d)
	}

	// r2 steps down on r1's first advertisement: the receive record comes
	// right before the transition.
	for i, r := range tr {
		if r.Kind == KindTransition && r.Node == "r2" && r.From == vrrp.Master && r.To == vrrp.Backup {
			if p := tr[i-1]; p.Kind != KindReceive || p.Node != "r2" || p.Sender != "r1" || p.Priority != 200 || p.At != r.At {
				t.Errorf("before %v: %v, want r2's receive of r1's priority 200", r, p)
			}
		}
	}
	// The priority-0 advertisement of r1's shutdown is recorded at r2.
	zero := false
	for _, r := range receives(s) {
		if r.Node == "r2" && r.Priority == 0 && r.At == 10*time.Second {
			zero = true
		}
	}
	if !zero {
		t.Error("no receive record of r1's priority-0 advertisement at r2")
	}

	// An advertisement with TTL 64 is delivered but rejected (RFC 9568
	// section 7.1): no record.
	before := len(receives(s))
	delivered := s.Delivered("r1", vr4).Adverts + s.Delivered("r2", vr4).Adverts
	s.Restart("r1")
	s.SetTTL("r2", 64)
	s.Run(20 * time.Second)
	for _, r := range receives(s)[before:] {
		if r.Sender == "r2" {
			t.Errorf("recorded a rejected advertisement: %v", r)
		}
	}
	if s.TotalStats("r1", vr4).IPTTLErrors == 0 || s.Delivered("r1", vr4).Adverts+s.Delivered("r2", vr4).Adverts == delivered {
		t.Error("no TTL error delivered")
	}
}

// A packet that arrives at the instant a timer falls due, and was queued
// before the timer was armed, is handled after the timer: the timer's
// records precede the packet's. r2's advertisement of 4.21875 s is
// delayed on the link until 8.828125 s, exactly when r1's
// Master_Down_Timer, armed by r2's advertisement of 5.21875 s, expires
// (r2 has crashed meanwhile): r1 takes over, then hears priority 200 and
// steps down, at the same instant.
func TestReceiveAfterDueTimer(t *testing.T) {
	s := receiveLAN(t, true, 100, 200)
	s.Start("r1")
	s.Start("r2") // master at 3.21875 s
	due := 5218750*time.Microsecond + MasterDownInterval(3, 100, time.Second)
	s.At(4*time.Second, func() { s.SetLink("r2", "r1", memnet.Link{Delay: due - 4218750*time.Microsecond}) })
	s.At(5*time.Second, func() { s.SetLink("r2", "r1", memnet.Link{}) })
	s.At(5500*time.Millisecond, func() { s.Crash("r2") })
	s.Run(due)
	var got []string
	for _, r := range s.Trace() {
		if r.At == due && r.Node == "r1" {
			got = append(got, r.String())
		}
	}
	want := []string{
		"8.828125s transition r1 ipv4/1 Backup->Master masterNoResponse",
		"8.828125s send r1 ipv4/1 prio=100",
		"8.828125s announce r1 ipv4/1",
		"8.828125s receive r1 ipv4/1 from=r2 prio=200",
		"8.828125s transition r1 ipv4/1 Master->Backup higherPriority",
	}
	if !slices.Equal(got, want) {
		t.Errorf("r1 at %v:\n%s\nwant\n%s", due, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
