package vrrp_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/govrrp/govrrp/packet"
	"github.com/govrrp/govrrp/vrrp"
)

// Shared fixtures of the Machine tests.
var (
	mt0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mtVIP     = netip.MustParseAddr("10.0.0.100")
	mtSelf    = netip.MustParseAddr("10.0.0.1")
	mtLower   = netip.MustParseAddr("10.0.0.0") // a peer with a lower primary address
	mtHigher  = netip.MustParseAddr("10.0.0.2") // a peer with a higher primary address
	mtOther   = netip.MustParseAddr("10.0.0.200")
	mtSelf6   = netip.MustParseAddr("fe80::1")
	mtVIP6LL  = netip.MustParseAddr("fe80::100")
	mtVIP6    = netip.MustParseAddr("2001:db8::100")
	mtPeer6   = netip.MustParseAddr("fe80::2")
	mtPseudo  = packet.Info{Checksum: packet.ChecksumPseudoHeader}
	mtMessage = packet.Info{Checksum: packet.ChecksumMessage}
)

// mtConfig is a VRRPv3 IPv4 backup: VRID 1, priority 100, 1s.
func mtConfig() vrrp.Config {
	return vrrp.Config{VRID: 1, Priority: 100, AdvertInterval: time.Second, Addrs: []netip.Addr{mtVIP}, Primary: mtSelf}
}

// mtConfigV2 is the VRRPv2 equivalent.
func mtConfigV2() vrrp.Config {
	c := mtConfig()
	c.Version = 2
	return c
}

func mtNew(t testing.TB, cfg vrrp.Config) *vrrp.Machine {
	t.Helper()
	m, err := vrrp.NewMachine(cfg)
	if err != nil {
		t.Fatalf("NewMachine(%+v): %v", cfg, err)
	}
	return m
}

// mtAdv is a valid advertisement matching cfg, from a router of the given
// priority.
func mtAdv(cfg vrrp.Config, prio uint8) *packet.Advertisement {
	a := &packet.Advertisement{
		Version:  cfg.Version,
		Type:     packet.TypeAdvertisement,
		VRID:     cfg.VRID,
		Priority: prio,
		AuthType: cfg.AuthType,
		AuthData: cfg.AuthData,
		Addrs:    slices.Clone(cfg.Addrs),
	}
	if a.Version == 0 {
		a.Version = 3
	}
	iv := cfg.AdvertInterval
	if iv == 0 {
		iv = time.Second
	}
	if err := a.SetInterval(iv); err != nil {
		panic(err)
	}
	return a
}

// mtRecv delivers adv from src with TTL 255 and returns a copy of the
// actions.
func mtRecv(m *vrrp.Machine, now time.Time, adv *packet.Advertisement, src netip.Addr) []vrrp.Action {
	return slices.Clone(m.Receive(now, adv, src, 255, mtPseudo))
}

// mtStartBackup starts a non-owner machine at mt0 and checks it is Backup.
func mtStartBackup(t testing.TB, cfg vrrp.Config) *vrrp.Machine {
	t.Helper()
	m := mtNew(t, cfg)
	m.Start(mt0)
	if m.State() != vrrp.Backup {
		t.Fatalf("after Start: state %v, want Backup", m.State())
	}
	return m
}

// mtStartMaster starts a machine and lets Master_Down_Timer fire.
func mtStartMaster(t testing.TB, cfg vrrp.Config) (*vrrp.Machine, time.Time) {
	t.Helper()
	m := mtNew(t, cfg)
	m.Start(mt0)
	now := mt0
	if m.State() == vrrp.Backup {
		now = m.Deadline()
		m.Tick(now)
	}
	if m.State() != vrrp.Master {
		t.Fatalf("state %v, want Master", m.State())
	}
	return m, now
}

// Action constructors for expected values.
func mtSend(prio uint8) vrrp.Action { return vrrp.Action{Kind: vrrp.ActSend, Priority: prio} }

// mtTrans is a transition; one to Master carries the RFC 6527 reason:
// the trigger itself when it is one, else priority (the owner starting,
// a sync group).
func mtTrans(from, to vrrp.State, r vrrp.Reason) vrrp.Action {
	a := vrrp.Action{Kind: vrrp.ActTransition, From: from, To: to, Reason: r}
	if to == vrrp.Master {
		switch r {
		case vrrp.ReasonPriority, vrrp.ReasonPreempted, vrrp.ReasonMasterNoResponse:
			a.MasterReason = r
		default:
			a.MasterReason = vrrp.ReasonPriority
		}
	}
	return a
}
func mtDrop(a vrrp.Anomaly) vrrp.Action   { return vrrp.Action{Kind: vrrp.ActDrop, Anomaly: a} }
func mtNotice(a vrrp.Anomaly) vrrp.Action { return vrrp.Action{Kind: vrrp.ActNotice, Anomaly: a} }

var (
	mtTake     = vrrp.Action{Kind: vrrp.ActTakeAddrs}
	mtRelease  = vrrp.Action{Kind: vrrp.ActReleaseAddrs}
	mtAnnounce = vrrp.Action{Kind: vrrp.ActAnnounce}
)

// mtBecomeMaster is the action list of a transition to Master.
func mtBecomeMaster(from vrrp.State, r vrrp.Reason, prio uint8) []vrrp.Action {
	return []vrrp.Action{mtTrans(from, vrrp.Master, r), mtTake, mtSend(prio), mtAnnounce}
}
