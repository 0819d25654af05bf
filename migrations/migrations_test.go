package migrations_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/migrations"
)

// A database that already holds a higher-numbered migration than one landing later (the
// order features were finished in) takes the late one instead of refusing to start, and
// ends with the same tables as a fresh database.
func TestALateLowerMigrationIsAppliedAfterHigherOnes(t *testing.T) {
	ctx := context.Background()
	all, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil || len(all) < 3 {
		t.Fatalf("migrations: %v %v", all, err)
	}
	// Hold back the second-highest migration: the database gets every other one first.
	late := all[len(all)-2]
	early := fstest.MapFS{}
	for _, name := range all {
		if name == late {
			continue
		}
		b, err := fs.ReadFile(migrations.Files, name)
		if err != nil {
			t.Fatal(err)
		}
		early[name] = &fstest.MapFile{Data: b}
	}

	d := emptyDatabase(t)
	m, err := migrations.NewFrom(d, early)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("first deploy: %v", err)
	}

	m, err = migrations.New(d)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := m.Up(ctx)
	if err != nil {
		t.Fatalf("deploy with %s landed late: %v", late, err)
	}
	if want := versionOf(t, late); len(applied) != 1 || applied[0] != want {
		t.Fatalf("applied %v, want just %d", applied, want)
	}
	if current, err := m.Current(ctx); err != nil || !current {
		t.Fatalf("current = %v, %v after the late migration", current, err)
	}

	fresh := emptyDatabase(t)
	if _, err := migrations.Up(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if got, want := columns(t, d), columns(t, fresh); got != want {
		t.Fatalf("schema after a late migration differs from a fresh one:\n%s\n---\n%s", got, want)
	}
}

func versionOf(t *testing.T, name string) int64 {
	var v int64
	if _, err := fmt.Sscanf(name, "%d_", &v); err != nil {
		t.Fatalf("version of %s: %v", name, err)
	}
	return v
}

func columns(t *testing.T, d *sql.DB) string {
	rows, err := d.Query(`SELECT table_name || '.' || column_name || ' ' || data_type
		FROM information_schema.columns WHERE table_schema = 'public'
		ORDER BY table_name, column_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// emptyDatabase creates a database with no migrations applied, dropped after the test.
func emptyDatabase(t *testing.T) *sql.DB {
	t.Helper()
	admin, err := sql.Open("postgres", pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "rt_migrate_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	u, err := db.WithDatabase(pgtest.ServerURL(), name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return d
}
