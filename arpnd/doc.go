// Package arpnd announces the virtual addresses of VRRP virtual routers on
// the link: gratuitous ARP for IPv4 and unsolicited Neighbor Advertisements
// for IPv6 (RFC 9568 section 6.4.1 and 6.4.2, "broadcast a gratuitous ARP
// request" / "send an unsolicited ND Neighbor Advertisement with the Router
// Flag (R) set"), from the interface MAC or the virtual MAC
// 00-00-5E-00-01-{VRID} / 00-00-5E-00-02-{VRID} (RFC 9568 section 7.3). It
// can also answer ARP requests and Neighbor Solicitations for the virtual
// addresses while master (RFC 9568 section 6.4.3: the Active Router "MUST
// respond to ARP requests" / "MUST send ND Neighbor Advertisements" for
// them, and a Backup "MUST NOT"), or put them on a macvlan interface that
// carries the virtual MAC, as keepalived's use_vmac does.
//
// An Announcer implements vrrp.Hook: Take, Release and Announce drive it,
// so adding it to a Router's hooks is all the glue needed.
//
// # Frames
//
// Frames are whole Ethernet frames written on AF_PACKET sockets
// (github.com/mdlayher/packet), so the source MAC is the one chosen and no
// IPv4 address is needed on the interface (arp.Dial needs one).
//
//   - Gratuitous ARP (MarshalGratuitousARP): the request form keepalived
//     sends: Ethernet broadcast, operation 1, sender = target = the virtual
//     address, target hardware address ff:ff:ff:ff:ff:ff.
//   - Unsolicited NA (MarshalUnsolicitedNA): to ff02::1 (33:33:00:00:00:01),
//     hop limit 255, Router and Override set, a Target Link-Layer Address
//     option. The IPv6 source is the interface's link-local address
//     (keepalived uses the virtual address itself; that form is used here
//     when the interface has no link-local address). FRR sets Router and
//     Override too; keepalived sets Router only when forwarding is on.
//
// # Schedule
//
// keepalived's knobs with its defaults (see Config): 5 rounds on becoming
// master (garp_master_repeat), 5 more after 5s (garp_master_delay), no
// periodic refresh (garp_master_refresh), frames back to back
// (garp_interval / gna_interval, applied per virtual router here, per
// interface in keepalived), and on hearing a lower-priority advertisement
// as master the same again (garp_lower_prio_repeat / _delay). A new
// takeover and Release cancel what is pending; Close stops every timer.
//
// # Modes
//
// ModeInterfaceMAC (the default) and ModeVirtualMAC only send frames; who
// receives traffic for the virtual addresses is up to the host (assign them
// to the interface, as keepalived does, in ModeInterfaceMAC). With
// Config.Responder the Announcer answers ARP / ND for them between Take and
// Release with the announced MAC, and never otherwise. Its Neighbor
// Advertisements come from the virtual address itself, as Linux answers
// (tools such as ndisc6 ignore answers from another source). The kernel answers
// too for addresses assigned to the interface (with the interface MAC):
// with the responder, do not assign the virtual addresses to the interface
// in ModeVirtualMAC, or the neighbours see two MACs; and in either mode do
// not leave them assigned on a backup. In ModeVirtualMAC the responder adds
// the virtual MAC to the interface's unicast filter and joins the
// solicited-node groups of the IPv6 addresses.
//
// ModeMacvlan (Linux, CAP_NET_ADMIN) creates per virtual router a macvlan
// named MacvlanName(parent ifindex, VRID, family), mode private (or bridge),
// with the virtual MAC, and assigns the virtual addresses to it (/32,
// /128 without DAD) between Take and Release; the kernel then answers ARP
// and ND for them with the virtual MAC. The macvlan stays up while the
// Announcer lives (a backup keeps it without addresses, as keepalived
// does) and is deleted by Close. Set-up, as keepalived does it:
//
//   - addrgenmode none on the macvlan: the EUI-64 link-local address of
//     the shared virtual MAC would be the same on every router of the VRID;
//   - for IPv6 a link-local address of its own, fe80::{parent EUI-64 with
//     ff:fe replaced by 5e:VRID}, without DAD, as the source of its NAs;
//   - net.ipv4.conf.MACVLAN.arp_ignore=1, so the macvlan answers only for
//     its own addresses (not the parent's). arp_filter is left off: with
//     the virtual address as a /32 the route back to the asker goes out
//     of the parent, and arp_filter=1 would silence the macvlan;
//   - net.ipv4.conf.PARENT.arp_ignore=1, so the parent does not answer for
//     the virtual addresses with its own MAC; restored by Close.
//
// The macvlan receives traffic whose return route leaves by the parent: a
// strict reverse-path filter (rp_filter=1 in net.ipv4.conf.all, which
// wins over the per-interface value) drops it, as it does for keepalived's
// use_vmac; use loose mode (2).
//
// # Privileges
//
// New needs CAP_NET_RAW (packet sockets) and, for ModeMacvlan,
// CAP_NET_ADMIN; errors say which. NewConn needs nothing: it takes the
// connections, so tests inject fakes.
package arpnd
