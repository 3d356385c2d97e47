//go:build race

package vrrp_test

// raceEnabled: the race detector slows the chaos test ten times.
const raceEnabled = true
