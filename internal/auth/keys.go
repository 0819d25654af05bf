package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ErrNotFound means no such key (or it belongs to another merchant).
var ErrNotFound = errors.New("auth: key not found")

// ErrUnauthenticated means the presented secret matches no live key or token.
var ErrUnauthenticated = errors.New("auth: invalid or revoked credentials")

// keyPrefix starts every API key, so leaked keys are recognisable by secret scanners.
const keyPrefix = "rtk_"

// Key is an API key as listed; the secret itself is shown once, at creation.
type Key struct {
	ID         int64      `json:"id" db:"id" example:"12"`
	Role       Role       `json:"role" db:"role" enum:"admin,integration,warehouse,finance" example:"integration"`
	Name       string     `json:"name" db:"name" example:"Shop backend"`
	Prefix     string     `json:"prefix" db:"prefix" doc:"The first characters of the key, to tell keys apart." example:"rtk_3fq9x2"`
	CreatedAt  time.Time  `json:"created_at" db:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" db:"last_used_at" doc:"Within a minute."`
	RevokedAt  *time.Time `json:"revoked_at,omitempty" db:"revoked_at"`
}

// Keys stores API keys. Only a SHA-256 hash of each secret is kept.
type Keys struct {
	db    *sqlx.DB
	cache *keyCache // nil: every request reads the key
}

// NewKeys returns a key store on d.
func NewKeys(d *sqlx.DB) *Keys { return &Keys{db: d} }

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

func newSecret(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, c := range b {
		// 252 is the largest multiple of 36 below 256; rejection keeps it uniform
		for c >= 252 {
			var one [1]byte
			rand.Read(one[:])
			c = one[0]
		}
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return sb.String()
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Create makes a key for a merchant and returns it with its secret.
func (k *Keys) Create(ctx context.Context, merchantID int64, role Role, name string) (Key, string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Key{}, "", err
	}
	secret := newSecret(keyPrefix, 37) // 37 symbols of base 36: 191 bits
	var key Key
	err := k.db.GetContext(ctx, &key, `INSERT INTO api_keys (merchant_id, role, name, prefix, hash)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING id, role, name, prefix, created_at, last_used_at, revoked_at`,
		merchantID, role, name, secret[:10], hash(secret))
	if err != nil {
		return Key{}, "", fmt.Errorf("auth: create key: %w", err)
	}
	return key, secret, nil
}

// List returns a merchant's keys, newest first, revoked ones included.
func (k *Keys) List(ctx context.Context, merchantID int64) ([]Key, error) {
	keys := []Key{}
	err := k.db.SelectContext(ctx, &keys, `SELECT id, role, name, prefix, created_at, last_used_at, revoked_at
		FROM api_keys WHERE merchant_id = $1 ORDER BY id DESC`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return keys, nil
}

// Revoke stops a key from working. Revoking a revoked key is harmless.
func (k *Keys) Revoke(ctx context.Context, merchantID, id int64) (Key, error) {
	var key Key
	err := k.db.GetContext(ctx, &key, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE merchant_id = $1 AND id = $2
		RETURNING id, role, name, prefix, created_at, last_used_at, revoked_at`, merchantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, ErrNotFound
	}
	if err != nil {
		return Key{}, fmt.Errorf("auth: revoke key: %w", err)
	}
	// every process forgets it (this one at once; the others on the notification)
	if _, err := k.db.ExecContext(ctx, `SELECT pg_notify($1, encode(hash, 'hex')) FROM api_keys WHERE id = $2`,
		revokedChannel, key.ID); err != nil {
		return Key{}, fmt.Errorf("auth: announce revoked key: %w", err)
	}
	k.cache.forget(key.ID)
	return key, nil
}

// Authenticate finds the live key for secret.
func (k *Keys) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, keyPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	h := hash(secret)
	if p, ok := k.cache.get(h); ok {
		return p, nil
	}
	var r struct {
		ID         int64      `db:"id"`
		MerchantID int64      `db:"merchant_id"`
		Role       Role       `db:"role"`
		LastUsedAt *time.Time `db:"last_used_at"`
	}
	err := k.db.GetContext(ctx, &r, `SELECT id, merchant_id, role, last_used_at FROM api_keys
		WHERE hash = $1 AND revoked_at IS NULL`, h)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: authenticate: %w", err)
	}
	// last_used_at is kept to the minute so that a busy key does not write on every request
	if r.LastUsedAt == nil || time.Since(*r.LastUsedAt) > time.Minute {
		if _, err := k.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, r.ID); err != nil {
			return Principal{}, fmt.Errorf("auth: touch key: %w", err)
		}
	}
	p := Principal{MerchantID: r.MerchantID, Role: r.Role, KeyID: r.ID, Actor: fmt.Sprintf("key:%d", r.ID)}
	k.cache.put(h, p)
	return p, nil
}
