package vrrp_test

// Tests named after the normative sentences of RFC 9568 section 6.4
// (6.4.1 Initialize, 6.4.2 Backup, 6.4.3 Active), in the spirit of etcd
// raft's raft_paper_test.go, plus the Timers of section 6.1 and the
// receive checks of section 7.1 the Machine owns. RFC 9568 calls the
// master "Active Router"; this package keeps "Master".

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

func mtCheck(t *testing.T, what string, want, got []vrrp.Action) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s: actions mismatch (-want +got):\n%s", what, diff)
	}
}

func mtCheckDeadline(t *testing.T, m *vrrp.Machine, want time.Time) {
	t.Helper()
	if got := m.Deadline(); !got.Equal(want) {
		t.Errorf("Deadline() = +%v, want +%v", got.Sub(mt0), want.Sub(mt0))
	}
}

func mtCheckState(t *testing.T, m *vrrp.Machine, want vrrp.State) {
	t.Helper()
	if got := m.State(); got != want {
		t.Errorf("State() = %v, want %v", got, want)
	}
}

// Section 6.1: "Skew_Time: Time to skew Active_Down_Interval in
// centiseconds. Calculated as: (((256 - Priority) * Active_Adver_Interval)
// / 256)" and "Active_Down_Interval: Time interval for the Backup Router to
// declare Active Router down (centiseconds). Calculated as: (3 *
// Active_Adver_Interval) + Skew_Time". Computed at full precision (see the
// package doc).
func TestRFC9568_6_1_SkewTimeAndActiveDownInterval(t *testing.T) {
	for _, tc := range []struct {
		prio     uint8
		interval time.Duration
		want     time.Duration
	}{
		{100, time.Second, 3*time.Second + 609375*time.Microsecond},
		{1, time.Second, 3*time.Second + 255*time.Second/256},
		{254, time.Second, 3*time.Second + 2*time.Second/256},
		{100, 10 * time.Millisecond, 30*time.Millisecond + 6093750*time.Nanosecond},
		{150, 10 * time.Millisecond, 30*time.Millisecond + 4140625*time.Nanosecond},
		{200, 40950 * time.Millisecond, 3*40950*time.Millisecond + 56*40950*time.Millisecond/256},
	} {
		cfg := mtConfig()
		cfg.Priority, cfg.AdvertInterval = tc.prio, tc.interval
		m := mtStartBackup(t, cfg)
		if got := m.Deadline().Sub(mt0); got != tc.want {
			t.Errorf("prio %d interval %v: Active_Down_Interval %v, want %v", tc.prio, tc.interval, got, tc.want)
		}
	}
}

// Section 6.4.1: "The purpose of this state is to wait for a Startup
// event."
func TestRFC9568_6_4_1_InitializeWaitsForStartup(t *testing.T) {
	cfg := mtConfig()
	m := mtNew(t, cfg)
	mtCheckState(t, m, vrrp.Initialize)
	mtCheckDeadline(t, m, time.Time{})
	mtCheck(t, "Tick", nil, m.Tick(mt0.Add(time.Hour)))
	mtCheck(t, "Receive", nil, m.Receive(mt0, mtAdv(cfg, 200), mtHigher, 255, mtPseudo))
	mtCheck(t, "Receive priority 0", nil, m.Receive(mt0, mtAdv(cfg, 0), mtHigher, 255, mtPseudo))
	mtCheck(t, "Shutdown", nil, m.Shutdown(mt0))
	mtCheckState(t, m, vrrp.Initialize)
	if s := m.Stats(); s != (vrrp.Stats{}) {
		t.Errorf("Stats in Initialize = %+v, want zero", s)
	}
}

