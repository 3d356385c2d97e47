package vrrp_test

// Tests for where VRRPv2 (RFC 3768) differs from VRRPv3, named after the
// sentences of RFC 3768 sections 5.3, 6.1, 6.4 and 7.1 (and RFC 2338 for
// the simple password keepalived still sends). Quotes are the RFC's words,
// abridged with "[...]". The differences: timers in seconds and a skew
// that does not scale with the interval; no learned interval; a master
// silently discards a lower priority; the owner discards every
// advertisement; an interval or (non-owner) address list other than ours
// is discarded; authentication; no Accept_Mode.
//
// The RFC 3768 quotes were checked word for word against copies of the
// text found in third-party sources, not the RFC itself: the section 6.4.2,
// 6.4.3, 7.1, 5.2.3 and 5.3.6 sentences against the ze project's
// requirement ledger, the section 6.1 Skew_Time and Master_Down_Interval
// definitions against the comments of the ipnet vrrpd source, the 6.4.1
// and 6.4.2 gratuitous ARP bullets against the comments of Ryu's VRRP
// dumper, and the 5.3.7 sentence against gopacket's VRRPv2 layer. The
// rest of section 6.4.1 (the owner condition and its other bullets, and
// the non-owner bullets) is not checked.

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/transport/memnet"
	"github.com/govrrp/govrrp/vrrp"
)

// mtSkewV2 is the VRRPv2 Skew_Time, (256 - Priority) / 256 seconds.
func mtSkewV2(prio uint8) time.Duration { return time.Duration(256-int(prio)) * time.Second / 256 }

// Section 6.1: Skew_Time is "Time to skew Master_Down_Interval in seconds.
// Calculated as: ( (256 - Priority) / 256 )"; Master_Down_Interval is
// "(3 * Advertisement_Interval) + Skew_time". Unlike VRRPv3 the skew does
// not scale with the interval.
func TestRFC3768_6_1_SkewTimeInSeconds(t *testing.T) {
	for _, tc := range []struct {
		prio     uint8
		interval time.Duration
		want     time.Duration
	}{
		{100, time.Second, 3*time.Second + 609375*time.Microsecond},
		{100, 3 * time.Second, 9*time.Second + 609375*time.Microsecond},
		{1, 10 * time.Second, 30*time.Second + 255*time.Second/256},
		{254, 255 * time.Second, 765*time.Second + 2*time.Second/256},
	} {
		cfg := mtConfigV2()
		cfg.Priority, cfg.AdvertInterval = tc.prio, tc.interval
		m := mtStartBackup(t, cfg)
		if got := m.Deadline().Sub(mt0); got != tc.want {
			t.Errorf("prio %d interval %v: Master_Down_Interval %v, want %v", tc.prio, tc.interval, got, tc.want)
		}
	}
}

// Section 6.4.1: "If the Priority = 255 (i.e., the router owns the IP
// address(es) associated with the virtual router) o Send an
// ADVERTISEMENT o Broadcast a gratuitous ARP request containing the
// virtual router MAC address for each IP address associated with the
// virtual router. o Set the Adver_Timer to Advertisement_Interval o
// Transition to the {Master} state".
func TestRFC3768_6_4_1_StartupOwner(t *testing.T) {
	cfg := mtConfigV2()
	cfg.Priority, cfg.AdvertInterval = 255, 3*time.Second
	m := mtNew(t, cfg)
	mtCheck(t, "Start", mtBecomeMaster(vrrp.Initialize, vrrp.ReasonStart, 255), m.Start(mt0))
	mtCheckDeadline(t, m, mt0.Add(3*time.Second))
}

