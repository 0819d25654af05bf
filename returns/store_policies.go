package returns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/db"
)

// Policy versions: every change is a new version; returns keep the one they were judged by.

// Policy returns the merchant's current policy, or DefaultPolicy (version 0) when the
// merchant never set one.
func (s *Store) Policy(ctx context.Context, merchantID int64) (Policy, error) {
	return policy(ctx, s.db, merchantID)
}

func policy(ctx context.Context, q sqlx.QueryerContext, merchantID int64) (Policy, error) {
	var row policyRow
	err := sqlx.GetContext(ctx, q, &row, `SELECT version AS policy_version, data AS policy_data FROM policies
		WHERE merchant_id = $1 ORDER BY version DESC LIMIT 1`, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPolicy(), nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("returns: policy: %w", err)
	}
	return row.policy()
}

// policyRow is the current policy as a statement that reads it with something else
// returns it (NULL: the merchant never set one).
type policyRow struct {
	Version *int   `db:"policy_version"`
	Data    []byte `db:"policy_data"`
}

func (row policyRow) policy() (Policy, error) {
	if row.Version == nil {
		return DefaultPolicy(), nil
	}
	var p Policy
	if err := json.Unmarshal(row.Data, &p); err != nil {
		return Policy{}, fmt.Errorf("returns: stored policy: %w", err)
	}
	p.Version = *row.Version
	p.settingsAdded()
	return p, nil
}

// PolicyAt returns the policy version a return was judged by (0: the default).
func (s *Store) PolicyAt(ctx context.Context, merchantID int64, version int) (Policy, error) {
	return s.PolicyIn(ctx, s.db, merchantID, version)
}

// policyKey names a merchant's policy version in Store.versions.
type policyKey struct {
	merchantID int64
	version    int
}

// PolicyIn is Store.PolicyAt read through q (a caller's transaction) when this
// process has not read the version before: versions are immutable, so each is read
// once per process. Every call decodes its own copy.
func (s *Store) PolicyIn(ctx context.Context, q sqlx.QueryerContext, merchantID int64, version int) (Policy, error) {
	if version == 0 {
		return DefaultPolicy(), nil
	}
	key := policyKey{merchantID, version}
	data, ok := s.versions.Load(key)
	if !ok {
		var b []byte
		err := sqlx.GetContext(ctx, q, &b, `SELECT data FROM policies WHERE merchant_id = $1 AND version = $2`, merchantID, version)
		if err != nil {
			return Policy{}, fmt.Errorf("returns: policy version %d: %w", version, err)
		}
		data, _ = s.versions.LoadOrStore(key, b)
	}
	return decodePolicy(data.([]byte), version)
}

// PolicyAt is Store.PolicyAt on q, for callers inside a transaction (a second pooled
// connection taken while a transaction holds one can starve the pool under load).
func PolicyAt(ctx context.Context, q sqlx.QueryerContext, merchantID int64, version int) (Policy, error) {
	if version == 0 {
		return DefaultPolicy(), nil
	}
	var data []byte
	err := sqlx.GetContext(ctx, q, &data, `SELECT data FROM policies WHERE merchant_id = $1 AND version = $2`, merchantID, version)
	if err != nil {
		return Policy{}, fmt.Errorf("returns: policy version %d: %w", version, err)
	}
	return decodePolicy(data, version)
}

// decodePolicy is a stored policy version.
func decodePolicy(data []byte, version int) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(data, &p); err != nil {
		return Policy{}, fmt.Errorf("returns: stored policy: %w", err)
	}
	p.Version = version
	p.settingsAdded()
	return p, nil
}

// PutPolicy stores p as the merchant's next policy version.
func (s *Store) PutPolicy(ctx context.Context, merchantID int64, p Policy, actor string) (Policy, error) {
	var out Policy
	err := db.Tx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		out, err = PutPolicyIn(ctx, tx, merchantID, p, actor)
		return err
	})
	return out, err
}

// PutPolicyIn is PutPolicy in the caller's transaction tx, so that what else the
// change writes (its audit entry) commits with it. It returns the policy as stored,
// with its version.
func PutPolicyIn(ctx context.Context, tx *sqlx.Tx, merchantID int64, p Policy, actor string) (Policy, error) {
	if p.Rules == nil {
		p.Rules = []Rule{}
	}
	p.Version = 0
	data, err := json.Marshal(p)
	if err != nil {
		return Policy{}, err
	}
	for attempt := 0; ; attempt++ {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT policy_version`); err != nil {
			return Policy{}, fmt.Errorf("returns: put policy: %w", err)
		}
		err = tx.GetContext(ctx, &p.Version, `INSERT INTO policies (merchant_id, version, data, created_by)
			SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM policies WHERE merchant_id = $1
			RETURNING version`, merchantID, data, actor)
		if db.IsUniqueViolation(err, "") && attempt < 5 {
			// a concurrent change took the version: take the next
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT policy_version`); err != nil {
				return Policy{}, fmt.Errorf("returns: put policy: %w", err)
			}
			continue
		}
		if err != nil {
			return Policy{}, fmt.Errorf("returns: put policy: %w", err)
		}
		return p, nil
	}
}

// PolicyVersion is a stored version of a merchant's policy: who saved it and when.
type PolicyVersion struct {
	Policy    Policy
	CreatedAt time.Time
	CreatedBy string
}

// PolicyVersions returns a merchant's stored policy versions, newest first: at most
// limit of those older than version before (0: from the newest), and whether there
// are more.
func (s *Store) PolicyVersions(ctx context.Context, merchantID int64, before, limit int) ([]PolicyVersion, bool, error) {
	if limit <= 0 {
		limit = 20
	}
	var rows []struct {
		Version   int       `db:"version"`
		Data      []byte    `db:"data"`
		CreatedAt time.Time `db:"created_at"`
		CreatedBy string    `db:"created_by"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT version, data, created_at, created_by FROM policies
		WHERE merchant_id = $1 AND ($2 = 0 OR version < $2) ORDER BY version DESC LIMIT $3`, merchantID, before, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("returns: policy versions: %w", err)
	}
	rows, more := cursor.Trim(rows, limit)
	out := make([]PolicyVersion, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Data, &out[i].Policy); err != nil {
			return nil, false, fmt.Errorf("returns: stored policy version %d: %w", r.Version, err)
		}
		out[i].Policy.Version, out[i].CreatedAt, out[i].CreatedBy = r.Version, r.CreatedAt, r.CreatedBy
	}
	return out, more, nil
}

// PolicyChanges says what the stored version saved changed from the version before
// it (DiffPolicies), in q.
func PolicyChanges(ctx context.Context, q sqlx.QueryerContext, merchantID int64, saved Policy) ([]string, error) {
	prev, err := PolicyAt(ctx, q, merchantID, saved.Version-1)
	if err != nil {
		return nil, err
	}
	return DiffPolicies(prev, saved), nil
}
