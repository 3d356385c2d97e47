//go:build race

package arpnd

// raceEnabled: the race detector's instrumentation adds to the live heap
// (40 B or so per virtual router), so the held-heap bounds are not checked.
const raceEnabled = true
