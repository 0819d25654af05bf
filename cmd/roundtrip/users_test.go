package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/merchant"
)

func TestUsersCreate(t *testing.T) {
	d, url := pgtest.NewWithURL(t)
	ctx := context.Background()
	m, err := merchant.NewStore(d).Create(ctx, "northwind", "Northwind", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{"DATABASE_URL": url})
	create := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := usersFrom(ctx, append([]string{"create"}, args...), getenv, strings.NewReader(stdin), &out, &out)
		return out.String(), err
	}

	out, err := create("a long enough password\n", "--merchant", "northwind", "--role", "warehouse", "--username", "Ana")
	if err != nil || !strings.Contains(out, "created warehouse user ana for northwind") {
		t.Fatalf("create from stdin: %v\n%s", err, out)
	}
	if u, err := auth.NewUsers(d).Authenticate(ctx, m.ID, "ana", "a long enough password"); err != nil || u.Role != auth.RoleWarehouse {
		t.Errorf("sign in as the new user: %+v, %v", u, err)
	}

	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("another fine password\r\nignored"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := create("", "--merchant", "northwind", "--role", "finance", "--username", "fin", "--password-file", file); err != nil {
		t.Fatalf("create from a file: %v\n%s", err, out)
	}
	if _, err := auth.NewUsers(d).Authenticate(ctx, m.ID, "fin", "another fine password"); err != nil {
		t.Errorf("sign in with the file's first line: %v", err)
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		usage       bool
		says        string
	}{
		{"exists", "a long enough password", []string{"--merchant", "northwind", "--role", "admin", "--username", "ana"}, false, `already has a user named "ana"`},
		{"short password", "short", []string{"--merchant", "northwind", "--role", "admin", "--username", "bo"}, true, "at least 10 characters"},
		{"no password", "", []string{"--merchant", "northwind", "--role", "admin", "--username", "bo"}, false, "no password given"},
		{"integration role", "a long enough password", []string{"--merchant", "northwind", "--role", "integration", "--username", "bo"}, true, "admin, warehouse or finance"},
		{"no merchant", "a long enough password", []string{"--merchant", "nowhere", "--role", "admin", "--username", "bo"}, false, `no merchant with slug "nowhere"`},
		{"bad name", "a long enough password", []string{"--merchant", "northwind", "--role", "admin", "--username", "bo bo"}, true, "user name"},
	} {
		_, err := create(tc.stdin, tc.args...)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tc.says) || errors.As(err, &ue) != tc.usage {
			t.Errorf("%s: got %v, want an error saying %q (usage error: %v)", tc.name, err, tc.says, tc.usage)
		}
	}
}