// Section 6.4.1: "If the Priority = 255 (i.e., the router owns the IPvX
// address associated with the Virtual Router), then: + Send an
// ADVERTISEMENT + If the protected IPvX address is an IPv4 address, then:
// * For each IPv4 address associated with the Virtual Router, broadcast a
// gratuitous ARP message [...] + else // IPv6 * [...] send an unsolicited
// ND Neighbor Advertisement [...] + Set the Adver_Timer to
// Advertisement_Interval + Transition to the {Active} state"
func TestRFC9568_6_4_1_StartupOwnerBecomesActive(t *testing.T) {
	for _, cfg := range []vrrp.Config{
		{VRID: 1, Priority: 255, AdvertInterval: 250 * time.Millisecond, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf},
		{VRID: 1, Priority: 255, AdvertInterval: 250 * time.Millisecond, Addrs: []netip.Addr{mtVIP6LL, mtVIP6}, Primary: mtSelf6},
	} {
		m := mtNew(t, cfg)
		mtCheck(t, "Start", mtBecomeMaster(vrrp.Initialize, vrrp.ReasonStart, 255), m.Start(mt0))
		mtCheckState(t, m, vrrp.Master)
		mtCheckDeadline(t, m, mt0.Add(250*time.Millisecond))
		if s := m.Stats(); s.NewMasterReason != vrrp.ReasonPriority || s.MasterTransitions != 1 {
			t.Errorf("NewMasterReason %v MasterTransitions %d, want priority, 1", s.NewMasterReason, s.MasterTransitions)
		}
	}
}

