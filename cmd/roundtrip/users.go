package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

// users creates staff users who sign in to the scan station and finance pages.
// The password is read from --password-file or from the first line of stdin,
// never from the command line, where it would land in the shell history and in
// the process list.
func users(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return usersFrom(ctx, args, getenv, os.Stdin, stdout, stderr)
}

// usersFrom is users reading the password from stdin.
func usersFrom(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	const use = "usage: roundtrip users create --merchant S --role admin|warehouse|finance --username U [--password-file F] (password on stdin otherwise)"
	if len(args) == 0 || args[0] != "create" {
		return usageError{use}
	}
	fs := flag.NewFlagSet("roundtrip users create", flag.ContinueOnError)
	slug := fs.String("merchant", "", "the merchant's slug")
	role := fs.String("role", "", "admin, warehouse or finance")
	username := fs.String("username", "", "the name to sign in with (lower case letters, digits, . _ @ -)")
	file := fs.String("password-file", "", "read the password from this file (its first line) instead of stdin")
	if help, err := parse(fs, args[1:], stderr); help || err != nil {
		return err
	}
	r, err := auth.ParseStaffRole(*role)
	if err != nil {
		return usageError{"--role: " + strings.TrimPrefix(err.Error(), "web: ")}
	}
	name := auth.NormalizeUsername(*username)
	if *slug == "" || name == "" {
		return usageError{"--merchant and --username are required\n" + use}
	}
	if err := auth.ValidateUsername(name); err != nil {
		return usageError{"--username: " + strings.TrimPrefix(err.Error(), "web: ")}
	}
	src, what := stdin, "stdin"
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		src, what = f, *file
	}
	password, err := firstLine(src)
	if err != nil {
		return fmt.Errorf("reading the password from %s: %w", what, err)
	}
	if err := auth.ValidatePassword(password); err != nil {
		return usageError{strings.TrimPrefix(err.Error(), "web: ") + " (read from " + what + ")"}
	}
	d, m, err := openMerchant(ctx, getenv, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	var u auth.User
	err = audit.NewLog(d).Change(ctx, m.ID, "cli", func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		u, err = auth.NewUsers(d).WithTx(tx).Create(ctx, m.ID, name, password, r)
		return audit.Entry{Action: audit.UserCreated, Target: "user " + u.Username, Summary: "Role " + string(u.Role)}, err
	})
	if errors.Is(err, auth.ErrUserExists) {
		return fmt.Errorf("%s already has a user named %q", m.Slug, name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s user %s for %s; sign in at /signin?shop=%s\n", u.Role, u.Username, m.Slug, m.Slug)
	return nil
}

// firstLine reads one line, without its line end; an empty one is an error.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password given")
	}
	return line, nil
}
