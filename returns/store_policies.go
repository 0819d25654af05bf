package returns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/db"
)

// Policy versions: every change is a new version; returns keep the one they were judged by.

// Policy returns the merchant's current policy, or DefaultPolicy (version 0) when the
// merchant never set one.
func (s *Store) Policy(ctx context.Context, merchantID int64) (Policy, error) {
	return policy(ctx, s.db, merchantID)
}

func policy(ctx context.Context, q sqlx.QueryerContext, merchantID int64) (Policy, error) {
	var row struct {
		Version int    `db:"version"`
		Data    []byte `db:"data"`
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT version, data FROM policies WHERE merchant_id = $1
		ORDER BY version DESC LIMIT 1`, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPolicy(), nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("returns: policy: %w", err)
	}
	var p Policy
	if err := json.Unmarshal(row.Data, &p); err != nil {
		return Policy{}, fmt.Errorf("returns: stored policy: %w", err)
	}
	p.Version = row.Version
	return p, nil
}

// PolicyAt returns the policy version a return was judged by (0: the default).
func (s *Store) PolicyAt(ctx context.Context, merchantID int64, version int) (Policy, error) {
	return PolicyAt(ctx, s.db, merchantID, version)
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
	var p Policy
	if err := json.Unmarshal(data, &p); err != nil {
		return Policy{}, fmt.Errorf("returns: stored policy: %w", err)
	}
	p.Version = version
	return p, nil
}

// PutPolicy stores p as the merchant's next policy version.
func (s *Store) PutPolicy(ctx context.Context, merchantID int64, p Policy, actor string) (Policy, error) {
	if p.Rules == nil {
		p.Rules = []Rule{}
	}
	p.Version = 0
	data, err := json.Marshal(p)
	if err != nil {
		return Policy{}, err
	}
	for attempt := 0; ; attempt++ {
		err = s.db.GetContext(ctx, &p.Version, `INSERT INTO policies (merchant_id, version, data, created_by)
			SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM policies WHERE merchant_id = $1
			RETURNING version`, merchantID, data, actor)
		if db.IsUniqueViolation(err, "") && attempt < 5 {
			continue // a concurrent change took the version: take the next
		}
		if err != nil {
			return Policy{}, fmt.Errorf("returns: put policy: %w", err)
		}
		return p, nil
	}
}
