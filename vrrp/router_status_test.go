package vrrp_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// TestRouterStatus: Status reads, in one call on the Router's goroutine,
// what State, Master and Stats read one call each, and says which names
// it does not know.
func TestRouterStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vrs := linkVRs(rtAttach(memnet.New(memnet.Config{}), "r", rtIP4(1)), 5)
		r := runRouter(t)
		for _, vr := range vrs[:4] {
			if err := r.Add(vr); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Second) // VI_1..VI_4 hear nobody: masters
		synctest.Wait()
		if err := r.Shutdown("VI_2"); err != nil { // and VI_2 in Initialize
			t.Fatal(err)
		}
		synctest.Wait()
		names := []string{"VI_1", "VI_2", "VI_5", "VI_4", "VI_3"} // VI_5: not added
		st := make([]vrrp.VRStatus, len(names))
		if err := r.Status(names, st); err != nil {
			t.Fatal(err)
		}
		for i, name := range names {
			state, errState := r.State(name)
			master, errMaster := r.Master(name)
			stats, errStats := r.Stats(name)
			if name == "VI_5" {
				if !errors.Is(st[i].Err, vrrp.ErrNoVirtualRouter) || errState == nil || errMaster == nil || errStats == nil {
					t.Errorf("%s: Status error %v, want ErrNoVirtualRouter as State's (%v)", name, st[i].Err, errState)
				}
				if got := (vrrp.VRStatus{State: st[i].State, Master: st[i].Master, Stats: st[i].Stats}); got != (vrrp.VRStatus{}) {
					t.Errorf("%s: Status not zero beside its error: %+v", name, got)
				}
				continue
			}
			if errState != nil || errMaster != nil || errStats != nil || st[i].Err != nil {
				t.Fatalf("%s: errors %v %v %v %v", name, errState, errMaster, errStats, st[i].Err)
			}
			want := vrrp.VRStatus{State: state, Master: master, Stats: stats}
			if st[i] != want {
				t.Errorf("%s: Status %+v, want State, Master and Stats: %+v", name, st[i], want)
			}
		}
		if st[0].State != vrrp.Master || st[1].State != vrrp.Initialize || st[0].Stats.MasterTransitions != 1 {
			t.Errorf("VI_1 %v (became master %d times), VI_2 %v; want Master (once), Initialize", st[0].State, st[0].Stats.MasterTransitions, st[1].State)
		}
		if err := r.Status(names, st[:2]); err == nil {
			t.Error("Status with fewer results than names: no error")
		}
	})
}
