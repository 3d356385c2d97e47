package netlab

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// The spawner. PR_SET_PDEATHSIG (SysProcAttr.Pdeathsig) fires when the
// *thread* that forked the child exits, not the process: a Go thread
// exits whenever a goroutine locked to it (Host.Do, netns switches in
// arpnd and the tests) ends, so a child forked from an ordinary goroutine
// could be killed at any moment (a Prometheus server started from a
// thread that Host.Do later used died that way). StartProcess forks from
// one goroutine locked to its thread for the life of the process: that
// thread never exits, and its children die when the test process does
// (killed, timed out), and not before.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	c    *exec.Cmd
	errc chan error
}

// StartProcess starts c (made with Host.Command or exec.Command) so that
// it is killed with SIGKILL when the test process ends, however it ends.
// It sets c.SysProcAttr.Pdeathsig (allocating SysProcAttr if needed).
func StartProcess(c *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for r := range spawner.reqs {
				r.errc <- r.c.Start()
			}
		}()
	})
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.SysProcAttr.Pdeathsig = syscall.SIGKILL
	errc := make(chan error, 1)
	spawner.reqs <- spawnReq{c, errc}
	return <-errc
}
