//go:build !race

package chaos

// raceBuild reports whether the test binary has the race detector in it.
const raceBuild = false