// Section 6.4.1: "else // Router is not the address owner + Set
// Active_Adver_Interval to Advertisement_Interval + Set the
// Active_Down_Timer to Active_Down_Interval + Transition to the {Backup}
// state"
func TestRFC9568_6_4_1_StartupNonOwnerBecomesBackup(t *testing.T) {
	cfg := mtConfig()
	cfg.AdvertInterval = 2 * time.Second
	m := mtNew(t, cfg)
	mtCheck(t, "Start", []vrrp.Action{mtTrans(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, m.Start(mt0))
	mtCheckState(t, m, vrrp.Backup)
	mtCheckDeadline(t, m, mt0.Add(6*time.Second+156*2*time.Second/256))
	if got := m.Stats().RefreshRate; got != 2*time.Second {
		t.Errorf("RefreshRate (Active_Adver_Interval) = %v, want 2s", got)
	}
}

// Section 6.4.2: "It MUST NOT respond to ARP requests for the IPv4
// address(es) associated with the Virtual Router", "It MUST NOT respond to
// ND Neighbor Solicitation messages for the IPv6 address(es) [...]", "It
// MUST NOT accept packets addressed to the IPvX address(es) associated
// with the Virtual Router." The Machine's part: a Backup never holds the
// addresses. It does not take them on entering Backup and releases them
// on leaving Active for Backup.
func TestRFC9568_6_4_2_BackupMustNotHoldAddresses(t *testing.T) {
	cfg := mtConfig()
	m := mtNew(t, cfg)
	for _, a := range m.Start(mt0) {
		if a.Kind == vrrp.ActTakeAddrs || a.Kind == vrrp.ActAnnounce || a.Kind == vrrp.ActSend {
			t.Errorf("Start of a backup emitted %v", a)
		}
	}
	now := m.Deadline()
	m.Tick(now)
	got := mtRecv(m, now, mtAdv(cfg, 200), mtHigher)
	mtCheck(t, "Active hears better", []vrrp.Action{mtRelease, mtTrans(vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority)}, got)
}

// Section 6.4.2: "If a Shutdown event is received, then: - Cancel the
// Active_Down_Timer - Transition to the {Initialize} state"
func TestRFC9568_6_4_2_BackupShutdown(t *testing.T) {
	m := mtStartBackup(t, mtConfig())
	mtCheck(t, "Shutdown", []vrrp.Action{mtTrans(vrrp.Backup, vrrp.Initialize, vrrp.ReasonShutdown)}, m.Shutdown(mt0.Add(time.Second)))
	mtCheckState(t, m, vrrp.Initialize)
	mtCheckDeadline(t, m, time.Time{})
	mtCheck(t, "Tick after Shutdown", nil, m.Tick(mt0.Add(time.Hour)))
}

// Section 6.4.2: "If the Active_Down_Timer fires, then: - Send an
// ADVERTISEMENT - If the protected IPvX address is an IPv4 address, then:
// + For each IPv4 address associated with the Virtual Router, broadcast a
// gratuitous ARP message [...] - else // IPv6 [...] send an unsolicited
// ND Neighbor Advertisement [...] - Set the Adver_Timer to
// Advertisement_Interval - Transition to the {Active} state"
func TestRFC9568_6_4_2_ActiveDownTimerFires(t *testing.T) {
	m := mtStartBackup(t, mtConfig())
	fire := mt0.Add(3609375 * time.Microsecond)
	mtCheck(t, "Tick just before", nil, m.Tick(fire.Add(-time.Nanosecond)))
	mtCheck(t, "Tick", mtBecomeMaster(vrrp.Backup, vrrp.ReasonMasterNoResponse, 100), m.Tick(fire))
	mtCheckState(t, m, vrrp.Master)
	mtCheckDeadline(t, m, fire.Add(time.Second))
	s := m.Stats()
	if s.NewMasterReason != vrrp.ReasonMasterNoResponse || s.MasterTransitions != 1 || s.SentAdvertisements != 1 {
		t.Errorf("stats %+v", s)
	}
}

// Section 6.4.2: "If the Priority in the ADVERTISEMENT is 0, then: + Set
// the Active_Down_Timer to Skew_Time"
func TestRFC9568_6_4_2_BackupPriorityZeroSetsSkewTime(t *testing.T) {
	cfg := mtConfig()
	m := mtStartBackup(t, cfg)
	at := mt0.Add(time.Second)
	mtRecv(m, at, mtAdv(cfg, 200), mtHigher)
	at = at.Add(time.Second)
	mtCheck(t, "priority 0", nil, mtRecv(m, at, mtAdv(cfg, 0), mtHigher))
	mtCheckDeadline(t, m, at.Add(609375*time.Microsecond))
	if got := m.Stats().RcvdPriZeroPackets; got != 1 {
		t.Errorf("RcvdPriZeroPackets = %d, want 1", got)
	}
	mtCheck(t, "takeover", mtBecomeMaster(vrrp.Backup, vrrp.ReasonMasterNoResponse, 100), m.Tick(m.Deadline()))
}

// Section 6.4.2: "If Preempt_Mode is False, or if the Priority in the
// ADVERTISEMENT is greater than or equal to the local Priority, then: @
// Set the Active_Adver_Interval to the Max Advertise Interval contained in
// the ADVERTISEMENT @ Recompute the Skew_Time @ Recompute the
// Active_Down_Interval @ Set the Active_Down_Timer to
// Active_Down_Interval"
func TestRFC9568_6_4_2_BackupAcceptsAndLearns(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prio      uint8
		noPreempt bool
		advPrio   uint8
		interval  time.Duration
	}{
		{"greater", 100, false, 200, 3 * time.Second},
		{"equal", 100, false, 100, 500 * time.Millisecond},
		{"lower with Preempt_Mode False", 200, true, 100, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mtConfig()
			cfg.Priority, cfg.NoPreempt = tc.prio, tc.noPreempt
			m := mtStartBackup(t, cfg)
			adv := mtAdv(cfg, tc.advPrio)
			if err := adv.SetInterval(tc.interval); err != nil {
				t.Fatal(err)
			}
			at := mt0.Add(1500 * time.Millisecond)
			mtCheck(t, "Receive", nil, mtRecv(m, at, adv, mtHigher))
			skew := time.Duration(256-int(tc.prio)) * tc.interval / 256
			mtCheckDeadline(t, m, at.Add(3*tc.interval+skew))
			if m.Master() != mtHigher {
				t.Errorf("Master() = %v, want %v", m.Master(), mtHigher)
			}
			if got := m.Stats().RefreshRate; got != tc.interval {
				t.Errorf("RefreshRate = %v, want the learned %v", got, tc.interval)
			}
		})
	}
}

// Section 6.4.2: "else // preempt was true and priority was less than the
// local priority @ Discard the ADVERTISEMENT". The Active_Down_Timer then
// fires and the router preempts (RFC 6527 newMasterReason preempted).
func TestRFC9568_6_4_2_BackupPreemptsLowerPriority(t *testing.T) {
	cfg := mtConfig()
	cfg.Priority = 200
	m := mtStartBackup(t, cfg)
	before := m.Deadline()
	adv := mtAdv(cfg, 100)
	adv.MaxAdvertInt = 1 // 10ms: must not be learned
	mtCheck(t, "Receive", nil, mtRecv(m, mt0.Add(time.Second), adv, mtHigher))
	mtCheckDeadline(t, m, before)
	mtCheck(t, "takeover", mtBecomeMaster(vrrp.Backup, vrrp.ReasonPreempted, 200), m.Tick(before))
	if got := m.Stats().NewMasterReason; got != vrrp.ReasonPreempted {
		t.Errorf("NewMasterReason = %v, want preempted", got)
	}
}

