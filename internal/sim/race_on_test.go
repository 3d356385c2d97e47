//go:build race

package sim

// raceEnabled: the race detector slows the chaos tests ten times.
const raceEnabled = true
