// Package ratelimit counts hits per bucket in fixed windows kept in PostgreSQL, so
// that every replica enforces one shared limit (a per-process limiter would multiply
// the limit by the number of replicas).
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/roundtriphq/roundtrip/internal/db"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// async begins each statement of a hit or a reset: the statement runs alone, in its
// own implicit transaction, which commits without waiting for the WAL flush
// (synchronous_commit off for it alone; the statement reads async, so PostgreSQL
// evaluates it). A crash of PostgreSQL can lose the last few milliseconds of counts:
// a client gets those attempts again, and a reset may have to happen again; neither
// is worth a disk flush on every portal and staff sign-in.
const async = db.AsyncCommit

// Limiter allows Limit hits per bucket per Window.
type Limiter struct {
	db     *sqlx.DB
	Limit  int
	Window time.Duration
}

// New returns a limiter of limit hits per window.
func New(d *sqlx.DB, limit int, window time.Duration) *Limiter {
	return &Limiter{db: d, Limit: limit, Window: window}
}

// Allow counts a hit on bucket and reports whether it is within the limit; when it
// is not, retryAfter says when the window ends.
//
// The count is a sliding window: the hits of the current fixed window plus the
// previous window's, weighted by how much of it still lies within the last Window.
// Plain fixed windows would let a client that hit the limit just before a window's
// end start again at once, twice the limit in a moment.
func (l *Limiter) Allow(ctx context.Context, bucket string, now time.Time) (ok bool, retryAfter time.Duration, err error) {
	res, err := l.count(ctx, bucket, now, Hit{}, "", nil)
	return res.OK, res.RetryAfter, err
}

// Lookup is what CountMiss answers.
type Lookup struct {
	// OK is false when the attempt is over the limit; RetryAfter then says when the
	// window ends, and Row must not be used.
	OK         bool
	RetryAfter time.Duration
	// Row is the look-up's first row as JSON (db.UnmarshalRows); nil: no row (a miss).
	Row []byte
	// Earlier reports misses counted on the bucket before this attempt (within the
	// current or the previous window): a caller that forgets misses on a success
	// calls Reset only then.
	Earlier bool
}

// CountMiss counts an attempt on bucket that is a miss of read, a SELECT of the
// caller's (its parameters numbered from $1 in args), in one statement with read: an
// attempt whose read finds a row is not counted, but is refused like a counted one
// when the bucket is at its limit. So only failed attempts count (a shopper who
// signs in at the first try writes nothing on bucket) and a right guess made over the
// limit is no use.
//
// first, when its Limiter is set, is a hit counted before the attempt in the same
// statement, whatever the attempt finds (a client address's attempts): when it is
// over its limit the attempt is refused (RetryAfter is first's) and bucket is not
// counted.
func (l *Limiter) CountMiss(ctx context.Context, now time.Time, first Hit, bucket, read string, args ...any) (Lookup, error) {
	return l.count(ctx, bucket, now, first, read, args)
}

// window is a limiter's windows at now: the start of the current one, and how much
// of the previous one still lies within the last Window.
func (l *Limiter) window(now time.Time) (start time.Time, left float64) {
	start = now.Truncate(l.Window)
	return start, float64(l.Window-now.Sub(start)) / float64(l.Window)
}

