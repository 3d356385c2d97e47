package vrrp_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/transport"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// sourcedConn is a memnet endpoint that tells its source address, as
// transport/raw does.
type sourcedConn struct {
	*memnet.Endpoint
	src netip.Addr
}

func (c sourcedConn) Source(int) (netip.Addr, error) { return c.src, nil }

var _ transport.Sourcer = sourcedConn{}

// TestRouterPrimaryFromSource: a zero Config.Primary is taken from the
// Conn's source address, and Master reports the master's primary address
// on both sides.
func TestRouterPrimaryFromSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		hi := rtNewNode(t, vrrp.RouterConfig{})
		lo := rtNewNode(t, vrrp.RouterConfig{})
		epHi := sourcedConn{rtAttach(lan, "hi", rtIP4(2)), rtIP4(2)}
		epLo := sourcedConn{rtAttach(lan, "lo", rtIP4(1)), rtIP4(1)}
		hi.add(vrrp.VirtualRouter{Name: "v4", Conn: epHi, Config: rtCfg4(1, 200, netip.Addr{})})
		lo.add(vrrp.VirtualRouter{Name: "v4", Conn: epLo, Config: rtCfg4(1, 100, netip.Addr{})})
		hi.start(true)
		lo.start(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for _, n := range []*rtNode{hi, lo} {
			got, err := n.r.Master("v4")
			if err != nil || got != rtIP4(2) {
				t.Errorf("Master = %v, %v; want %v", got, err, rtIP4(2))
			}
		}
		if _, err := hi.r.Master("nope"); err == nil {
			t.Error("Master(unknown name) succeeded")
		}
		hi.stop()
		lo.stop()
	})
}

// TestRouterAdvertBeforeAnnounce: on becoming master the advertisement is
// on the wire before the Take and Announce hooks run (gratuitous ARP / NA
// follow the advertisement, RFC 9568 section 6.4.2, and installing the
// addresses never delays it).
func TestRouterAdvertBeforeAnnounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		ep := rtAttach(lan, "m", rtIP4(1))
		var sentAtAnnounce, sentAtTake []uint64
		r := vrrp.NewRouter(vrrp.RouterConfig{Hook: vrrp.HookFuncs{
			AnnounceFunc: func(vrrp.VRInfo) error {
				sentAtAnnounce = append(sentAtAnnounce, ep.Stats().Sent)
				return nil
			},
			TakeFunc: func(vrrp.VRInfo) error {
				sentAtTake = append(sentAtTake, ep.Stats().Sent)
				return nil
			},
		}})
		if err := r.Add(vrrp.VirtualRouter{Name: "v4", Conn: ep, Config: rtCfg4(1, 200, rtIP4(1))}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(rtDown200 + time.Millisecond)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if len(sentAtAnnounce) != 1 || sentAtAnnounce[0] != 1 {
			t.Errorf("advertisements sent when Announce ran = %v, want [1]", sentAtAnnounce)
		}
		if len(sentAtTake) != 1 || sentAtTake[0] != 1 {
			t.Errorf("advertisements sent when Take ran = %v, want [1]", sentAtTake)
		}
	})
}