// Section 6.4.3: "It MUST respond to ARP requests for the IPv4 address(es)
// associated with the Virtual Router", "It MUST respond to ND Neighbor
// Solicitation messages [...]". The Machine's part: on becoming Active it
// takes the addresses before it advertises them, and announces them.
func TestRFC9568_6_4_3_ActiveTakesAddresses(t *testing.T) {
	m := mtStartBackup(t, mtConfig())
	got := m.Tick(m.Deadline())
	idx := map[vrrp.ActionKind]int{}
	for i, a := range got {
		idx[a.Kind] = i + 1
	}
	if idx[vrrp.ActTakeAddrs] == 0 || idx[vrrp.ActAnnounce] == 0 || idx[vrrp.ActTakeAddrs] > idx[vrrp.ActSend] {
		t.Errorf("becoming Active: %v, want take before send, and announce", got)
	}
}

// Section 6.4.3: "It MUST accept packets addressed to the IPvX address(es)
// associated with the Virtual Router if it is the IPvX address owner or if
// Accept_Mode is True. Otherwise, it MUST NOT accept these packets." The
// host acts on it; the Machine reports Accept_Mode and ownership.
func TestRFC9568_6_4_3_AcceptModeReported(t *testing.T) {
	for _, tc := range []struct {
		prio   uint8
		accept bool
	}{{100, false}, {100, true}, {255, false}} {
		cfg := mtConfig()
		cfg.Priority, cfg.AcceptMode = tc.prio, tc.accept
		m := mtNew(t, cfg)
		if got := m.Config(); got.AcceptMode != tc.accept || got.Priority != tc.prio {
			t.Errorf("Config() AcceptMode %v Priority %d, want %v %d", got.AcceptMode, got.Priority, tc.accept, tc.prio)
		}
	}
}

// Section 6.4.3: "If a Shutdown event is received, then: - Cancel the
// Adver_Timer - Send an ADVERTISEMENT with Priority = 0 - Transition to
// the {Initialize} state"
func TestRFC9568_6_4_3_ActiveShutdown(t *testing.T) {
	m, now := mtStartMaster(t, mtConfig())
	want := []vrrp.Action{mtRelease, mtSend(0), mtTrans(vrrp.Master, vrrp.Initialize, vrrp.ReasonShutdown)}
	mtCheck(t, "Shutdown", want, m.Shutdown(now))
	mtCheckState(t, m, vrrp.Initialize)
	mtCheckDeadline(t, m, time.Time{})
	if s := m.Stats(); s.SentPriZeroPackets != 1 {
		t.Errorf("SentPriZeroPackets = %d, want 1", s.SentPriZeroPackets)
	}
	if a := m.Advertisement(0); a.Priority != 0 {
		t.Errorf("Advertisement(0).Priority = %d", a.Priority)
	}
}

// Section 6.4.3: "If the Adver_Timer fires, then: - Send an ADVERTISEMENT
// - Reset the Adver_Timer to Advertisement_Interval"
func TestRFC9568_6_4_3_AdverTimerFires(t *testing.T) {
	cfg := mtConfig()
	cfg.AdvertInterval = 10 * time.Millisecond
	m, now := mtStartMaster(t, cfg)
	for i := 0; i < 5; i++ {
		next := now.Add(10 * time.Millisecond)
		mtCheckDeadline(t, m, next)
		mtCheck(t, "early Tick", nil, m.Tick(next.Add(-time.Nanosecond)))
		mtCheck(t, "Tick", []vrrp.Action{mtSend(100)}, m.Tick(next))
		now = next
	}
}

// Section 6.4.3: "If the Priority in the ADVERTISEMENT is 0, then: + Send
// an ADVERTISEMENT + Reset the Adver_Timer to Advertisement_Interval"
func TestRFC9568_6_4_3_ActivePriorityZero(t *testing.T) {
	cfg := mtConfig()
	m, now := mtStartMaster(t, cfg)
	at := now.Add(300 * time.Millisecond)
	mtCheck(t, "priority 0", []vrrp.Action{mtSend(100)}, mtRecv(m, at, mtAdv(cfg, 0), mtHigher))
	mtCheckDeadline(t, m, at.Add(time.Second))
	mtCheckState(t, m, vrrp.Master)
}