func (l *Limiter) count(ctx context.Context, bucket string, now time.Time, first Hit, read string, readArgs []any) (Lookup, error) {
	start, left := l.window(now)
	var c struct {
		Current       int    `db:"current"`
		Previous      int    `db:"previous"`
		Counted       bool   `db:"counted"`
		FirstCurrent  int    `db:"first_current"`
		FirstPrevious int    `db:"first_previous"`
		Row           []byte `db:"row"`
	}
	args := []any{bucket, start, start.Add(-l.Window)}
	var ctes []string
	rowCol, when := `NULL::text`, ""
	firstCols := `0 AS first_current, 0 AS first_previous`
	var fStart time.Time
	var fLeft float64
	if first.Limiter != nil {
		fStart, fLeft = first.Limiter.window(now)
		n := len(args)
		args = append(args, first.Bucket, fStart, fStart.Add(-first.Limiter.Window), fLeft, first.Limiter.Limit)
		p := func(i int) string { return "$" + strconv.Itoa(n+i) }
		ctes = append(ctes, `first_cur AS (
			INSERT INTO rate_limits (bucket, window_start, hits) SELECT `+p(1)+`::text, `+p(2)+`::timestamptz, 1 FROM async
			ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
			RETURNING hits)`,
			`first_prev AS (SELECT coalesce((SELECT hits FROM rate_limits WHERE bucket = `+p(1)+` AND window_start = `+p(3)+`), 0) AS hits)`)
		when = ` AND (SELECT hits FROM first_cur) + (SELECT hits FROM first_prev) * ` + p(4) + `::float8 <= ` + p(5) + `::int`
		firstCols = `(SELECT hits FROM first_cur) AS first_current, (SELECT hits FROM first_prev) AS first_previous`
	}
	if read != "" {
		lookup, largs := outbox.Ahead(len(args), outbox.Part{With: `lookup AS (` + read + `)`, Args: readArgs})
		ctes = append(ctes, lookup)
		args = append(args, largs...)
		rowCol = `(SELECT row_to_json(lookup) FROM lookup LIMIT 1)::text`
		when += ` AND NOT EXISTS (SELECT FROM lookup)`
	}
	with := ""
	for _, c := range ctes {
		with += ", " + c
	}
	// a found row writes nothing on bucket: its current count is then read, not
	// returned
	err := l.db.GetContext(ctx, &c, async+with+`, cur AS (
			INSERT INTO rate_limits (bucket, window_start, hits) SELECT $1::text, $2::timestamptz, 1 FROM async WHERE true`+when+`
			ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
			RETURNING hits)
		SELECT coalesce((SELECT hits FROM cur), (SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2), 0) AS current,
			coalesce((SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $3), 0) AS previous,
			EXISTS (SELECT FROM cur) AS counted, `+firstCols+`,
			`+rowCol+` AS row`, args...)
	if err != nil {
		return Lookup{}, fmt.Errorf("ratelimit: %w", err)
	}
	if first.Limiter != nil {
		if float64(c.FirstCurrent)+float64(c.FirstPrevious)*fLeft > float64(first.Limiter.Limit) {
			return Lookup{RetryAfter: fStart.Add(first.Limiter.Window).Sub(now)}, nil
		}
	}
	this := 0 // this attempt, when it was not counted
	if !c.Counted {
		this = 1
	}
	res := Lookup{OK: true, Row: c.Row, Earlier: c.Current+this > 1 || c.Previous > 0}
	if float64(c.Current+this)+float64(c.Previous)*left > float64(l.Limit) {
		res.OK, res.RetryAfter = false, start.Add(l.Window).Sub(now)
	}
	return res, nil
}

// Reset forgets every hit on bucket, as when the attempts it counts failed and one
// has now succeeded.
func (l *Limiter) Reset(ctx context.Context, bucket string) error {
	if _, err := l.db.ExecContext(ctx, async+` DELETE FROM rate_limits WHERE bucket = $1 AND EXISTS (SELECT FROM async)`, bucket); err != nil {
		return fmt.Errorf("ratelimit: reset: %w", err)
	}
	return nil
}

// Retention is how long a window's count is kept after the window started: longer
// than the window of any limiter (limiters count in windows of a minute).
const Retention = time.Hour

// JobSweep is the outbox job that deletes old windows (Jobs).
const JobSweep = "sweep.rate_limits"

// Sweep deletes the counts of windows that started before before, and returns how
// many it deleted.
func Sweep(ctx context.Context, d sqlx.ExecerContext, before time.Time) (int64, error) {
	res, err := d.ExecContext(ctx, `DELETE FROM rate_limits WHERE window_start < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("ratelimit: sweep: %w", err)
	}
	return res.RowsAffected()
}

// Jobs has w sweep the counts older than Retention every ten minutes, in one replica.
func Jobs(w *outbox.Worker) {
	w.Every(JobSweep, 10*time.Minute, func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := Sweep(ctx, tx, time.Now().Add(-Retention))
		return err
	})
}

// Hit is one bucket to count against its limiter; a nil Limiter counts nothing.
type Hit struct {
	Limiter *Limiter
	Bucket  string
}

// AllowAll counts the hits in order and returns how long the caller must wait when one
// of them is over its limit (0: allowed); the hits after a refused one are not counted.
func AllowAll(ctx context.Context, now time.Time, hits ...Hit) (wait time.Duration, err error) {
	for _, h := range hits {
		if h.Limiter == nil {
			continue
		}
		ok, after, err := h.Limiter.Allow(ctx, h.Bucket, now)
		if err != nil {
			return 0, err
		}
		if !ok {
			return after, nil
		}
	}
	return 0, nil
}

// Seconds is wait as the whole seconds of a Retry-After header (at least 1).
func Seconds(wait time.Duration) int { return int(wait.Seconds()) + 1 }
