package main

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStartWithSlack: a process started with a timer slack has that slack (as a
// service under systemd's TimerSlackNSec= has), and one started with none has the
// driver's, before and after starts with one.
func TestStartWithSlack(t *testing.T) {
	slackOf := func(slack time.Duration) string {
		t.Helper()
		cmd := exec.Command("cat", "/proc/self/timerslack_ns")
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := startWithSlack(cmd, slack); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	own := slackOf(0)
	for _, slack := range []time.Duration{1234567 * time.Nanosecond, 345678 * time.Nanosecond} {
		if got, want := slackOf(slack), strconv.FormatInt(slack.Nanoseconds(), 10); got != want {
			t.Errorf("started with %s: the process's slack is %s ns, want %s", slack, got, want)
		}
	}
	// the threads that set a slack end with their start: the driver's own is as it was
	if again := slackOf(0); again != own {
		t.Errorf("started without a slack after starts with one: %s ns, want the driver's %s", again, own)
	}
}