// Section 6.4.3: "If the Priority in the ADVERTISEMENT is greater than the
// local Priority or the Priority in the ADVERTISEMENT is equal to the
// local Priority and the primary IPvX address of the sender is greater
// than the local primary IPvX address (based on an unsigned integer
// comparison of the IPvX addresses in network byte order), then: @ Cancel
// Adver_Timer @ Set the Active_Adver_Interval to the Max Advertise
// Interval contained in the ADVERTISEMENT @ Recompute the Skew_Time @
// Recompute the Active_Down_Interval @ Set the Active_Down_Timer to
// Active_Down_Interval @ Transition to the {Backup} state"
func TestRFC9568_6_4_3_ActiveYieldsToBetter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		self    netip.Addr
		src     netip.Addr
		addrs   []netip.Addr
		advPrio uint8
	}{
		{"greater priority from a lower address", mtSelf, mtLower, []netip.Addr{mtVIP}, 101},
		{"equal priority from a greater address", mtSelf, mtHigher, []netip.Addr{mtVIP}, 100},
		// Unsigned: 200.0.0.1 > 10.0.0.1 although its top bit is set.
		{"equal priority, unsigned comparison", mtSelf, netip.MustParseAddr("200.0.0.1"), []netip.Addr{mtVIP}, 100},
		{"equal priority IPv6", mtSelf6, netip.MustParseAddr("fe80::1:0"), []netip.Addr{mtVIP6LL}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mtConfig()
			cfg.Addrs, cfg.Primary = tc.addrs, tc.self
			m, now := mtStartMaster(t, cfg)
			at := now.Add(100 * time.Millisecond)
			adv := mtAdv(cfg, tc.advPrio)
			adv.MaxAdvertInt = 200 // 2s, learned
			got := mtRecv(m, at, adv, tc.src)
			mtCheck(t, "Receive", []vrrp.Action{mtRelease, mtTrans(vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority)}, got)
			mtCheckDeadline(t, m, at.Add(6*time.Second+156*2*time.Second/256))
			if m.Master() != tc.src {
				t.Errorf("Master() = %v, want %v", m.Master(), tc.src)
			}
		})
	}
}

// Section 6.4.3: "else // new Active Router logic @ Discard the
// ADVERTISEMENT @ Send an ADVERTISEMENT immediately to assert the {Active}
// state to the sending VRRP Router and to update any learning bridges with
// the correct Active VRRP Router path." The Adver_Timer is not reset; the
// addresses are announced again too (split brain, learning bridges).
func TestRFC9568_6_4_3_ActiveAssertsOverLower(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     netip.Addr
		advPrio uint8
	}{
		{"lower priority", mtHigher, 99},
		{"equal priority from a lower address", mtLower, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mtConfig()
			m, now := mtStartMaster(t, cfg)
			deadline := m.Deadline()
			got := mtRecv(m, now.Add(400*time.Millisecond), mtAdv(cfg, tc.advPrio), tc.src)
			mtCheck(t, "Receive", []vrrp.Action{mtSend(100), mtAnnounce}, got)
			mtCheckDeadline(t, m, deadline)
			mtCheckState(t, m, vrrp.Master)
		})
	}
}

// The RFC 5798 text of section 6.4.3 ended with "else // new Master logic
// @ Discard ADVERTISEMENT"; Config.RFC5798 restores it.
func TestRFC5798_6_4_3_ActiveDiscardsLower(t *testing.T) {
	cfg := mtConfig()
	cfg.RFC5798 = true
	m, now := mtStartMaster(t, cfg)
	deadline := m.Deadline()
	mtCheck(t, "Receive", nil, mtRecv(m, now.Add(time.Millisecond), mtAdv(cfg, 50), mtHigher))
	mtCheckDeadline(t, m, deadline)
}

