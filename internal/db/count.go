package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync/atomic"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// Counts are the statements and commits the process sent to PostgreSQL through the
// pools Open made, so that a load run can report them per lifecycle (the performance
// budget is written in statements and commits) and a regression shows.
type Counts struct {
	Statements atomic.Int64 // every query and exec, in or out of a transaction
	Commits    atomic.Int64 // explicit transactions committed
}

// Counted is the process's counts.
var Counted Counts

// countedDriver is pgx's database/sql driver with every statement and commit counted.
// It adds an atomic increment per statement and nothing else.
//
// pgx rather than lib/pq: pgx keeps each connection's statements prepared, so a
// statement run again is one round trip (Bind, Execute) and PostgreSQL neither parses
// nor plans it again; lib/pq sends every statement with arguments as Parse, then waits,
// then Bind and Execute: two round trips, and a parse and a plan, every time.
type countedDriver struct{}

const countedDriverName = "postgres-counted"

func init() { sql.Register(countedDriverName, countedDriver{}) }

func (countedDriver) Open(name string) (driver.Conn, error) {
	c, err := stdlib.GetDefaultDriver().Open(name)
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c}, nil
}

// countedConn forwards to pgx's connection, counting, and keeps the functions to run
// when its transaction commits (OnCommit). database/sql uses a connection from one
// goroutine at a time, so the fields need no lock.
type countedConn struct {
	driver.Conn
	inTx     bool
	onCommit []func()
}

func (c *countedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	Counted.Statements.Add(1)
	c.keepOnCommit(ctx)
	return q.QueryContext(ctx, query, args)
}

func (c *countedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	Counted.Statements.Add(1)
	c.keepOnCommit(ctx)
	return e.ExecContext(ctx, query, args)
}

// keepOnCommit keeps the function OnCommit attached to ctx, when the statement runs in
// a transaction.
func (c *countedConn) keepOnCommit(ctx context.Context) {
	if !c.inTx {
		return
	}
	if fn, ok := ctx.Value(onCommitKey{}).(func()); ok {
		c.onCommit = append(c.onCommit, fn)
	}
}

func (c *countedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countedStmt{Stmt: s}, nil
}

func (c *countedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 the fallback database/sql itself uses for drivers without BeginTx
		tx, err = c.Conn.Begin()
	}
	if err != nil {
		return nil, err
	}
	c.inTx, c.onCommit = true, nil
	return countedTx{tx, c}, nil
}

func (c *countedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countedTx struct {
	driver.Tx
	c *countedConn
}

// Commit commits, then runs the functions the transaction's statements brought
// (OnCommit). A transaction that failed answers an error here (pgx reports a COMMIT
// that PostgreSQL turned into a rollback), so they run only after a commit.
func (t countedTx) Commit() error {
	err := t.Tx.Commit()
	fns := t.c.onCommit
	t.c.inTx, t.c.onCommit = false, nil
	if err != nil {
		return err
	}
	Counted.Commits.Add(1)
	for _, fn := range fns {
		fn()
	}
	return nil
}

func (t countedTx) Rollback() error {
	t.c.inTx, t.c.onCommit = false, nil
	return t.Tx.Rollback()
}

type onCommitKey struct{}

// OnCommit returns ctx with fn attached: a statement run with it (through
// QueryContext or ExecContext, as sqlx's do) in a transaction of a pool Open made
// has fn run once that transaction has committed, in the goroutine that commits,
// and never when it rolls back. fn must be quick: the commit waits for it. Outside
// a transaction, or on another driver, fn is dropped: RunsOnCommit tells beforehand.
// It is how a change has an effect in this process that must not come before its
// commit (a background job's wake-up, without a NOTIFY).
func OnCommit(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, onCommitKey{}, fn)
}

// RunsOnCommit reports whether statements run on q run the functions OnCommit
// attaches: q is a transaction of a pool Open made.
func RunsOnCommit(q any) bool {
	tx, ok := q.(*sqlx.Tx)
	return ok && tx.DriverName() == countedDriverName
}

type countedStmt struct{ driver.Stmt }

func (s *countedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	Counted.Statements.Add(1)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	//lint:ignore SA1019 the fallback for a driver's statement without ExecContext
	return s.Stmt.Exec(values(args))
}

func (s *countedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	Counted.Statements.Add(1)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	//lint:ignore SA1019 the fallback for a driver's statement without QueryContext
	return s.Stmt.Query(values(args))
}

func values(args []driver.NamedValue) []driver.Value {
	v := make([]driver.Value, len(args))
	for i, a := range args {
		v[i] = a.Value
	}
	return v
}

func (s *countedStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Array passes a slice as an array parameter in pgx's own binary encoding, for
// statements whose parameters are arrays (unnest, = ANY). lib/pq's pq.Array formats a
// text literal, which pgx first fails to encode (building an error), then parses and
// encodes again: on the hot statements that was several percent of a replica's CPU. A
// nil slice is an empty array, not NULL.
func Array[T any](s []T) any {
	if s == nil {
		return []T{}
	}
	return s
}
