//go:build !linux

package keepalived

import "time"

// sampleWatched records nothing: only Linux tells a process's CPU wait.
func (p *SchedProbe) sampleWatched(time.Time) {}
