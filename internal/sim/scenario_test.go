package sim

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// The RFC values at a 1 s interval, written out so the tests do not only
// compare the simulator's arithmetic with itself.
func TestTimerValues(t *testing.T) {
	for _, c := range []struct {
		version  uint8
		prio     uint8
		interval time.Duration
		skew     time.Duration
		down     time.Duration
	}{
		{3, 200, time.Second, 218750 * time.Microsecond, 3218750 * time.Microsecond},
		{3, 150, time.Second, 414062500, 3414062500},
		{3, 100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{3, 100, 10 * time.Millisecond, 6093750, 36093750}, // PROTOCOL.md: 36.09 ms
		{3, 254, 10 * time.Millisecond, 78125, 30078125},
		{2, 100, 3 * time.Second, 609375 * time.Microsecond, 9609375 * time.Microsecond}, // RFC 3768: skew independent of the interval
	} {
		if got := SkewTime(c.version, c.prio, c.interval); got != c.skew {
			t.Errorf("SkewTime(v%d, %d, %v) = %v, want %v", c.version, c.prio, c.interval, got, c.skew)
		}
		if got := MasterDownInterval(c.version, c.prio, c.interval); got != c.down {
			t.Errorf("MasterDownInterval(v%d, %d, %v) = %v, want %v", c.version, c.prio, c.interval, got, c.down)
		}
	}
}

var timingCases = []struct {
	name     string
	vr       VR
	version  uint8
	interval time.Duration
}{
	{"v3-ipv4-1s", vr4, 3, time.Second},
	{"v3-ipv6-10ms", vr6, 3, 10 * time.Millisecond},
	{"v3-ipv4-330ms", vr4, 3, 330 * time.Millisecond},
	{"v2-ipv4-2s", vr2, 2, 2 * time.Second},
}

// RFC 9568 section 6.4.2: the backups' Master_Down_Timer, started at
// Startup, fires first for the highest priority; after the master
// crashes the best backup takes over exactly Master_Down_Interval after
// the last advertisement it received, and the lower backup, hearing it
// within its longer Skew_Time, does not.
func TestCrashFailoverAtMasterDownInterval(t *testing.T) {
	for _, c := range timingCases {
		t.Run(c.name, func(t *testing.T) {
			I := c.interval
			s := lan(t, 1, c.vr, c.version, I, 200, 150, 100)
			crash := 10 * I
			s.At(crash, func() { s.Crash("r1") })
			s.Run(20 * I)
			mustNoErr(t, s)

			elected := MasterDownInterval(c.version, 200, I)
			last := lastSend(s, "r1", c.vr, crash)
			want := []transition{
				{0, "r1", vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart},
				{0, "r2", vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart},
				{0, "r3", vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart},
				{elected, "r1", vrrp.Backup, vrrp.Master, vrrp.ReasonMasterNoResponse},
				{last + MasterDownInterval(c.version, 150, I), "r2", vrrp.Backup, vrrp.Master, vrrp.ReasonMasterNoResponse},
			}
			if diff := cmp.Diff(want, transitions(s, c.vr, -1)); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if last <= crash-I || last > crash {
				t.Errorf("last advertisement of r1 at %v, want within one interval before the crash at %v", last, crash)
			}
			if got := s.Masters(c.vr); !cmp.Equal(got, []string{"r2"}) {
				t.Errorf("Masters = %v, want [r2]", got)
			}
		})
	}
}

// RFC 9568 section 6.4.3 and 6.4.2: a master that shuts down sends a
// priority-0 advertisement; the backups set Master_Down_Timer to
// Skew_Time, so the best one takes over Skew_Time later.
func TestPriorityZeroHandoverAtSkewTime(t *testing.T) {
	for _, c := range timingCases {
		t.Run(c.name, func(t *testing.T) {
			I := c.interval
			s := lan(t, 1, c.vr, c.version, I, 200, 150, 100)
			stop := 10*I + I/3
			s.At(stop, func() { s.Shutdown("r1") })
			s.Run(20 * I)
			mustNoErr(t, s)

			want := []transition{
				{stop, "r1", vrrp.Master, vrrp.Initialize, vrrp.ReasonShutdown},
				{stop + SkewTime(c.version, 150, I), "r2", vrrp.Backup, vrrp.Master, vrrp.ReasonMasterNoResponse},
			}
			if diff := cmp.Diff(want, transitions(s, c.vr, stop-1)); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if got := s.TotalStats("r1", c.vr).SentPriZeroPackets; got != 1 {
				t.Errorf("r1 SentPriZeroPackets = %d, want 1", got)
			}
			for _, n := range []string{"r2", "r3"} {
				if got := s.Stats(n, c.vr).RcvdPriZeroPackets; got != 1 {
					t.Errorf("%s RcvdPriZeroPackets = %d, want 1", n, got)
				}
			}
		})
	}
}

// A partition leaves a master on each side; healing it leaves one, the
// higher priority.
func TestPartitionSplitBrainHeals(t *testing.T) {
	I := 100 * time.Millisecond
	s := lan(t, 1, vr4, 3, I, 200, 150, 100)
	s.At(10*I, func() { s.Partition([]string{"r1"}, []string{"r2", "r3"}) })
	s.Run(20 * I)
	if got := s.Masters(vr4); !cmp.Equal(got, []string{"r1", "r2"}) {
		t.Fatalf("during the partition Masters = %v, want [r1 r2]", got)
	}
	s.Heal()
	s.Run(22 * I)
	mustNoErr(t, s)
	if got := s.Masters(vr4); !cmp.Equal(got, []string{"r1"}) {
		t.Errorf("after healing Masters = %v, want [r1]", got)
	}
}

// RFC 9568 section 6.4.3: a master that hears a lower priority sends an
// advertisement at once (and announces), so a split brain heals at the
// first advertisement that crosses, whichever side sends it. RFC 5798
// discarded it: the lower master then waits for the higher one's next
// regular advertisement.
func TestHealLowerPriorityReadvertisement(t *testing.T) {
	for _, rfc5798 := range []bool{false, true} {
		I := time.Second
		s := New(1, Config{})
		for i, p := range []uint8{200, 150, 100} {
			if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
				t.Fatal(err)
			}
			cfg := vrConfig(vr4, 3, p, I)
			cfg.RFC5798 = rfc5798
			if err := s.AddVR(nodeName(i), cfg); err != nil {
				t.Fatal(err)
			}
			s.Start(nodeName(i))
		}
		s.At(10*I, func() { s.Partition([]string{"r1"}, []string{"r2", "r3"}) })
		s.Run(20 * I)
		if got := s.Masters(vr4); !cmp.Equal(got, []string{"r1", "r2"}) {
			t.Fatalf("RFC5798=%v: during the partition Masters = %v, want [r1 r2]", rfc5798, got)
		}
		// Heal just after r1's next advertisement, so that r2 (lower)
		// speaks first.
		r1next := lastSend(s, "r1", vr4, s.Now()) + I
		heal := r1next + time.Nanosecond
		s.At(heal, s.Heal)
		s.Run(30 * I)
		mustNoErr(t, s)
		r2first := lastSend(s, "r2", vr4, heal+I) // r2's first advertisement after heal
		if r2first <= heal || r2first >= r1next+I {
			t.Fatalf("r2 speaks at %v, want in (%v, %v)", r2first, heal, r1next+I)
		}
		resolved := r2first
		if rfc5798 {
			resolved = r1next + I
		}
		want := []transition{{resolved, "r2", vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority}}
		if diff := cmp.Diff(want, transitions(s, vr4, heal)); diff != "" {
			t.Errorf("RFC5798=%v: transitions after heal (-want +got):\n%s", rfc5798, diff)
		}
		var readvert []Record
		for _, r := range s.Trace() {
			if r.At == r2first && r.Node == "r1" {
				readvert = append(readvert, r)
			}
		}
		wantRe := []Record{
			{At: r2first, Kind: KindSend, Node: "r1", VR: vr4, Priority: 200},
			{At: r2first, Kind: KindAnnounce, Node: "r1", VR: vr4},
		}
		if rfc5798 {
			// No advertisement (RFC 5798 discards), but the
			// announcement, as keepalived's garp_lower_prio_repeat.
			wantRe = wantRe[1:]
		}
		if diff := cmp.Diff(wantRe, readvert); diff != "" {
			t.Errorf("RFC5798=%v: r1's reaction to r2's advertisement (-want +got):\n%s", rfc5798, diff)
		}
	}
}

