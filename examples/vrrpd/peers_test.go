package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/memnet"
)

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// lockedBuf is a log destination for a test to read.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines that contain s.
func (l *lockedBuf) lines(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// startHostLog is startHost with the daemon's log (Info and up) in buf.
func startHostLog(t *testing.T, lan *memnet.Network, n int, cfg Config, buf *lockedBuf) *host {
	t.Helper()
	h := &host{sys: newFakeSys(lan, n), rec: &recorder{}, err: make(chan error, 1)}
	h.d = newDaemon(cfg, h.sys, slog.New(slog.NewTextHandler(buf, nil)), nil, h.rec.run)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.err <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.err
	})
	return h
}

// peerSniffer counts the advertisements an address on the LAN receives.
type peerSniffer struct {
	ep   *memnet.Endpoint
	done chan struct{}
	mu   sync.Mutex
	from map[netip.Addr]int
}

func newPeerSniffer(t *testing.T, lan *memnet.Network, a netip.Addr) *peerSniffer {
	s := &peerSniffer{ep: lan.MustAttach(memnet.EndpointConfig{Name: "sniffer", Addrs: []netip.Addr{a}}), done: make(chan struct{}), from: map[netip.Addr]int{}}
	go func() {
		defer close(s.done)
		buf := make([]byte, 1500)
		for {
			n, m, err := s.ep.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, _, err := packet.Parse(buf[:n], m.Src, m.Dst); err != nil {
				t.Errorf("sniffer: bad packet from %v: %v", m.Src, err)
				continue
			}
			s.mu.Lock()
			s.from[m.Src]++
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.ep.Close(); <-s.done })
	return s
}

func (s *peerSniffer) count(src netip.Addr) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.from[src]
}

