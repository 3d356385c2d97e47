#!/bin/sh
# Regenerates the pcapng test files from the pcap captures in
# ../../../testdata/captures with Wireshark's own tools (editcap, dumpcap).
# Needs root (a network namespace) for the dumpcap file; see README.md.
set -eu
cd "$(dirname "$0")"
caps=../../../testdata/captures
hand=$caps/keepalived-v2-v3-ipv4-ipv6-handover.pcap
fail=$caps/keepalived-v3-ipv4-10ms-crash-failover.pcap

editcap -F pcapng "$hand" handover-editcap.pcapng
editcap -F pcapng "$fail" failover-editcap.pcapng
# Nanosecond timestamps: if_tsresol 9.
editcap -F nsecpcap "$hand" /tmp/gv-handover-nsec.pcap
editcap -F pcapng /tmp/gv-handover-nsec.pcap handover-nsec-editcap.pcapng
rm -f /tmp/gv-handover-nsec.pcap

# A live dumpcap capture on two interfaces (two Interface Description
# Blocks, Interface Statistics Blocks at the end): the handover frames
# replayed in a namespace, IPv4 and ARP on d4, IPv6 on d6 (veth
# pairs: dumpcap sees the frames go out).
ns=gv-pcapng-$$
ip netns add $ns
trap 'ip netns del $ns' EXIT
ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1
for i in 4 6; do
	ip -n $ns link add d$i type veth peer name p$i
	ip -n $ns link set d$i up
	ip -n $ns link set p$i up
done
ip netns exec $ns dumpcap -q -i d4 -i d6 -w /tmp/gv-dumpcap-$$.pcapng -a duration:12 &
sleep 5
ip netns exec $ns python3 replay.py "$hand" d4 d6
wait
mv /tmp/gv-dumpcap-$$.pcapng handover-dumpcap.pcapng
