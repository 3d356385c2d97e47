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
// Announcer.SetSchedule gives one virtual router a Schedule of its own
// (keepalived's garp_* in a vrrp_instance), from its next takeover on.
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
// not leave them assigned on a backup (hold them on lo while master, with
// arp_ignore=1 and arp_announce=2 on the interface: see
// Config.Responder). In ModeVirtualMAC the responder adds the virtual MAC
// to the interface's unicast filter, joins the solicited-node groups of
// the IPv6 addresses and, with New, installs while master an nftables
// netdev ingress rule on the interface that marks frames to the virtual
// MAC as addressed to the host (the IP stack drops them otherwise): one
// table per virtual router, govrrp_arpnd_{4,6}_{ifindex}_{vrid}, replaced
// at Take if a run that did not Close left it (Announcer.RemoveStale
// removes such a leftover before the virtual router starts), deleted at
// Release and Close.
//
// ModeMacvlan (Linux, CAP_NET_ADMIN) creates per virtual router a macvlan
// named MacvlanName(parent ifindex, VRID, family), mode private (or bridge),
// with the virtual MAC, on the first hook call for it. The macvlan is up
// only between Take and Release: Take sets it up and assigns the virtual
// addresses to it (/32, /128 without DAD), and the kernel then answers ARP
// and ND for them with the virtual MAC; Release sets it down, then removes
// the addresses. A backup keeps its macvlan down, without addresses, and
// Close deletes it. Set-up:
//
//   - addrgenmode none on the macvlan: the EUI-64 link-local address of
//     the shared virtual MAC would be the same on every router of the VRID;
//   - for IPv6 a link-local address of its own, fe80::{parent EUI-64 with
//     ff:fe replaced by 5e:VRID}, without DAD, as the source of its NAs,
//     added at every Take (the kernel drops link-local addresses when a
//     link goes down, even with keep_addr_on_down);
//   - for IPv6 net.ipv6.conf.MACVLAN.accept_ra=0 and router_solicitations=0:
//     it is a router's interface, which neither solicits routers nor
//     configures itself from advertisements (a prefix would give it an
//     EUI-64 address of the virtual MAC, the same on every router);
//   - for IPv4 net.ipv6.conf.MACVLAN.disable_ipv6=1: no IPv6 at all, so no
//     MLD from the IPv4 virtual MAC (a router with forwarding on joins
//     ff02::2 on every interface);
//   - net.ipv4.conf.MACVLAN.arp_ignore=1, so the macvlan answers only for
//     its own addresses (not the parent's). arp_filter is left off: with
//     the virtual address as a /32 the route back to the asker goes out
//     of the parent, and arp_filter=1 would silence the macvlan;
//   - net.ipv4.conf.PARENT.arp_ignore=1, so the parent does not answer for
//     the virtual addresses with its own MAC (left alone if it is already
//     1, 2 or 8). The original value is kept in the alias of each macvlan
//     ("govrrp-arpnd parent arp_ignore=N"), so that a run after one that
//     did not Close finds it, and it is written back when the last such
//     macvlan on the parent is deleted, whichever Announcer or process
//     made it. The macvlan's own sysctls go with it.
//
// Why down: the virtual MAC belongs to the master alone (RFC 9568 section
// 7.3: the Active Router sends its advertisements from it so that bridges
// learn where it is; sections 8.1.2 and 8.2.2: the Active Router answers
// ARP and ND with it; section 6.4.2: a Backup must not forward frames sent
// to it). A switch learns the port of a MAC from every frame it sees with
// that source, so one frame from a backup's macvlan (an MLD report
// answering a querier's MLD query, an IGMP report, a Router Solicitation,
// the MLD report that leaving a solicited-node group sends) would send the
// virtual router's traffic to the backup until the master's next frame.
// With the link up, the kernel sends such frames on its own for as long
// as the interface has IPv6 or multicast memberships: router_solicitations
// and force_mld_version cannot stop MLD, and a program on the host may
// join groups there. A down interface transmits nothing (the kernel
// refuses to queue frames on it, packet sockets fail with ENETDOWN), and
// Release sets the link down before removing the addresses, so not even
// the MLD leave of the addresses goes out. Setting the link up again is a
// few netlink requests (well under a millisecond in tests), made by Take,
// which vrrp.Router calls after the advertisement that ends the election;
// the first gratuitous ARPs / NAs follow in Announce. Announcements,
// including an Announce without Take, go out only while the macvlan is up.
//
// The macvlan receives traffic whose return route leaves by the parent: a
// strict reverse-path filter (rp_filter=1 in net.ipv4.conf.all, which
// wins over the per-interface value) drops it, as it does for keepalived's
// use_vmac; use loose mode (2).
//
// # Router Advertisements
//
// With Config.RouterAdvertisements (off by default) the Announcer also
// sends ND Router Advertisements for IPv6 virtual routers while they are
// master, as RFC 9568 section 6.4.3 asks of the Active Router ("MUST send
// ND Router Advertisements for the Virtual Router") and FRR's vrrpd does;
// a Backup sends none (section 6.4.2: "MUST NOT"). keepalived sends none
// and leaves it to radvd. It is opt-in because an embedding program that
// only holds server addresses would otherwise make every host on the link
// install a default route through it.
//
//   - Frames: from the announced MAC (the virtual MAC
//     00-00-5E-00-02-{VRID} outside ModeInterfaceMAC) to 33:33:00:00:00:01,
//     IPv6 from the virtual router's link-local virtual address (the first
//     link-local one in the address list, which RFC 9568 section 5.2.9
//     puts first; without one, the interface's own link-local address, so
//     hosts then lose the router on failover) to ff02::1, hop limit 255, a
//     Source Link-Layer Address option with the announced MAC, the MTU
//     option if set, the Prefix Information options (MarshalRouterAdvertisement).
//   - Schedule (RFC 4861 section 6.2.4): the first one at Take, once the
//     addresses are configured (RFC 9568 section 8.2.2), then at random
//     intervals between MinInterval and MaxInterval, the first three
//     capped at InitialInterval (16s, MAX_INITIAL_RTR_ADVERT_INTERVAL;
//     lower it for a faster burst after a failover).
//   - Router Solicitations received while master (the socket joins
//     33:33:00:00:00:02) are validated as RFC 4861 section 6.1.1 says and
//     answered with a multicast advertisement after a random delay of up
//     to 0.5s (MAX_RA_DELAY_TIME), never within 3s (MIN_DELAY_BETWEEN_RAS)
//     of the previous one, or by the one already scheduled if that comes
//     first (section 6.2.6).
//   - Release and Close stop sending, without a final advertisement. RFC
//     4861 section 6.2.5 says a router whose interface ceases to be an
//     advertising interface "SHOULD transmit one or more (but not more
//     than MAX_FINAL_RTR_ADVERTISEMENTS) final multicast Router
//     Advertisements on the interface with a Router Lifetime field of
//     zero". A VRRP master that steps down is not that: the virtual
//     router goes on advertising from the new master, with the same
//     link-local source address, and hosts identify a default router by
//     that address; a zero lifetime from the old master would make them
//     drop the default route the new master provides, and RFC 9568
//     section 6.4.2 forbids a Backup to send RAs at all. Hosts time the
//     router out after DefaultLifetime if no router takes over.
//
// Every router of a virtual router must be given the same RAConfig (RFC
// 9568 section 8.2.3: "The Backup Routers MUST be configured to send the
// same Router Advertisement options as the address owner"). Do not run
// radvd (or another RA source) for the same link-local address as well.
//
//	a, err := arpnd.New(arpnd.Config{
//		Interface: "eth0",
//		Mode:      arpnd.ModeMacvlan,
//		RouterAdvertisements: &arpnd.RAConfig{
//			Prefixes: []arpnd.RAPrefix{{Prefix: netip.MustParsePrefix("2001:db8:1::/64")}},
//		},
//	})
//
// # Privileges
//
// New needs CAP_NET_RAW (packet sockets) and, for ModeMacvlan and for
// ModeVirtualMAC with the responder (nftables), CAP_NET_ADMIN; errors say
// which, and name the interface. What is checked when:
//
//   - New opens the packet sockets of Config.Interface at once, except in
//     ModeMacvlan, where it only looks the interface up. Without
//     Config.Interface the first hook call for a virtual router opens its
//     interface.
//   - In ModeVirtualMAC with the responder, New also checks that it can
//     use nftables in its network namespace (CAP_NET_ADMIN), with or
//     without Config.Interface; the table is installed by each Take.
//   - In ModeMacvlan the first hook call for a virtual router creates its
//     macvlan (CAP_NET_ADMIN) and reports what fails; Take sets it up and
//     assigns the addresses.
//
// NewConn needs nothing: it takes the connections, so tests inject fakes.
//
// # Failures
//
// Take is all or nothing: if setting the macvlan up or assigning an
// address (ModeMacvlan), installing the nftables table (ModeVirtualMAC
// with the responder), joining a solicited-node group or adding the
// virtual MAC to the unicast filter fails, Take undoes what it had done
// and returns the error. The virtual router is then master without
// holding anything: it neither answers nor announces, since announcing a
// MAC nobody answers for would draw traffic that nobody takes. Each
// Announce until Release (the one vrrp.Router calls right after Take, and
// those on hearing a lower-priority advertisement) retries the take and
// announces once it succeeds; Release after a failed Take has nothing to
// undo. Group memberships and unicast filter entries are counted per
// holder, so one virtual router's failure or release never drops what
// another one on the link still uses (solicited-node groups are shared by
// addresses with the same last 24 bits). A failure of the Router
// Advertisements alone is reported but does not undo the Take.
package arpnd
