// Command roundtrip is the whole product in one binary: the API and web server with
// its background workers (serve), and the commands operators run beside it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintln(os.Stderr, "roundtrip:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "roundtrip:", err)
		os.Exit(1)
	}
}
