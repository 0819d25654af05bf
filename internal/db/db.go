// Package db opens the PostgreSQL connection pool with the settings the product relies
// on, and names the one error translation every store shares.
package db

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// DefaultURL is used when DATABASE_URL is not set: the PostgreSQL on the local machine.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/roundtrip?sslmode=disable"

// ConnLifetime is how long a pooled connection serves before it is replaced (when it
// is next idle). A connection keeps the plans PostgreSQL made for its prepared
// statements until the tables' statistics change; where they never change (a restored
// database never analyzed, autovacuum off), a plan made while a table was small would
// be kept for good as the table grows, and the planner cannot tell a table's indexes
// apart while it is that small (a look-up by shop and ID may walk the shop's rows by
// another index: BENCHMARKS.md, nineteenth pass). A new connection plans again for
// the table as it is then. Replacing one costs a log-in and its statements' first
// plans, a few milliseconds every half hour.
const ConnLifetime = 30 * time.Minute

// Open connects to url and checks the connection with a ping. Its statements and
// commits are counted in Counted.
func Open(ctx context.Context, rawURL string, maxConns int) (*sqlx.DB, error) {
	return open(ctx, rawURL, maxConns, ConnLifetime)
}

// open is Open with connections that serve for lifetime.
func open(ctx context.Context, rawURL string, maxConns int, lifetime time.Duration) (*sqlx.DB, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	d, err := sqlx.Open(countedDriverName, rawURL)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	if maxConns <= 0 {
		maxConns = 20
	}
	d.SetMaxOpenConns(maxConns)
	d.SetMaxIdleConns(maxConns)
	d.SetConnMaxIdleTime(5 * time.Minute)
	d.SetConnMaxLifetime(lifetime)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("db: cannot reach PostgreSQL at %s: %w", Redact(rawURL), err)
	}
	return d, nil
}

// CheckURL reports a malformed database URL in words that name the setting. The
// server is named by the URL's host, or by a host parameter (a Unix socket's
// directory, as in postgres://user@/dbname?host=/var/run/postgresql).
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || (u.Host == "" && u.Query().Get("host") == "") {
		return fmt.Errorf("DATABASE_URL must look like postgres://user@host:5432/dbname?sslmode=disable (or, over a Unix socket, postgres://user@/dbname?host=/var/run/postgresql)")
	}
	return nil
}

// Redact hides the password in a database URL so it can be logged.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// WithDatabase returns rawURL pointing at another database on the same server.
func WithDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation (23505),
// optionally on the named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	// the pools Open makes speak pgx; the test helpers' connections lib/pq
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505" && (constraint == "" || pg.ConstraintName == constraint)
	}
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return false
	}
	return constraint == "" || pe.Constraint == constraint
}

// Tx runs fn in a transaction, committing when fn returns nil and rolling back otherwise.
func Tx(ctx context.Context, d *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Queryer is what a store runs its statements on: the pool or a caller's
// transaction. *sqlx.DB and *sqlx.Tx both are one, so a store built on the pool can
// be handed a transaction (its WithTx) and its writes commit with the caller's.
type Queryer interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// InTx runs fn in q's transaction when q is one, else in a new transaction on the
// pool q, committed when fn returns nil. A store method that needs several statements
// to commit together uses it, so that it works alone and inside a caller's
// transaction alike.
func InTx(ctx context.Context, q Queryer, fn func(tx *sqlx.Tx) error) error {
	switch q := q.(type) {
	case *sqlx.Tx:
		return fn(q)
	case *sqlx.DB:
		return Tx(ctx, q, fn)
	}
	return fmt.Errorf("db: InTx on %T: neither a pool nor a transaction", q)
}

// AsyncCommit begins a statement (a WITH list to go on with ", name AS (…)" or with
// the statement itself) that runs alone, in its own implicit transaction, which then
// commits without waiting for the WAL flush: synchronous_commit off for that
// transaction alone. PostgreSQL evaluates the setting only when the statement reads
// async (FROM async, USING async, EXISTS (SELECT FROM async)). For writes that a
// crash of PostgreSQL may lose harmlessly; docs/operating.md lists them.
const AsyncCommit = `WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))`
