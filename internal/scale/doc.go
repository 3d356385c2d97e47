// Package scale measures vrrpd, and keepalived beside it, at data-centre
// scale: one process holding N links (up to 4,094, one per VLAN ID) with a
// virtual router each, on a two-host internal/netlab Links lab (issue 12).
//
// The set-up, per link i: VRID 1, VRRPv3, one interval for all (1 s, or
// 100 ms), accept on, the master at priority 150 on host 1, the backup at
// 100 on host 2, one virtual address LinkAddr(i, 100)/24. VrrpdConfig and
// KeepalivedConfig write the same set-up for each daemon.
//
// A run (see scale_linux_test.go) starts both sides (together, or the
// master first), and measures: the time from launch until every virtual
// address is on the master (the kernel's address notifications, `ip -ts
// monitor address`); "settled", no transition on either side for 15 s
// with every instance MASTER on the master and BACKUP on the backup,
// every virtual address on the master and none on the backup. States and
// transitions come from each daemon's faithful source, vrrpd's status
// endpoint and keepalived's log: vrrpd's notify record lags the protocol
// while its notify commands queue, and is kept as a cross-check (the
// time it held every transition, and its counts beside the status's).
// Started together, the time from every virtual address on the master
// until the backup's last transition to BACKUP and its last virtual
// address gone, against 2 x Master_Down_Interval. Then, over a window
// after settling (-scale.window), the CPU time (utime + stime of the
// process tree, /proc/PID/stat) and the memory (VmRSS and VmHWM,
// /proc/PID/status) of each side, and the transitions in that window.
// With -scale.sighup, SIGHUP steps on vrrpd after the window (one
// instance's priority changed, instances added and removed), each
// checked for other instances moving.
//
// The tests belong to the privileged suite (GOVRRP_PRIVILEGED=1): a
// CI-sized run (TestScaleCI) asserts zero transitions after settling and a
// per-link memory bound; the full runs (TestScale) and the profiles
// (TestScaleProfile) run only with -scale (or GOVRRP_SCALE=1). The
// commands and today's figures are in BENCHMARKS.md, "Scale".
package scale
