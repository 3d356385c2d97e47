//go:build !race

package arpnd

const raceEnabled = false
