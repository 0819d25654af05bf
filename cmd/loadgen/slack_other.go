//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

// startWithSlack starts cmd; a timer slack is Linux's alone.
func startWithSlack(cmd *exec.Cmd, slack time.Duration) error {
	if slack != 0 {
		return errors.New("-timer-slack works on Linux only")
	}
	return cmd.Start()
}