// The owner returns after a crash and preempts at once; a backup whose
// priority is raised above the master's preempts when its running
// Master_Down_Timer fires (Machine.SetPriority does not move it).
func TestPreemption(t *testing.T) {
	I := time.Second
	s := lan(t, 1, vr4, 3, I, 200, 150, 100)
	s.At(10*I, func() { s.SetPriority("r3", vr4, 250) })
	s.Run(20 * I)
	mustNoErr(t, s)
	last := lastSend(s, "r1", vr4, 10*I)
	fire := last + MasterDownInterval(3, 100, I)
	want := []transition{
		{fire, "r3", vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted},
		{fire, "r1", vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority},
	}
	if diff := cmp.Diff(want, transitions(s, vr4, 10*I)); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	if got := s.Stats("r3", vr4).NewMasterReason; got != vrrp.ReasonPreempted {
		t.Errorf("r3 NewMasterReason = %v, want preempted", got)
	}
}

// An interface going down takes the master to Fault; its priority-0
// advertisement cannot leave the dead interface, so the backup waits the
// full Master_Down_Interval. When the interface returns, the router
// starts as a backup and preempts.
func TestInterfaceDownUp(t *testing.T) {
	I := 50 * time.Millisecond
	s := lan(t, 1, vr6, 3, I, 200, 150)
	s.At(10*I, func() { s.InterfaceDown("r1") })
	s.At(20*I, func() { s.InterfaceUp("r1") })
	s.Run(30 * I)
	mustNoErr(t, s)
	last := lastSend(s, "r1", vr6, 10*I-1)
	want := []transition{
		{10 * I, "r1", vrrp.Master, vrrp.Fault, vrrp.ReasonInterfaceDown},
		{last + MasterDownInterval(3, 150, I), "r2", vrrp.Backup, vrrp.Master, vrrp.ReasonMasterNoResponse},
		{20 * I, "r1", vrrp.Fault, vrrp.Backup, vrrp.ReasonInterfaceUp},
		{20*I + MasterDownInterval(3, 200, I), "r1", vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted},
		{20*I + MasterDownInterval(3, 200, I), "r2", vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority},
	}
	if diff := cmp.Diff(want, transitions(s, vr6, 10*I-1)); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	if got := s.Stats("r2", vr6).RcvdPriZeroPackets; got != 0 {
		t.Errorf("r2 RcvdPriZeroPackets = %d, want 0 (the interface was down)", got)
	}
}

