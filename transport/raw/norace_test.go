//go:build linux && !race

package raw

const raceEnabled = false
