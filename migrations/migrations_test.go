package migrations_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
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
	return lines(t, d, `SELECT table_name || '.' || column_name || ' ' || data_type
		FROM information_schema.columns WHERE table_schema = 'public'
		ORDER BY table_name, column_name`)
}

// lines runs query, whose rows are one text each, and answers them a line each.
func lines(t *testing.T, d *sql.DB, query string) string {
	t.Helper()
	rows, err := d.Query(query)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
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

// concurrentBuild finds the indexes a migration's Up builds concurrently, with their
// tables.
var concurrentBuild = regexp.MustCompile(`(?m)^CREATE (?:UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS (\w+) ON (\w+)`)

// TestAnIndexBuildCutShortIsRebuiltWhenItsMigrationRunsAgain: a migration killed while
// it built an index concurrently leaves the index invalid and itself unrecorded; run
// again, it ends with every index valid and defined as on a fresh database (IF NOT
// EXISTS alone would keep the invalid one). Each such migration is cut short in turn:
// the database holds every migration before it, and the index it builds, invalid.
func TestAnIndexBuildCutShortIsRebuiltWhenItsMigrationRunsAgain(t *testing.T) {
	ctx := context.Background()
	fresh := emptyDatabase(t)
	if _, err := migrations.Up(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	want := indexes(t, fresh)

	all, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for i, name := range all {
		src, err := fs.ReadFile(migrations.Files, name)
		if err != nil {
			t.Fatal(err)
		}
		up, _, _ := strings.Cut(string(src), "-- +goose Down")
		builds := concurrentBuild.FindAllStringSubmatch(up, -1)
		if len(builds) == 0 {
			continue
		}
		cut++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := emptyDatabase(t)
			before := fstest.MapFS{}
			for _, earlier := range all[:i] {
				b, err := fs.ReadFile(migrations.Files, earlier)
				if err != nil {
					t.Fatal(err)
				}
				before[earlier] = &fstest.MapFile{Data: b}
			}
			m, err := migrations.NewFrom(d, before)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Up(ctx); err != nil {
				t.Fatal(err)
			}
			// The build cut short: the index there, but invalid, as PostgreSQL leaves
			// it. Each is planted on the table its build names, on a column of its
			// own, so that only a rebuild gives the right definition.
			for _, b := range builds {
				index, table := b[1], b[2]
				if _, err := d.Exec(`DROP INDEX IF EXISTS ` + index); err != nil {
					t.Fatal(err)
				}
				if _, err := d.Exec(`CREATE INDEX ` + index + ` ON ` + table + ` (merchant_id)`); err != nil {
					t.Fatal(err)
				}
				if _, err := d.Exec(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass`, index); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := migrations.Up(ctx, d); err != nil {
				t.Fatalf("the re-run: %v", err)
			}
			if got := indexes(t, d); got != want {
				t.Errorf("indexes after the re-run differ from a fresh database's:\n%s\n---\n%s", got, want)
			}
		})
	}
	if cut == 0 {
		t.Fatal("no migration builds an index concurrently: the pattern no longer matches them")
	}
}

// indexes lists the schema's indexes, each with its definition and whether it is valid.
func indexes(t *testing.T, d *sql.DB) string {
	t.Helper()
	return lines(t, d, `SELECT pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' ORDER BY c.relname`)
}
