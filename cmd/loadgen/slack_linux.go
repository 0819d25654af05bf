package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// startWithSlack starts cmd with its timer slack set to slack (0: the driver's own,
// the kernel's 50 µs unless something changed it). A thread's slack is its own and
// passes to the processes it starts, so cmd is started from a thread of its own with
// that slack, and the thread ends with the goroutine (LockOSThread without an unlock)
// so no other goroutine runs on it. It is what systemd's TimerSlackNSec= does for a
// service (docs/operating.md).
func startWithSlack(cmd *exec.Cmd, slack time.Duration) error {
	if slack == 0 {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack.Nanoseconds()), 0, 0, 0); err != nil {
			errc <- fmt.Errorf("timer slack %s: %w", slack, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}
