// Package audit keeps each merchant's audit trail: who changed the shop's set-up
// (return policy, staff users, API keys, branding, carrier secret, webhook endpoints)
// or decided a return from the admin console, when, what, and on what.
//
// Entries are only added, never changed: the table refuses updates and deletes. The
// code that makes a change records it, in the change's own transaction (Log.Change,
// or Record on a transaction the caller holds), so that a change and its entry commit
// together or not at all, and a reader of that code sees what is recorded.
package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/cursor"
	"github.com/roundtriphq/roundtrip/internal/db"
)

// Action says what was done, as a stable code: noun.verb in the past tense.
type Action string

// The actions the trail records.
const (
	// PolicyUpdated: a new version of the return policy was saved.
	PolicyUpdated Action = "policy.updated"
	// MerchantUpdated: the shop's name, branding or returns address changed.
	MerchantUpdated Action = "merchant.updated"
	// CarrierSecretRotated: the carrier's signing secret was replaced.
	CarrierSecretRotated Action = "carrier_secret.rotated"
	// CarrierSettingsUpdated: the carrier of the shop's labels, its Shippo token,
	// preferred carriers and services, parcel or fallback changed.
	CarrierSettingsUpdated Action = "carrier_settings.updated"
	// CarrierWebhookTokenRotated: the token of the Shippo tracking webhook URL was
	// replaced.
	CarrierWebhookTokenRotated Action = "carrier_webhook_token.rotated"
	// KeyCreated and KeyRevoked: an API key was made or stopped.
	KeyCreated Action = "api_key.created"
	KeyRevoked Action = "api_key.revoked"
	// UserCreated, UserDisabled, UserEnabled, UserPasswordReset and UserRoleChanged:
	// a staff user who signs in to the pages was added or changed.
	UserCreated       Action = "user.created"
	UserDisabled      Action = "user.disabled"
	UserEnabled       Action = "user.enabled"
	UserPasswordReset Action = "user.password_reset"
	UserRoleChanged   Action = "user.role_changed"
	// EndpointCreated, EndpointUpdated, EndpointDeleted and EndpointSecretRotated: a
	// webhook endpoint of the shop was added, changed (URL, events, enabled), removed
	// or given a new signing secret.
	EndpointCreated       Action = "webhook_endpoint.created"
	EndpointUpdated       Action = "webhook_endpoint.updated"
	EndpointDeleted       Action = "webhook_endpoint.deleted"
	EndpointSecretRotated Action = "webhook_endpoint.secret_rotated"
	// DeliveryRetried: a webhook delivery was sent again by hand.
	DeliveryRetried Action = "webhook_delivery.retried"
	// EmailRetried: a parked email to a shopper was sent again by hand.
	EmailRetried Action = "email.retried"
	// LinksRevoked: the status links in a return's emails were switched off.
	LinksRevoked Action = "return_links.revoked"
	// ReturnApproved and ReturnRejected: staff decided a return waiting for review.
	ReturnApproved Action = "return.approved"
	ReturnRejected Action = "return.rejected"
)

// Entry is one recorded action.
type Entry struct {
	// ID is the entry's public ID (and what its cursor names); Seq orders the trail,
	// never shown.
	ID  string `json:"id" db:"public_id" example:"aud_1c4f7h0k3n6q9t2w5y8b1e4g7j"`
	Seq int64  `json:"-" db:"id"`
	// At is when the change was committed (the transaction's time).
	At time.Time `json:"at" db:"at"`
	// Actor is who: "user:ana" signed in to the pages, "key:key_4h7k…" an API key, "cli" the
	// roundtrip command.
	Actor string `json:"actor" db:"actor" example:"user:ana"`
	// Action is what was done.
	Action Action `json:"action" db:"action" example:"policy.updated"`
	// Target is what it was done to, in words.
	Target string `json:"target" db:"target" example:"policy v4"`
	// Summary says what changed, in words.
	Summary string `json:"summary" db:"summary" example:"Return window: 30 → 45 days"`
}

// Limits on what an entry holds: a summary longer than MaxSummary is cut with "…".
const (
	MaxTarget  = 200
	MaxSummary = 4000
)

// Record adds e to the merchant's trail in q, the transaction of the change it
// records. Actor and Action are required; At is the transaction's time.
func Record(ctx context.Context, q sqlx.ExecerContext, merchantID int64, e Entry) error {
	if e.Actor == "" || e.Action == "" {
		return errors.New("audit: an entry needs an actor and an action")
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_log (merchant_id, actor, action, target, summary)
		VALUES ($1, $2, $3, $4, $5)`, merchantID, e.Actor, string(e.Action), cut(e.Target, MaxTarget), cut(e.Summary, MaxSummary))
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = strings.ToValidUTF8(s[:n-len("…")], "")
	return s + "…"
}

// Log reads the trail and runs changes that record themselves.
type Log struct {
	db *sqlx.DB
}

// NewLog returns the trail on d.
func NewLog(d *sqlx.DB) *Log { return &Log{db: d} }

// Change runs fn in a new transaction and records the entry fn returns in it, by
// actor when the entry names nobody; both commit together. When fn fails nothing is
// recorded and nothing it did is kept.
func (l *Log) Change(ctx context.Context, merchantID int64, actor string, fn func(tx *sqlx.Tx) (Entry, error)) error {
	return db.Tx(ctx, l.db, func(tx *sqlx.Tx) error {
		e, err := fn(tx)
		if err != nil {
			return err
		}
		if e.Actor == "" {
			e.Actor = actor
		}
		return Record(ctx, tx, merchantID, e)
	})
}

// List returns a merchant's entries, newest first: at most limit (default 50) of
// those older than the entry with public ID before ("": from the newest), and whether
// there are more. An entry that is not the merchant's is refused with cursor.Unknown.
func (l *Log) List(ctx context.Context, merchantID int64, before string, limit int) ([]Entry, bool, error) {
	if limit <= 0 {
		limit = 50
	}
	var key int64
	if before != "" {
		var err error
		if key, err = cursor.Resolve(ctx, l.db, `SELECT id FROM audit_log WHERE merchant_id = $1 AND public_id = $2`, merchantID, before); err != nil {
			return nil, false, err
		}
	}
	list := []Entry{}
	err := l.db.SelectContext(ctx, &list, `SELECT id, public_id, at, actor, action, target, summary FROM audit_log
		WHERE merchant_id = $1 AND ($2::bigint = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, merchantID, key, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("audit: list: %w", err)
	}
	list, more := cursor.Trim(list, limit)
	return list, more, nil
}

// Lines makes a summary of one change per line, or says that nothing changed.
func Lines(changes []string) string {
	if len(changes) == 0 {
		return "Saved without changes."
	}
	return strings.Join(changes, "\n")
}