// Advertisements with a TTL other than 255 are dropped and counted (RFC
// 9568 section 7.1): the backup never hears the master and takes over.
func TestTTLError(t *testing.T) {
	I := time.Second
	s := New(1, Config{})
	for i, p := range []uint8{200, 150} {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			t.Fatal(err)
		}
		if err := s.AddVR(nodeName(i), vrConfig(vr4, 3, p, I)); err != nil {
			t.Fatal(err)
		}
	}
	s.SetTTL("r1", 64)
	s.Start("r1")
	s.Start("r2")
	s.Run(10 * I)
	mustNoErr(t, s)
	if got := s.Masters(vr4); !cmp.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("Masters = %v, want [r1 r2]", got)
	}
	st := s.Stats("r2", vr4)
	if st.IPTTLErrors == 0 || st.ProtoErrReason != vrrp.ProtoErrTTL || st.RcvdAdvertisements != 0 {
		t.Errorf("r2 stats: IPTTLErrors=%d ProtoErrReason=%v Rcvd=%d, want >0, ipTtlError, 0",
			st.IPTTLErrors, st.ProtoErrReason, st.RcvdAdvertisements)
	}
}

// Each VRRPv3 IPv4 router sends the checksum form of its config; the
// receiver accepts both and counts which arrived.
func TestChecksumForms(t *testing.T) {
	I := time.Second
	s := New(1, Config{})
	for i, form := range []packet.Checksum{packet.ChecksumMessage, packet.ChecksumPseudoHeader} {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			t.Fatal(err)
		}
		cfg := vrConfig(vr4, 3, 200-uint8(i)*50, I)
		cfg.Checksum = form
		if err := s.AddVR(nodeName(i), cfg); err != nil {
			t.Fatal(err)
		}
	}
	s.Start("r1")
	s.Start("r2")
	s.Run(10 * I)
	s.Shutdown("r1")
	s.Restart("r1") // r2 is master now; r1 hears its pseudo-header form
	s.RunFor(10 * I)
	mustNoErr(t, s)
	r1, r2 := s.TotalStats("r1", vr4), s.TotalStats("r2", vr4)
	if r2.RcvdChecksumMessage == 0 || r2.RcvdChecksumMessage != r2.RcvdAdvertisements || r2.RcvdChecksumPseudo != 0 {
		t.Errorf("r2 received message=%d pseudo=%d of %d, want all message-form", r2.RcvdChecksumMessage, r2.RcvdChecksumPseudo, r2.RcvdAdvertisements)
	}
	if r1.RcvdChecksumPseudo == 0 || r1.RcvdChecksumPseudo != r1.RcvdAdvertisements || r1.RcvdChecksumMessage != 0 {
		t.Errorf("r1 received message=%d pseudo=%d of %d, want all pseudo-header form", r1.RcvdChecksumMessage, r1.RcvdChecksumPseudo, r1.RcvdAdvertisements)
	}
}

