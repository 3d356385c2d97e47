package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// groupLAN: r1 (priority 200) and r2 (100), each with ipv4/1 and ipv6/2
// in the sync group "g", intervals of 1 s, started at 0; r1 is master of
// both from 3.21875 s.
func groupLAN(t *testing.T) *Sim {
	t.Helper()
	s := New(1, Config{})
	for i, p := range []uint8{200, 100} {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			t.Fatal(err)
		}
		for _, vr := range []VR{vr4, vr6} {
			if err := s.AddGroupVR(nodeName(i), "g", vrConfig(vr, 3, p, time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		s.Start(nodeName(i))
	}
	s.Run(5 * time.Second)
	mustNoErr(t, s)
	for _, vr := range []VR{vr4, vr6} {
		if got := s.Masters(vr); !slices.Equal(got, []string{"r1"}) {
			t.Fatalf("%v masters %v, want [r1]", vr, got)
		}
	}
	return s
}

// A fault hold on one member moves the whole group on r1 to Fault (each
// master sends priority 0), and r2 takes both over Skew_Time later;
// letting it go brings r1's group back, and r1 preempts.
func TestGroupFaultHold(t *testing.T) {
	s := groupLAN(t)
	s.At(10*time.Second, func() { s.SetFault("r1", vr6, true) })
	s.Run(20 * time.Second)
	mustNoErr(t, s)
	for _, vr := range []VR{vr4, vr6} {
		if st := s.State("r1", vr); st != vrrp.Fault {
			t.Errorf("r1 %v in %v, want Fault", vr, st)
		}
		if got := s.Masters(vr); !slices.Equal(got, []string{"r2"}) {
			t.Errorf("%v masters %v, want [r2]", vr, got)
		}
	}
	// r2's ipv6/2 took over on the priority-0 advertisement, Skew_Time
	// after it; its ipv4/1 came along (syncGroup) at the same instant
	// unless its own timer fired first.
	var got []string
	for _, r := range transitions(s, vr6, 9*time.Second) {
		got = append(got, r.Node+" "+r.From.String()+"->"+r.To.String()+" "+r.Reason.String())
	}
	want := []string{"r1 Master->Fault tracking", "r2 Backup->Master masterNoResponse"}
	if !slices.Equal(got, want) {
		t.Errorf("ipv6/2 transitions %v, want %v", got, want)
	}
	if tr := transitions(s, vr4, 9*time.Second); len(tr) != 2 || tr[0].Reason != vrrp.ReasonSyncGroup || tr[0].To != vrrp.Fault {
		t.Errorf("ipv4/1 transitions %v, want r1 held in Fault by its group, then r2 master", tr)
	}
	s.SetFault("r1", vr6, false)
	s.RunFor(10 * time.Second)
	mustNoErr(t, s)
	for _, vr := range []VR{vr4, vr6} {
		if got := s.Masters(vr); !slices.Equal(got, []string{"r1"}) {
			t.Errorf("after the hold: %v masters %v, want [r1]", vr, got)
		}
	}
}

// Removing the master's virtual router while it runs sends priority 0
// (r2 takes over Skew_Time later), leaves nothing of it in r1's hook log
// after HostRemoved, and adding it back brings it in Backup, then master
// by preemption.
func TestRemoveAddWhileRunning(t *testing.T) {
	s := New(1, Config{})
	for i, p := range []uint8{200, 100} {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			t.Fatal(err)
		}
		if err := s.AddVR(nodeName(i), vrConfig(vr4, 3, p, time.Second)); err != nil {
			t.Fatal(err)
		}
		s.Start(nodeName(i))
	}
	s.At(10*time.Second, func() {
		if err := s.RemoveVR("r1", vr4); err != nil {
			t.Error(err)
		}
	})
	s.Run(20 * time.Second)
	mustNoErr(t, s)
	if got := s.Masters(vr4); !slices.Equal(got, []string{"r2"}) {
		t.Fatalf("masters %v, want [r2]", got)
	}
	skew := SkewTime(3, 100, time.Second)
	if tr := transitions(s, vr4, 10*time.Second-1); len(tr) != 2 || tr[1].Node != "r2" || tr[1].At != 10*time.Second+skew {
		t.Errorf("transitions after the removal %v, want r1 to Initialize, r2 master at %v", tr, 10*time.Second+skew)
	}
	for _, r := range s.Trace() {
		if r.Node == "r1" && r.At > 10*time.Second {
			t.Errorf("after its removal: %v", r)
		}
	}
	var hooks []string
	for _, h := range s.Hooks("r1") {
		if h.At >= 10*time.Second {
			hooks = append(hooks, h.String())
		}
	}
	want := []string{
		"10s ipv4/1 release",
		"10s ipv4/1 transition Master->Initialize shutdown",
		"10s ipv4/1 removed",
	}
	if !slices.Equal(hooks, want) {
		t.Errorf("r1 hooks:\n%s\nwant\n%s", strings.Join(hooks, "\n"), strings.Join(want, "\n"))
	}
	if st := s.TotalStats("r1", vr4); st.SentPriZeroPackets != 1 {
		t.Errorf("r1 SentPriZeroPackets %d, want 1", st.SentPriZeroPackets)
	}
	if err := s.RemoveVR("r1", vr4); err == nil {
		t.Error("RemoveVR twice: no error")
	}
	if err := s.AddVR("r1", vrConfig(vr4, 3, 200, time.Second)); err != nil {
		t.Fatal(err)
	}
	s.RunFor(10 * time.Second)
	mustNoErr(t, s)
	if got := s.Masters(vr4); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("after adding it back: masters %v, want [r1]", got)
	}
	if got := s.VRs("r1"); !slices.Equal(got, []VR{vr4}) {
		t.Errorf("VRs(r1) = %v", got)
	}
}