// TestDaemonReloadPeersInPlace: a reload that changes only the unicast
// peers of a master's instance applies them in place: the new peer
// receives its advertisements from then on, no transition on either
// host, no host work, no notify, no new transport, one log line. A
// transport shared with an instance whose peers did not change is not
// shared with new instances any more; once they agree again, it is.
func TestDaemonReloadPeersInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		one := inst("VI_1", 1, 150, "10.0.0.100")
		two := inst("VI_2", 2, 150, "10.0.0.200")
		one.Peers, two.Peers = addrs("10.0.0.2"), addrs("10.0.0.2")
		logs := &lockedBuf{}
		a := startHostLog(t, lan, 1, cfgOf(one, two), logs)
		bOne := inst("VI_1", 1, 100, "10.0.0.100")
		bOne.Peers = addrs("10.0.0.1")
		b := startHost(t, lan, 2, cfgOf(bOne))
		sn := newPeerSniffer(t, lan, netip.MustParseAddr("10.0.0.3"))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(map[string]string{"VI_1": "MASTER", "VI_2": "MASTER"}, states(a)); diff != "" {
			t.Fatalf("a before reload (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"VI_1": "BACKUP"}, states(b)); diff != "" {
			t.Fatalf("b before reload (-want +got):\n%s", diff)
		}
		if n := sn.count(netip.MustParseAddr("10.0.0.1")); n != 0 {
			t.Fatalf("the bystander received %d advertisements before it was a peer", n)
		}
		callsA, callsB, notesA, notesB := a.sys.callsOf("VI_1"), b.sys.callsOf("VI_1"), a.rec.notified(), b.rec.notified()

		one.Peers = addrs("10.0.0.2", "10.0.0.3")
		if err := a.d.Reload(cfgOf(one, two)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		// 100 ms adverts: about 30 in 3 s.
		if n := sn.count(netip.MustParseAddr("10.0.0.1")); n < 25 {
			t.Errorf("the new peer received %d advertisements in 3s, want about 30", n)
		}
		if diff := cmp.Diff(map[string]string{"VI_1": "MASTER", "VI_2": "MASTER"}, states(a)); diff != "" {
			t.Errorf("a after reload (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"VI_1": "BACKUP"}, states(b)); diff != "" {
			t.Errorf("b after reload (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(callsA, a.sys.callsOf("VI_1")); diff != "" {
			t.Errorf("a's host work for VI_1 after the reload (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(callsB, b.sys.callsOf("VI_1")); diff != "" {
			t.Errorf("b's host work after the reload (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(notesA, a.rec.notified()); diff != "" {
			t.Errorf("a's notify after the reload (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(notesB, b.rec.notified()); diff != "" {
			t.Errorf("b's notify after the reload (-want +got):\n%s", diff)
		}
		for _, is := range a.d.status().Instances {
			if is.Stats.MasterTransitions != 1 {
				t.Errorf("%s: %d master transitions, want 1", is.Name, is.Stats.MasterTransitions)
			}
		}
		if got := logs.lines("VI_1"); len(logs.lines("reload: unicast peers changed in place")) != 1 || len(logs.lines("reload: updating instance")) != 0 {
			t.Errorf("log lines about VI_1 (want one about its peers):\n%s", strings.Join(got, "\n"))
		}
		if a.sys.opens != 1 {
			t.Errorf("a opened %d transports, want 1", a.sys.opens)
		}

		// VI_2 kept the old peers on the shared transport: a new
		// instance with them opens its own.
		three := inst("VI_3", 3, 150, "10.0.0.30")
		three.Peers = addrs("10.0.0.2")
		if err := a.d.Reload(cfgOf(one, two, three)); err != nil {
			t.Fatal(err)
		}
		if a.sys.opens != 2 {
			t.Errorf("a opened %d transports after adding VI_3, want 2 (the first one's peers are mixed)", a.sys.opens)
		}
		// VI_2 catches up with VI_1: the first transport is shared again.
		two.Peers = one.Peers
		four := inst("VI_4", 4, 150, "10.0.0.40")
		four.Peers = one.Peers
		if err := a.d.Reload(cfgOf(one, two, three)); err != nil {
			t.Fatal(err)
		}
		if err := a.d.Reload(cfgOf(one, two, three, four)); err != nil {
			t.Fatal(err)
		}
		if a.sys.opens != 2 {
			t.Errorf("a opened %d transports after adding VI_4 with VI_1 and VI_2's peers, want 2", a.sys.opens)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff(map[string]string{"VI_1": "MASTER", "VI_2": "MASTER", "VI_3": "MASTER", "VI_4": "MASTER"}, states(a)); diff != "" {
			t.Errorf("a at the end (-want +got):\n%s", diff)
		}
		// Removing them all leaves nothing filed.
		if err := a.d.Reload(cfgOf()); err != nil {
			t.Fatal(err)
		}
		a.d.mu.Lock()
		left := len(a.d.conns)
		a.d.mu.Unlock()
		if left != 0 {
			t.Errorf("%d transports still filed with no instance", left)
		}
	})
}

// TestKeepalivedReloadPeersInPlace: a keepalived.conf whose unicast_peer
// block changes reloads in place too (the same Instances, the same
// path).
func TestKeepalivedReloadPeersInPlace(t *testing.T) {
	conf := func(peers ...string) Config {
		t.Helper()
		text := `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  unicast_peer {
    ` + strings.Join(peers, "\n    ") + `
  }
  virtual_ipaddress {
    10.0.0.100
  }
}
`
		kc, err := convertKeepalivedText("k.conf", text, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := kc.build()
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	p := diffInstances(conf("10.0.0.2").Instances, conf("10.0.0.2", "10.0.0.3").Instances)
	if len(p.Update) != 1 || len(p.Remove) != 0 || len(p.Add) != 0 {
		t.Fatalf("plan %+v, want VI_1 updated in place", p)
	}

	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		logs := &lockedBuf{}
		a := startHostLog(t, lan, 1, conf("10.0.0.2"), logs)
		sn := newPeerSniffer(t, lan, netip.MustParseAddr("10.0.0.3"))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(map[string]string{"VI_1": "MASTER"}, states(a)); diff != "" {
			t.Fatalf("before reload (-want +got):\n%s", diff)
		}
		calls := a.sys.callsOf("VI_1")
		if err := a.d.Reload(conf("10.0.0.2", "10.0.0.3")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := sn.count(netip.MustParseAddr("10.0.0.1")); n < 4 {
			t.Errorf("the new peer received %d advertisements in 5s, want about 5", n)
		}
		if diff := cmp.Diff(calls, a.sys.callsOf("VI_1")); diff != "" {
			t.Errorf("host work after the reload (-want +got):\n%s", diff)
		}
		if n := len(logs.lines("reload: unicast peers changed in place")); n != 1 {
			t.Errorf("%d log lines about the peers, want 1", n)
		}
		if st := a.d.status().Instances[0]; st.State != "MASTER" || st.Stats.MasterTransitions != 1 {
			t.Errorf("after reload: %s, %d master transitions; want MASTER, 1", st.State, st.Stats.MasterTransitions)
		}
	})
}

// A transport that a change of peers in place left unfiled (its
// instances' peers differ) keeps its old key; when its last instance
// goes, releasing it must not unfile the transport that has that key now:
// a later instance with those peers shares that one instead of opening a
// third.
func TestDaemonReleaseRekeyedTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := memnet.New(memnet.Config{})
		defer lan.Close()
		one := inst("VI_1", 1, 150, "10.0.0.100")
		two := inst("VI_2", 2, 150, "10.0.0.200")
		one.Peers, two.Peers = addrs("10.0.0.2"), addrs("10.0.0.2")
		a := startHost(t, lan, 1, cfgOf(one, two))
		time.Sleep(time.Second)
		synctest.Wait()
		reload := func(ins ...Instance) {
			t.Helper()
			if err := a.d.Reload(cfgOf(ins...)); err != nil {
				t.Fatal(err)
			}
		}
		one.Peers = addrs("10.0.0.2", "10.0.0.3")
		reload(one, two) // the first transport's peers are mixed: unfiled
		three := inst("VI_3", 3, 150, "10.0.0.30")
		three.Peers = addrs("10.0.0.2")
		reload(one, two, three) // a second transport, under the old peers
		if a.sys.opens != 2 {
			t.Fatalf("%d transports opened after adding VI_3, want 2", a.sys.opens)
		}
		reload(three) // the first transport's instances go
		five := inst("VI_5", 5, 150, "10.0.0.50")
		five.Peers = addrs("10.0.0.2")
		reload(three, five)
		if a.sys.opens != 2 {
			t.Errorf("%d transports opened after adding VI_5 with VI_3's peers, want 2 (it shares VI_3's)", a.sys.opens)
		}
		time.Sleep(time.Second)
		synctest.Wait()
	})
}