// TestRouterSetFault: a tracking fault holds a virtual router in Fault
// (a master sends priority 0 and its sync group is held in Fault with
// it), and it leaves Fault only when neither SetFault nor InterfaceDown
// holds it.
func TestRouterSetFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		n := rtNewNode(t, vrrp.RouterConfig{})
		ep := rtAttach(lan, "n", rtIP4(2))
		cfgA, cfgB := rtCfg4(1, 200, rtIP4(2)), rtCfg4(2, 200, rtIP4(2))
		n.add(vrrp.VirtualRouter{Name: "a", Conn: ep, Interface: "eth0", SyncGroup: "g", Config: cfgA})
		n.add(vrrp.VirtualRouter{Name: "b", Conn: ep, Interface: "eth0", SyncGroup: "g", Config: cfgB})
		n.start(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n.state("a") != vrrp.Master || n.state("b") != vrrp.Master {
			t.Fatalf("states a=%v b=%v, want Master Master", n.state("a"), n.state("b"))
		}
		if err := n.r.SetFault("a", true); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n.state("a") != vrrp.Fault || n.state("b") != vrrp.Fault {
			t.Errorf("after SetFault(a): a=%v b=%v, want Fault Fault (the group is held)", n.state("a"), n.state("b"))
		}
		if got := n.stats("a").SentPriZeroPackets; got != 1 {
			t.Errorf("a sent %d priority-0 advertisements, want 1", got)
		}
		// The link goes down and up while the tracking fault holds.
		if err := n.r.InterfaceDown("eth0"); err != nil {
			t.Fatal(err)
		}
		if err := n.r.InterfaceUp("eth0"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n.state("a") != vrrp.Fault {
			t.Errorf("InterfaceUp released a tracking fault: a=%v", n.state("a"))
		}
		// The tracking fault clears while the link is down: still Fault.
		if err := n.r.InterfaceDown("eth0"); err != nil {
			t.Fatal(err)
		}
		if err := n.r.SetFault("a", false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n.state("a") != vrrp.Fault {
			t.Errorf("SetFault(false) with the link down: a=%v, want Fault", n.state("a"))
		}
		if err := n.r.InterfaceUp("eth0"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n.state("a") != vrrp.Master || n.state("b") != vrrp.Master {
			t.Errorf("after recovery: a=%v b=%v, want Master Master", n.state("a"), n.state("b"))
		}
		if err := n.r.SetFault("nope", true); err == nil {
			t.Error("SetFault(unknown name) succeeded")
		}
		n.stop()
	})
}

// TestRouterLateOwnerKeepsPacketOrder: when the Router's goroutine is held
// up (here a Take hook of another virtual router that takes 5 s) while
// its master's advertisements keep arriving, a backup's Master_Down_Timer
// that ran out only because nobody looked is not fired ahead of the
// advertisements that arrived before it: each packet is handled after the
// timers due before its arrival, so the backup stays Backup.
func TestRouterLateOwnerKeepsPacketOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan, other := memnet.New(memnet.Config{}), memnet.New(memnet.Config{})
		slow := vrrp.HookFuncs{TakeFunc: func(vr vrrp.VRInfo) error {
			if vr.Name == "slow" {
				time.Sleep(5 * time.Second)
			}
			return nil
		}}
		master := rtNewNode(t, vrrp.RouterConfig{})
		backup := rtNewNode(t, vrrp.RouterConfig{Hook: slow})
		master.add(vrrp.VirtualRouter{Name: "v", Conn: rtAttach(lan, "m", rtIP4(2)), Config: rtCfg4(1, 200, rtIP4(2))})
		backup.add(vrrp.VirtualRouter{Name: "v", Conn: rtAttach(lan, "b", rtIP4(1)), Config: rtCfg4(1, 100, rtIP4(1))})
		// Alone on its LAN, "slow" becomes master after 3.609375 s and
		// its Take hook holds the backup's Router until 8.609375 s, past
		// the 3.609375 s Master_Down_Interval of "v" counted from the
		// last advertisement handled before (at 3 s).
		backup.add(vrrp.VirtualRouter{Name: "slow", Conn: rtAttach(other, "s", rtIP4(1)), Config: rtCfg4(2, 100, rtIP4(1))})
		master.start(true)
		backup.start(true)
		time.Sleep(12 * time.Second)
		synctest.Wait()
		if got := backup.state("v"); got != vrrp.Backup {
			t.Errorf("v on the held-up Router: %v, want Backup", got)
		}
		if got := backup.state("slow"); got != vrrp.Master {
			t.Errorf("slow: %v, want Master", got)
		}
		if got := backup.stats("v").MasterTransitions; got != 0 {
			t.Errorf("v became master %d times", got)
		}
		master.stop()
		backup.stop()
	})
}

// TestRouterSyncGroupFaultAtStart: a member in fault before Run, or when
// another member is started again, holds the whole group in Fault from
// its start, whatever the order of the members.
func TestRouterSyncGroupFaultAtStart(t *testing.T) {
	for _, faulted := range []string{"a", "b"} {
		synctest.Test(t, func(t *testing.T) {
			lan := memnet.New(memnet.Config{})
			n := rtNewNode(t, vrrp.RouterConfig{})
			ep := rtAttach(lan, "n", rtIP4(2))
			n.add(vrrp.VirtualRouter{Name: "a", Conn: ep, SyncGroup: "g", Config: rtCfg4(1, 200, rtIP4(2))})
			n.add(vrrp.VirtualRouter{Name: "b", Conn: ep, SyncGroup: "g", Config: rtCfg4(2, 255, rtIP4(2))})
			if err := n.r.SetFault(faulted, true); err != nil {
				t.Fatal(err)
			}
			n.start(true)
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if n.state("a") != vrrp.Fault || n.state("b") != vrrp.Fault {
				t.Errorf("%s faulted before Run: a=%v b=%v, want Fault Fault", faulted, n.state("a"), n.state("b"))
			}
			// The owner b never became master, so it never sent.
			if s := n.stats("b"); s.MasterTransitions != 0 || s.SentAdvertisements != 0 {
				t.Errorf("%s faulted before Run: b became master %d times, sent %d", faulted, s.MasterTransitions, s.SentAdvertisements)
			}
			other := map[string]string{"a": "b", "b": "a"}[faulted]
			// The other member is shut down and started again: still held.
			if err := n.r.Shutdown(other); err != nil {
				t.Fatal(err)
			}
			if err := n.r.Start(other); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if got := n.state(other); got != vrrp.Fault {
				t.Errorf("%s restarted while %s is faulted: %v, want Fault", other, faulted, got)
			}
			if err := n.r.SetFault(faulted, false); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if n.state("a") != vrrp.Master || n.state("b") != vrrp.Master {
				t.Errorf("after the fault: a=%v b=%v, want Master Master", n.state("a"), n.state("b"))
			}
			// Removing a faulted member releases the group.
			if err := n.r.SetFault(faulted, true); err != nil {
				t.Fatal(err)
			}
			if err := n.r.Remove(faulted); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if got := n.state(other); got != vrrp.Master {
				t.Errorf("after removing the faulted %s: %s=%v, want Master", faulted, other, got)
			}
			n.stop()
		})
	}
}