// Section 7.1: "It MUST verify that the IPv4 TTL/IPv6 Hop Limit is 255."
// "If any one of the above checks fails, the receiver MUST discard the
// packet".
func TestRFC9568_7_1_TTLMustBe255(t *testing.T) {
	cfg := mtConfig()
	m := mtStartBackup(t, cfg)
	deadline := m.Deadline()
	for _, ttl := range []int{0, 1, 64, 254, 256, -1} {
		mtCheck(t, "Receive", nil, m.Receive(mt0.Add(time.Second), mtAdv(cfg, 200), mtHigher, ttl, mtPseudo))
	}
	mtCheckDeadline(t, m, deadline)
	if s := m.Stats(); s.IPTTLErrors != 6 || s.ProtoErrReason != vrrp.ProtoErrTTL || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Section 7.1: "It MUST verify that the VRRP version is 3."
func TestRFC9568_7_1_VersionMustBe3(t *testing.T) {
	cfg := mtConfig()
	m := mtStartBackup(t, cfg)
	adv := mtAdv(cfg, 200)
	adv.Version = 2
	mtCheck(t, "Receive", nil, mtRecv(m, mt0.Add(time.Second), adv, mtHigher))
	mtCheckDeadline(t, m, mt0.Add(3609375*time.Microsecond))
	if s := m.Stats(); s.ProtoErrReason != vrrp.ProtoErrVersion || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Section 7.1: "It MUST verify that the VRID is configured on the
// receiving interface".
func TestRFC9568_7_1_VRIDMustBeConfigured(t *testing.T) {
	cfg := mtConfig()
	m := mtStartBackup(t, cfg)
	adv := mtAdv(cfg, 200)
	adv.VRID = 2
	mtCheck(t, "Receive", nil, mtRecv(m, mt0.Add(time.Second), adv, mtHigher))
	if s := m.Stats(); s.ProtoErrReason != vrrp.ProtoErrVRID || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
	if m.Master().IsValid() {
		t.Errorf("Master() = %v after a foreign VRID", m.Master())
	}
}

// Section 7.1 (errata 8301): "It MUST verify that the Max Advertise
// Interval is non zero". Errata 8299: "If the received count is 0, the
// VRRP advertisement MUST be ignored."
func TestRFC9568_7_1_ZeroIntervalAndCountDiscarded(t *testing.T) {
	cfg := mtConfig()
	m := mtStartBackup(t, cfg)
	adv := mtAdv(cfg, 200)
	adv.MaxAdvertInt = 0
	mtCheck(t, "interval 0", nil, mtRecv(m, mt0, adv, mtHigher))
	adv = mtAdv(cfg, 200)
	adv.Addrs = nil
	mtCheck(t, "count 0", nil, mtRecv(m, mt0, adv, mtHigher))
	if s := m.Stats(); s.AdvIntervalErrors != 1 || s.AddressListErrors != 1 || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
	mtCheckDeadline(t, m, mt0.Add(3609375*time.Microsecond))
}

// Section 7.1: "A receiver SHOULD also verify that the Max Advertise
// Interval in the received VRRP packet matches the Advertisement_Interval
// configured for the VRID. [...] If this check fails, the receiver SHOULD
// log the event [...] and MAY indicate via network management that a
// misconfiguration was detected." Counted, and processed (learned).
func TestRFC9568_7_1_IntervalMismatchLoggedAndProcessed(t *testing.T) {
	cfg := mtConfig()
	m := mtStartBackup(t, cfg)
	adv := mtAdv(cfg, 200)
	adv.MaxAdvertInt = 50
	mtRecv(m, mt0, adv, mtHigher)
	if s := m.Stats(); s.AdvIntervalErrors != 1 || s.RcvdAdvertisements != 1 || s.RefreshRate != 500*time.Millisecond {
		t.Errorf("stats %+v", s)
	}
}

// Section 7.1: "A receiver MAY also verify that "IPvX Addr Count" and the
// list of IPvX address(es) match the IPvX address(es) configured for the
// VRID. If this check fails, the receiver SHOULD log (subject to
// rate-limiting) the event and MAY indicate via network management that a
// misconfiguration was detected." Counted and processed; order does not
// matter.
func TestRFC9568_7_1_AddressListMismatchLoggedAndProcessed(t *testing.T) {
	cfg := mtConfig()
	cfg.Addrs = []netip.Addr{mtVIP, mtOther}
	m := mtStartBackup(t, cfg)
	adv := mtAdv(cfg, 200)
	adv.Addrs = []netip.Addr{mtOther, mtVIP}
	mtRecv(m, mt0, adv, mtHigher)
	if got := m.Stats().AddressListErrors; got != 0 {
		t.Errorf("reordered list: AddressListErrors = %d, want 0", got)
	}
	adv.Addrs = []netip.Addr{mtVIP}
	at := mt0.Add(time.Second)
	mtRecv(m, at, adv, mtHigher)
	if s := m.Stats(); s.AddressListErrors != 1 || s.RcvdAdvertisements != 2 {
		t.Errorf("stats %+v", s)
	}
	mtCheckDeadline(t, m, at.Add(3609375*time.Microsecond))
}

// Section 7.1 (errata 8298): "It SHOULD verify that the local router is
// not the IPvX address owner (Priority = 255 (decimal)) and log the event
// [...] and MAY indicate via network management that a misconfiguration
// was detected." Not a discard: the owner counts it and, as Active, stays
// Active.
func TestRFC9568_7_1_OwnerReceivingLogsAndStays(t *testing.T) {
	cfg := mtConfig()
	cfg.Priority = 255
	m := mtNew(t, cfg)
	m.Start(mt0)
	mtCheck(t, "255 from a higher address", nil, mtRecv(m, mt0, mtAdv(cfg, 255), mtHigher))
	mtCheck(t, "lower", []vrrp.Action{mtSend(255), mtAnnounce}, mtRecv(m, mt0, mtAdv(cfg, 254), mtHigher))
	mtCheckState(t, m, vrrp.Master)
	if s := m.Stats(); s.OwnerRcvdAdvertisements != 2 || s.RcvdAdvertisements != 2 {
		t.Errorf("stats %+v", s)
	}
}

// Section 5.2.8 and 7.1: "It MUST verify the VRRP checksum." Both IPv4
// forms verify; the Machine counts which one arrived.
func TestRFC9568_5_2_8_ChecksumFormCounted(t *testing.T) {
	cfg := mtConfig()
	m := mtStartBackup(t, cfg)
	m.Receive(mt0, mtAdv(cfg, 200), mtHigher, 255, mtMessage)
	m.Receive(mt0, mtAdv(cfg, 200), mtHigher, 255, mtPseudo)
	m.Receive(mt0, mtAdv(cfg, 200), mtHigher, 255, mtPseudo)
	if s := m.Stats(); s.RcvdChecksumMessage != 1 || s.RcvdChecksumPseudo != 2 {
		t.Errorf("stats %+v", s)
	}
	m.CountError(packet.ErrChecksum)
	if s := m.Stats(); s.ProtoErrReason != vrrp.ProtoErrChecksum {
		t.Errorf("ProtoErrReason = %v after ErrChecksum", s.ProtoErrReason)
	}
}

// Section 5.2.9: "For IPv6, the first address MUST be the IPv6 link-local
// address associated with the Virtual Router." keepalived breaks it;
// counted, processed.
func TestRFC9568_5_2_9_NoLinkLocalFirstCounted(t *testing.T) {
	cfg := mtConfig()
	cfg.Addrs, cfg.Primary = []netip.Addr{mtVIP6}, mtSelf6
	m := mtStartBackup(t, cfg)
	m.Receive(mt0, mtAdv(cfg, 200), mtPeer6, 255, packet.Info{Checksum: packet.ChecksumPseudoHeader, NoLinkLocalFirst: true})
	if s := m.Stats(); s.NoLinkLocalFirst != 1 || s.RcvdAdvertisements != 1 {
		t.Errorf("stats %+v", s)
	}
	if m.Master() != mtPeer6 {
		t.Errorf("Master() = %v", m.Master())
	}
}

// Section 5.2.7: "The Max Advertise Interval is a 12-bit field that
// indicates the time interval (in centiseconds) between ADVERTISEMENTS."
func TestRFC9568_5_2_7_AdvertisementIntervalInCentiseconds(t *testing.T) {
	cfg := mtConfig()
	cfg.AdvertInterval = 40950 * time.Millisecond
	m := mtNew(t, cfg)
	want := &packet.Advertisement{Version: 3, Type: packet.TypeAdvertisement, VRID: 1, Priority: 100, MaxAdvertInt: 4095, Addrs: []netip.Addr{mtVIP}}
	if diff := cmp.Diff(want, m.Advertisement(100), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Advertisement (-want +got):\n%s", diff)
	}
}
