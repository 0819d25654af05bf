// Package migrations holds the numbered goose SQL migrations, embedded in the binary,
// and applies them under a PostgreSQL advisory lock so that several replicas starting
// at once apply each migration exactly once.
//
// An index is built concurrently (NO TRANSACTION) where its table is written while the
// migration runs. Such a build that is cut short (the process killed, the connection
// lost) leaves an invalid index behind and its migration unrecorded, and the re-run's
// CREATE INDEX CONCURRENTLY IF NOT EXISTS would keep the invalid one: each such
// migration drops the index first (concurrently, or in 00021 only when invalid, since
// foreign keys come to depend on it).
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Files holds the migration sources.
//
//go:embed *.sql
var Files embed.FS

// Migrator applies and inspects the embedded migrations on one database.
type Migrator struct {
	p *goose.Provider
}

// New prepares the embedded migrations for db. It does not touch the database.
func New(db *sql.DB) (*Migrator, error) { return newMigrator(db, Files) }

// newMigrator prepares the migrations in files for db.
//
// Out-of-order migrations are allowed: features are built side by side, each with its
// own number, and land in whatever order they are finished, so a database can already
// hold a higher number than one that lands later (00011 applied before 00009 came).
// Each migration stands on its own (none depends on a higher-numbered one), so applying
// the late one afterwards gives the same schema as a fresh database.
func newMigrator(db *sql.DB, files fs.FS) (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrations: locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{p: p}, nil
}

// Up applies every pending migration, holding the advisory lock while it does, and
// returns the versions it applied (none when the schema was already current).
func (m *Migrator) Up(ctx context.Context) ([]int64, error) {
	results, err := m.p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: up: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// Current reports whether every embedded migration is applied. It takes no lock, so
// readiness probes can call it often.
func (m *Migrator) Current(ctx context.Context) (bool, error) {
	pending, err := m.p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("migrations: status: %w", err)
	}
	return !pending, nil
}

// Up is a shorthand for New(db) followed by Up.
func Up(ctx context.Context, db *sql.DB) ([]int64, error) {
	m, err := New(db)
	if err != nil {
		return nil, err
	}
	return m.Up(ctx)
}
