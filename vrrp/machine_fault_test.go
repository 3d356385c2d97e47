package vrrp_test

import (
	"testing"
	"time"

	"github.com/govrrp/govrrp/vrrp"
)

// transitions returns the ActTransition actions of acts.
func transitions(acts []vrrp.Action) []vrrp.Action {
	var out []vrrp.Action
	for _, a := range acts {
		if a.Kind == vrrp.ActTransition {
			out = append(out, a)
		}
	}
	return out
}

// TestMachineSetFault: SetFault holds the machine in Fault with
// ReasonTracking (a master sends priority 0 on entering), independently
// of InterfaceDown and SetGroupFault: it leaves only when none holds it.
func TestMachineSetFault(t *testing.T) {
	m := mtNew(t, mtConfig())
	m.Start(mt0)
	now := mt0.Add(4 * time.Second)
	m.Tick(now) // master
	acts := append([]vrrp.Action(nil), m.SetFault(now, true)...)
	mtCheck(t, "SetFault(true) as master", []vrrp.Action{mtRelease, mtSend(0), mtTrans(vrrp.Master, vrrp.Fault, vrrp.ReasonTracking)}, acts)
	mtCheck(t, "SetFault(true) again", nil, m.SetFault(now, true))
	m.InterfaceDown(now)
	mtCheck(t, "InterfaceUp while SetFault holds", nil, m.InterfaceUp(now))
	m.SetGroupFault(now, true)
	mtCheck(t, "SetFault(false) while the group holds", nil, m.SetFault(now, false))
	if got := transitions(m.SetGroupFault(now, false)); len(got) != 1 || got[0].To != vrrp.Backup || got[0].Reason != vrrp.ReasonSyncGroup {
		t.Errorf("SetGroupFault(false) = %v, want Fault->Backup syncGroup", got)
	}
	m.SetFault(now, true)
	m.Shutdown(now)
	if got := transitions(m.Start(now)); len(got) != 1 || got[0].To != vrrp.Fault || got[0].Reason != vrrp.ReasonTracking {
		t.Errorf("Start while SetFault holds = %v, want Initialize->Fault tracking", got)
	}
	if got := transitions(m.SetFault(now, false)); len(got) != 1 || got[0].To != vrrp.Backup || got[0].Reason != vrrp.ReasonTracking {
		t.Errorf("SetFault(false) = %v, want Fault->Backup tracking", got)
	}
}

// TestMachinePeer: a transition out of Backup, or to Backup on a better
// advertisement, names the master last heard and its priority: 0 after a
// priority-0 handover, its own after a crash.
func TestMachinePeer(t *testing.T) {
	cfg := mtConfig()
	for _, c := range []struct {
		name     string
		lastPrio uint8
	}{{"handover", 0}, {"crash", 200}} {
		m := mtNew(t, cfg)
		m.Start(mt0)
		now := mt0.Add(time.Second)
		mtRecv(m, now, mtAdv(cfg, 200), mtHigher)
		if c.lastPrio == 0 {
			mtRecv(m, now.Add(time.Second), mtAdv(cfg, 0), mtHigher)
		}
		got := transitions(m.Tick(now.Add(10 * time.Second)))
		if len(got) != 1 || got[0].To != vrrp.Master || got[0].MasterReason != vrrp.ReasonMasterNoResponse ||
			got[0].Peer != mtHigher || got[0].PeerPriority != c.lastPrio {
			t.Errorf("%s: takeover %+v, want peer %v priority %d", c.name, got, mtHigher, c.lastPrio)
		}
		// A better master takes over again: Master -> Backup names it.
		got = transitions(mtRecv(m, now.Add(11*time.Second), mtAdv(cfg, 250), mtOther))
		if len(got) != 1 || got[0].To != vrrp.Backup || got[0].Peer != mtOther || got[0].PeerPriority != 250 {
			t.Errorf("%s: giving way %+v, want peer %v priority 250", c.name, got, mtOther)
		}
	}
	// Never heard a master: no peer.
	m := mtNew(t, cfg)
	m.Start(mt0)
	if got := transitions(m.Tick(mt0.Add(10 * time.Second))); len(got) != 1 || got[0].Peer.IsValid() {
		t.Errorf("takeover without a master heard: %+v, want no peer", got)
	}
}