// Section 6.4.1, otherwise (priority below 255): "o Set the
// Master_Down_Timer to Master_Down_Interval o Transition to the {Backup}
// state".
func TestRFC3768_6_4_1_StartupNonOwner(t *testing.T) {
	m := mtNew(t, mtConfigV2())
	mtCheck(t, "Start", []vrrp.Action{mtTrans(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, m.Start(mt0))
	mtCheckDeadline(t, m, mt0.Add(3*time.Second+mtSkewV2(100)))
}

// Section 6.4.2: "If a Shutdown event is received, then: o Cancel the
// Master_Down_Timer o Transition to the {Initialize} state".
func TestRFC3768_6_4_2_BackupShutdown(t *testing.T) {
	m := mtStartBackup(t, mtConfigV2())
	mtCheck(t, "Shutdown", []vrrp.Action{mtTrans(vrrp.Backup, vrrp.Initialize, vrrp.ReasonShutdown)}, m.Shutdown(mt0.Add(time.Second)))
	mtCheckDeadline(t, m, time.Time{})
}

// Section 6.4.2: "If the Master_Down_Timer fires, then: o Send an
// ADVERTISEMENT o Broadcast a gratuitous ARP request containing the
// virtual router MAC address for each IP address associated with the
// virtual router o Set the Adver_Timer to Advertisement_Interval o
// Transition to the {Master} state".
func TestRFC3768_6_4_2_MasterDownTimerFires(t *testing.T) {
	cfg := mtConfigV2()
	cfg.AdvertInterval = 2 * time.Second
	m := mtStartBackup(t, cfg)
	fire := mt0.Add(6*time.Second + mtSkewV2(100))
	mtCheckDeadline(t, m, fire)
	mtCheck(t, "Tick", mtBecomeMaster(vrrp.Backup, vrrp.ReasonMasterNoResponse, 100), m.Tick(fire))
	mtCheckDeadline(t, m, fire.Add(2*time.Second))
}

// Section 6.4.2: "If the Priority in the ADVERTISEMENT is Zero, then: o
// Set the Master_Down_Timer to Skew_Time". The VRRPv2 Skew_Time does not
// depend on the interval.
func TestRFC3768_6_4_2_BackupPriorityZeroSetsSkewTime(t *testing.T) {
	cfg := mtConfigV2()
	cfg.AdvertInterval = 5 * time.Second
	m := mtStartBackup(t, cfg)
	at := mt0.Add(2 * time.Second)
	mtCheck(t, "priority 0", nil, mtRecv(m, at, mtAdv(cfg, 0), mtHigher))
	mtCheckDeadline(t, m, at.Add(mtSkewV2(100)))
}

// Section 6.4.2: "If Preempt_Mode is False, or If the Priority in the
// ADVERTISEMENT is greater than or equal to the local Priority, then: o
// Reset the Master_Down_Timer to Master_Down_Interval". There is no
// learned interval in VRRPv2 (one other than ours is discarded, section
// 7.1).
func TestRFC3768_6_4_2_BackupResetsMasterDownTimer(t *testing.T) {
	for _, tc := range []struct {
		noPreempt bool
		advPrio   uint8
	}{{false, 200}, {false, 100}, {true, 50}} {
		cfg := mtConfigV2()
		cfg.AdvertInterval, cfg.NoPreempt = 2*time.Second, tc.noPreempt
		m := mtStartBackup(t, cfg)
		at := mt0.Add(1500 * time.Millisecond)
		mtCheck(t, "Receive", nil, mtRecv(m, at, mtAdv(cfg, tc.advPrio), mtHigher))
		mtCheckDeadline(t, m, at.Add(6*time.Second+mtSkewV2(100)))
		if got := m.Stats().RefreshRate; got != 2*time.Second {
			t.Errorf("RefreshRate = %v, want 2s", got)
		}
	}
}

// Section 6.4.2: "else: o Discard the ADVERTISEMENT" (Preempt_Mode and a
// lower priority).
func TestRFC3768_6_4_2_BackupDiscardsLower(t *testing.T) {
	cfg := mtConfigV2()
	cfg.Priority = 200
	m := mtStartBackup(t, cfg)
	d := m.Deadline()
	mtRecv(m, mt0.Add(time.Second), mtAdv(cfg, 100), mtHigher)
	mtCheckDeadline(t, m, d)
	mtCheck(t, "takeover", mtBecomeMaster(vrrp.Backup, vrrp.ReasonPreempted, 200), m.Tick(d))
}

// Section 6.4.3: "If the Adver_Timer fires, then: o Send an ADVERTISEMENT
// o Reset the Adver_Timer to Advertisement_Interval".
func TestRFC3768_6_4_3_AdverTimerFires(t *testing.T) {
	m, now := mtStartMaster(t, mtConfigV2())
	next := now.Add(time.Second)
	mtCheck(t, "Tick", []vrrp.Action{mtSend(100)}, m.Tick(next))
	mtCheckDeadline(t, m, next.Add(time.Second))
}

// Section 6.4.3: "If the Priority in the ADVERTISEMENT is Zero, then: o
// Send an ADVERTISEMENT o Reset the Adver_Timer to Advertisement_Interval".
func TestRFC3768_6_4_3_MasterPriorityZero(t *testing.T) {
	cfg := mtConfigV2()
	m, now := mtStartMaster(t, cfg)
	at := now.Add(300 * time.Millisecond)
	mtCheck(t, "priority 0", []vrrp.Action{mtSend(100)}, mtRecv(m, at, mtAdv(cfg, 0), mtHigher))
	mtCheckDeadline(t, m, at.Add(time.Second))
}

// Section 6.4.3: "If the Priority in the ADVERTISEMENT is greater than the
// local Priority, or If the Priority in the ADVERTISEMENT is equal to the
// local Priority and the primary IP Address of the sender is greater than
// the local primary IP Address, then: o Cancel Adver_Timer o Set
// Master_Down_Timer to Master_Down_Interval o Transition to the {Backup}
// state".
func TestRFC3768_6_4_3_MasterYieldsToBetter(t *testing.T) {
	for _, tc := range []struct {
		src  netip.Addr
		prio uint8
	}{{mtLower, 101}, {mtHigher, 100}} {
		cfg := mtConfigV2()
		m, now := mtStartMaster(t, cfg)
		mtCheck(t, "Receive", []vrrp.Action{mtRelease, mtTrans(vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority)},
			mtRecv(m, now, mtAdv(cfg, tc.prio), tc.src))
		mtCheckDeadline(t, m, now.Add(3*time.Second+mtSkewV2(100)))
	}
}

// Section 6.4.3: "else: o Discard ADVERTISEMENT". VRRPv2 has no immediate
// re-advertisement (that is RFC 9568's), and the Adver_Timer keeps
// running.
func TestRFC3768_6_4_3_MasterDiscardsLower(t *testing.T) {
	cfg := mtConfigV2()
	m, now := mtStartMaster(t, cfg)
	d := m.Deadline()
	mtCheck(t, "lower", []vrrp.Action{mtAnnounce}, mtRecv(m, now, mtAdv(cfg, 99), mtHigher))
	mtCheck(t, "equal from lower address", []vrrp.Action{mtAnnounce}, mtRecv(m, now, mtAdv(cfg, 100), mtLower))
	mtCheckDeadline(t, m, d)
	mtCheckState(t, m, vrrp.Master)
}

// Section 6.4.3: "If a Shutdown event is received, then: o Cancel the
// Adver_Timer o Send an ADVERTISEMENT with Priority = 0 o Transition to
// the {Initialize} state".
func TestRFC3768_6_4_3_MasterShutdown(t *testing.T) {
	m, now := mtStartMaster(t, mtConfigV2())
	mtCheck(t, "Shutdown", []vrrp.Action{mtRelease, mtSend(0), mtTrans(vrrp.Master, vrrp.Initialize, vrrp.ReasonShutdown)}, m.Shutdown(now))
	mtCheckDeadline(t, m, time.Time{})
}

// Section 6.4.3: "MUST NOT accept packets addressed to the IP address(es)
// associated with the virtual router if it is not the IP address owner."
// VRRPv2 has no Accept_Mode, so by default (the zero Config.AcceptMode)
// the Take hook of a non-owner master says not to accept, and the owner's
// says it is the owner. AcceptMode set explicitly is keepalived's
// departure from this sentence (its default "accept"), passed on as
// configured.
func TestRFC3768_6_4_3_NoAcceptMode(t *testing.T) {
	for _, tc := range []struct {
		prio   uint8
		accept bool
	}{{100, false}, {255, false}, {100, true}} {
		synctest.Test(t, func(t *testing.T) {
			var takes []vrrp.VRInfo
			hook := vrrp.HookFuncs{TakeFunc: func(vr vrrp.VRInfo) error { takes = append(takes, vr); return nil }}
			n := rtNewNode(t, vrrp.RouterConfig{Hook: hook})
			cfg := rtCfg4(1, tc.prio, rtIP4(1))
			cfg.Version, cfg.AcceptMode = 2, tc.accept
			n.add(vrrp.VirtualRouter{Name: "v", Conn: rtAttach(memnet.New(memnet.Config{}), "n", rtIP4(1)), Config: cfg})
			n.start(true)
			time.Sleep(5 * time.Second)
			synctest.Wait()
			n.stop()
			if len(takes) != 1 || takes[0].AcceptMode != tc.accept || takes[0].Priority != tc.prio || takes[0].Version != 2 {
				t.Errorf("priority %d accept %v: Take calls %+v", tc.prio, tc.accept, takes)
			}
		})
	}
}

// Section 5.2.3: "A VRRP router receiving a packet with the TTL not equal
// to 255 MUST discard the packet."
func TestRFC3768_5_2_3_TTLMustBe255(t *testing.T) {
	cfg := mtConfigV2()
	m := mtStartBackup(t, cfg)
	m.Receive(mt0, mtAdv(cfg, 200), mtHigher, 1, packet.Info{})
	if s := m.Stats(); s.IPTTLErrors != 1 || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Section 7.1: "MUST verify the VRRP version is 2."
func TestRFC3768_7_1_VersionMustBe2(t *testing.T) {
	cfg := mtConfigV2()
	m := mtStartBackup(t, cfg)
	adv := mtAdv(cfg, 200)
	adv.Version = 3
	mtRecv(m, mt0, adv, mtHigher)
	if s := m.Stats(); s.ProtoErrReason != vrrp.ProtoErrVersion || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Section 7.1: "MUST verify that the VRID is configured on the receiving
// interface and the local router is not the IP Address owner (Priority
// equals 255 (decimal))." The owner discards (and counts) advertisements;
// RFC 9568 erratum 8298 changed this for VRRPv3 only.
func TestRFC3768_7_1_OwnerDiscards(t *testing.T) {
	cfg := mtConfigV2()
	cfg.Priority = 255
	m := mtNew(t, cfg)
	m.Start(mt0)
	d := m.Deadline()
	mtCheck(t, "lower", []vrrp.Action{mtDrop(vrrp.AnomalyOwner)}, mtRecv(m, mt0, mtAdv(cfg, 100), mtHigher))
	mtCheck(t, "priority 0", []vrrp.Action{mtDrop(vrrp.AnomalyOwner)}, mtRecv(m, mt0, mtAdv(cfg, 0), mtHigher))
	mtCheck(t, "another owner, greater address", []vrrp.Action{mtDrop(vrrp.AnomalyOwner)}, mtRecv(m, mt0, mtAdv(cfg, 255), mtHigher))
	mtCheckState(t, m, vrrp.Master)
	mtCheckDeadline(t, m, d)
	if s := m.Stats(); s.OwnerRcvdAdvertisements != 3 || s.RcvdAdvertisements != 0 || s.RcvdPriZeroPackets != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Section 7.1: "MUST verify that the Auth Type matches the locally
// configured authentication method for the virtual router and perform that
// authentication method." Section 5.3.6: "A packet with unknown
// authentication type or that does not match the locally configured
// authentication method MUST be discarded." (RFC 2338 section 5.3.6.1: the
// simple text password must match.)
func TestRFC3768_7_1_AuthTypeMustMatch(t *testing.T) {
	cfg := mtConfigV2()
	cfg.AuthType = packet.AuthPass
	copy(cfg.AuthData[:], "secret")
	m := mtStartBackup(t, cfg)
	wrongType := mtAdv(cfg, 200)
	wrongType.AuthType, wrongType.AuthData = packet.AuthNone, [8]byte{}
	wrongPass := mtAdv(cfg, 200)
	copy(wrongPass.AuthData[:], "Secret")
	mtRecv(m, mt0, wrongType, mtHigher)
	mtRecv(m, mt0, wrongPass, mtHigher)
	if s := m.Stats(); s.AuthErrors != 2 || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
	mtRecv(m, mt0, mtAdv(cfg, 200), mtHigher)
	if s := m.Stats(); s.AuthErrors != 2 || s.RcvdAdvertisements != 1 {
		t.Errorf("stats %+v", s)
	}
	// Without authentication configured, AuthPass is a mismatch too.
	m2 := mtStartBackup(t, mtConfigV2())
	mtRecv(m2, mt0, mtAdv(cfg, 200), mtHigher)
	if s := m2.Stats(); s.AuthErrors != 1 {
		t.Errorf("AuthErrors = %d, want 1", s.AuthErrors)
	}
}

// Section 7.1: "MAY verify that "Count IP Addrs" and the list of IP
// Address matches the IP_Addresses configured for the VRID [...] If the
// packet was not generated by the address owner (Priority does not equal
// 255 (decimal)), the receiver MUST drop the packet, otherwise continue
// processing."
func TestRFC3768_7_1_AddressListMismatchDroppedUnlessOwner(t *testing.T) {
	cfg := mtConfigV2()
	m := mtStartBackup(t, cfg)
	adv := mtAdv(cfg, 200)
	adv.Addrs = []netip.Addr{mtOther}
	mtRecv(m, mt0, adv, mtHigher)
	if s := m.Stats(); s.AddressListErrors != 1 || s.RcvdAdvertisements != 0 {
		t.Errorf("non-owner: stats %+v", s)
	}
	adv.Priority = 255
	mtRecv(m, mt0, adv, mtHigher)
	if s := m.Stats(); s.AddressListErrors != 2 || s.RcvdAdvertisements != 1 {
		t.Errorf("owner: stats %+v", s)
	}
}

// Section 7.1: "MUST verify that the Adver Interval in the packet is the
// same as the locally configured for this virtual router"; the packet is
// discarded otherwise.
func TestRFC3768_7_1_AdverIntervalMustMatch(t *testing.T) {
	cfg := mtConfigV2()
	m := mtStartBackup(t, cfg)
	d := m.Deadline()
	adv := mtAdv(cfg, 200)
	adv.MaxAdvertInt = 2
	mtRecv(m, mt0.Add(time.Second), adv, mtHigher)
	mtCheckDeadline(t, m, d)
	if s := m.Stats(); s.AdvIntervalErrors != 1 || s.RcvdAdvertisements != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Section 5.3.7: "The Advertisement interval indicates the time interval
// (in seconds) between ADVERTISEMENTS." RFC 2338 section 5.3.6 / 5.3.10:
// the authentication type and data are carried.
func TestRFC3768_5_3_7_AdvertisementIntervalInSeconds(t *testing.T) {
	cfg := mtConfigV2()
	cfg.AdvertInterval = 255 * time.Second
	cfg.AuthType = packet.AuthPass
	copy(cfg.AuthData[:], "pw")
	a := mtNew(t, cfg).Advertisement(100)
	if a.Version != 2 || a.MaxAdvertInt != 255 || a.AuthType != packet.AuthPass || string(a.AuthData[:2]) != "pw" || a.Priority != 100 {
		t.Errorf("Advertisement = %+v", a)
	}
}

// VRRPv2 is IPv4 only (RFC 3768 section 1); authentication is VRRPv2 only
// (RFC 9568 section 9 removed it), and IP AH is obsolete.
func TestRFC3768_ConfigIPv4OnlyAndAuth(t *testing.T) {
	cfg := mtConfigV2()
	cfg.Addrs, cfg.Primary = []netip.Addr{mtVIP6}, mtSelf6
	if _, err := vrrp.NewMachine(cfg); err == nil {
		t.Error("VRRPv2 over IPv6: no error")
	}
	cfg = mtConfig()
	cfg.AuthType = packet.AuthPass
	if _, err := vrrp.NewMachine(cfg); err == nil {
		t.Error("VRRPv3 with authentication: no error")
	}
	cfg = mtConfigV2()
	cfg.AuthType = packet.AuthAH
	if _, err := vrrp.NewMachine(cfg); err == nil {
		t.Error("VRRPv2 with IP AH: no error")
	}
}
