// Package pgtest gives tests real PostgreSQL databases: the migrations are applied
// once to a template database (named after a hash of the migration files, so a changed
// migration builds a new template), and every test gets its own clone of it, dropped
// when the test ends. A missing server fails the test with what to start; it never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the postgres driver

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/migrations"
)

// ServerURL is the server the tests use: DATABASE_URL, else the local default. Tests
// connect to its database only to create and drop their own.
func ServerURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	u, _ := db.WithDatabase(db.DefaultURL, "postgres")
	return u
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// New returns a connection pool to a fresh, migrated database of its own.
func New(t testing.TB) *sqlx.DB {
	t.Helper()
	d, _ := NewWithURL(t)
	return d
}

// NewWithURL is New that also returns the database's URL, for subprocesses and for
// code under test that opens its own connections.
func NewWithURL(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	ctx := context.Background()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx) })
	if templateErr != nil {
		t.Fatalf("pgtest: %v\nStart PostgreSQL on 127.0.0.1:5432 or set DATABASE_URL (make test does both).", templateErr)
	}
	admin, err := sql.Open("postgres", ServerURL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close()
	name := "rt_test_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName)); err != nil {
		t.Fatalf("pgtest: clone template: %v", err)
	}
	u, err := db.WithDatabase(ServerURL(), name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	d, err := sqlx.Open("postgres", u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	d.SetMaxOpenConns(20)
	t.Cleanup(func() {
		d.Close()
		admin, err := sql.Open("postgres", ServerURL())
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return d, u
}

// ensureTemplate builds the migrated template once per server and migration set.
// Several test binaries run at once, so building happens under an advisory lock and
// the template appears under its final name only when it is complete.
func ensureTemplate(ctx context.Context) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "rt_template_" + sum[:12]
	admin, err := sql.Open("postgres", ServerURL())
	if err != nil {
		return "", err
	}
	defer admin.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(cctx); err != nil {
		return "", fmt.Errorf("cannot reach PostgreSQL at %s: %w", db.Redact(ServerURL()), err)
	}
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7426001)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7426001)`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", err
	}
	u, err := db.WithDatabase(ServerURL(), building)
	if err != nil {
		return "", err
	}
	tdb, err := sql.Open("postgres", u)
	if err != nil {
		return "", err
	}
	_, err = migrations.Up(ctx, tdb)
	tdb.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Files, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Tx returns a transaction on a fresh, migrated database that is rolled back when the
// test ends, for store-level tests of code that runs inside a caller's transaction
// (a returns.Tx, a job's transaction) and needs no HTTP and no commit.
func Tx(t testing.TB) *sqlx.Tx {
	t.Helper()
	d := New(t)
	tx, err := d.Beginx()
	if err != nil {
		t.Fatalf("pgtest: begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

// Open returns another connection pool to the database at url (one NewWithURL made),
// closed when the test ends: a second process's view of the same database.
func Open(t testing.TB, url string) *sqlx.DB {
	t.Helper()
	d, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Plan returns PostgreSQL's plan of statement (EXPLAIN) in a fresh database of its
// own, after setting set (a "name = value" each, for the transaction alone): to hold
// a statement to its indexes, with enable_seqscan = off, or to look at the generic
// plan a connection keeps, with plan_cache_mode = force_generic_plan. prepare, when
// not empty, comes first; the statement may EXECUTE what it prepared.
func Plan(t testing.TB, set []string, prepare, statement string, args ...any) string {
	t.Helper()
	tx := Tx(t)
	for _, s := range set {
		tx.MustExec(`SET LOCAL ` + s)
	}
	if prepare != "" {
		tx.MustExec(prepare)
	}
	var lines []string
	if err := tx.Select(&lines, `EXPLAIN `+statement, args...); err != nil {
		t.Fatalf("explain: %v", err)
	}
	return strings.Join(lines, "\n")
}

// AwaitLockWait returns once a backend of d's database waits for a lock while it runs
// a statement whose text contains part: a test that holds a lock in one transaction
// knows then that another's statement has begun (its snapshot is taken) and waits.
func AwaitLockWait(t testing.TB, d *sqlx.DB, part string) {
	t.Helper()
	for waiting := false; !waiting; {
		if err := d.Get(&waiting, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE NOT l.granted AND a.datname = current_database() AND strpos(a.query, $1) > 0)`, part); err != nil {
			t.Fatal(err)
		}
	}
}