// A lossy link draws its fate from memnet.Decide: with total loss from r1
// to r2, r2 never hears r1 and both are masters; r1 hears r2 (lower) and,
// as RFC 9568 says, re-advertises each time.
func TestLinkLoss(t *testing.T) {
	I := 100 * time.Millisecond
	s := lan(t, 1, vr4, 3, I, 200, 150)
	s.SetLink("r1", "r2", memnet.Link{Loss: 1})
	s.Run(20 * I)
	mustNoErr(t, s)
	if got := s.Masters(vr4); !cmp.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("Masters = %v, want [r1 r2]", got)
	}
	if got := s.TotalStats("r2", vr4).RcvdAdvertisements; got != 0 {
		t.Errorf("r2 received %d advertisements over a link with loss 1", got)
	}
	if got, d := s.TotalStats("r1", vr4).RcvdAdvertisements, s.Delivered("r1", vr4).Adverts; got == 0 || got != d {
		t.Errorf("r1 received %d advertisements, %d delivered; want equal and > 0", got, d)
	}
}

// Several virtual routers of both families and both versions share the
// segment and the nodes without disturbing each other; a node that does
// not run a VRID counts its packets as VRID errors.
func TestManyVirtualRouters(t *testing.T) {
	I := 100 * time.Millisecond
	s := New(7, Config{})
	for i := 0; i < 3; i++ {
		if err := s.AddNode(nodeName(i), addr4(i), addr6(i)); err != nil {
			t.Fatal(err)
		}
	}
	// r3 is the best for ipv4/1, r1 for ipv6/2, r2 for v2 ipv4/3; r3
	// does not run ipv6/2.
	add := func(n string, vr VR, v uint8, p uint8, iv time.Duration) {
		t.Helper()
		if err := s.AddVR(n, vrConfig(vr, v, p, iv)); err != nil {
			t.Fatal(err)
		}
	}
	add("r1", vr4, 3, 100, I)
	add("r2", vr4, 3, 150, I)
	add("r3", vr4, 3, 200, I)
	add("r1", vr6, 3, 200, 2*I)
	add("r2", vr6, 3, 100, 2*I)
	add("r1", vr2, 2, 100, time.Second)
	add("r2", vr2, 2, 254, time.Second)
	add("r3", vr2, 2, 1, time.Second)
	for _, n := range s.Nodes() {
		s.Start(n)
	}
	s.Run(10 * time.Second)
	mustNoErr(t, s)
	got := map[VR][]string{vr4: s.Masters(vr4), vr6: s.Masters(vr6), vr2: s.Masters(vr2)}
	want := map[VR][]string{vr4: {"r3"}, vr6: {"r1"}, vr2: {"r2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("masters (-want +got):\n%s", diff)
	}
	if got := s.NodeErrors("r3"); got.VRIDErrors == 0 || got.ParseErrors != 0 {
		t.Errorf("r3 NodeErrors = %+v, want VRID errors for ipv6/2 and no parse errors", got)
	}
	if got := s.NodeErrors("r1"); got != (NodeErrors{}) {
		t.Errorf("r1 NodeErrors = %+v, want none", got)
	}
}

func TestConfigErrors(t *testing.T) {
	s := New(1, Config{})
	if err := s.AddNode("a", addr4(0), addr6(0)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNode("a", addr4(1), addr6(1)); err == nil {
		t.Error("AddNode with a duplicate name: no error")
	}
	if err := s.AddNode("b", addr4(0), addr6(1)); err == nil {
		t.Error("AddNode with a duplicate address: no error")
	}
	if err := s.AddNode("c", addr6(2), addr4(2)); err == nil {
		t.Error("AddNode with swapped families: no error")
	}
	if err := s.AddVR("a", vrrp.Config{VRID: 0, Addrs: vrConfig(vr4, 3, 100, 0).Addrs}); err == nil {
		t.Error("AddVR with VRID 0: no error")
	}
	if err := s.AddVR("a", vrConfig(vr4, 3, 100, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddVR("a", vrConfig(vr4, 3, 200, 0)); err == nil {
		t.Error("AddVR of the same VR twice: no error")
	}
}

func TestRecordString(t *testing.T) {
	for _, c := range []struct {
		r    Record
		want string
	}{
		{Record{At: 3218750 * time.Microsecond, Kind: KindTransition, Node: "r1", VR: vr4, From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonMasterNoResponse},
			"3.21875s transition r1 ipv4/1 Backup->Master masterNoResponse"},
		{Record{At: time.Second, Kind: KindSend, Node: "r2", VR: vr6, Priority: 0}, "1s send r2 ipv6/2 prio=0"},
		{Record{At: 0, Kind: KindPartition, Note: "{r1} | {r2 r3}"}, "0s partition {r1} | {r2 r3}"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}
