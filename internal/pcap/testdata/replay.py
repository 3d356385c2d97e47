#!/usr/bin/env python3
"""Replays the frames of a classic pcap file on interfaces by AF_PACKET:
IPv6 frames (EtherType 0x86dd) on the second interface, all others on the
first. Used by gen.sh inside a network namespace; see README.md."""
import socket, struct, sys, time

path, if4, if6 = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(path, 'rb').read()
assert struct.unpack('<I', data[:4])[0] == 0xa1b2c3d4, 'little-endian microsecond pcap only'
socks = {}
for name in (if4, if6):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((name, 0))
    socks[name] = s
off = 24
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack('<IIII', data[off:off + 16])
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    name = if6 if frame[12:14] == b'\x86\xdd' else if4
    socks[name].send(frame)
    time.sleep(0.002)
