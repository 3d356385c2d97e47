//go:build !race

package vrrp_test

const raceEnabled = false
