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
// address is on the master; "settled", no transition on either side for
// 15 s with every virtual address on the master and none on the backup;
// then, over a window after settling, the CPU time (utime + stime of the
// process tree, /proc/PID/stat) and the memory (VmRSS and VmHWM,
// /proc/PID/status) of each side, and the transitions in that window.
//
// The tests belong to the privileged suite (GOVRRP_PRIVILEGED=1): a
// CI-sized run (TestScaleCI) asserts zero transitions after settling and a
// per-link memory bound; the full runs (TestScale) and the profiles
// (TestScaleProfile) run only with -scale (or GOVRRP_SCALE=1). The
// commands and today's figures are in BENCHMARKS.md, "Scale".
package scale
