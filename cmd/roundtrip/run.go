package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageError is a mistake in the command line; main exits 2 for it.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

const usage = `Usage: roundtrip <command> [flags]

Commands:
  serve       run the API, the web pages and the background workers (the default)
  migrate     apply database migrations and exit
  openapi     print the OpenAPI 3.1 document as YAML (--3.0 for OpenAPI 3.0.3)
  merchants   create a merchant: merchants create --slug S --name N
  keys        create an API key: keys create --merchant S --role R [--name N]
  users       create a staff user: users create --merchant S --role R --username U (password on stdin)
  demo        load a demo merchant with a policy and orders (safe to run twice)
  reconcile   reconcile refunds with Stripe: reconcile --merchant S --from YYYY-MM-DD --to YYYY-MM-DD

Run 'roundtrip <command> --help' for a command's flags.
`

// run is the whole program: main only wires signals and exit codes around it, so
// tests call it directly with their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "openapi":
		return printOpenAPI(args, stdout, stderr)
	case "merchants":
		return merchants(ctx, args, getenv, stdout, stderr)
	case "keys":
		return keys(ctx, args, getenv, stdout, stderr)
	case "users":
		return users(ctx, args, getenv, stdout, stderr)
	case "demo":
		return demo(ctx, args, getenv, stdout, stderr)
	case "reconcile":
		return reconcileCmd(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// parse parses flags, turning -h into a nil error after printing help.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (help bool, err error) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return false, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return false, nil
}
