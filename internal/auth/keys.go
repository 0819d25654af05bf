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

	"github.com/roundtriphq/roundtrip/internal/db"
)

// ErrNotFound means no such key (or it belongs to another merchant).
var ErrNotFound = errors.New("auth: key not found")

// ErrUnauthenticated means the presented secret matches no live key or token.
var ErrUnauthenticated = errors.New("auth: invalid or revoked credentials")

// keyPrefix starts every API key, so leaked keys are recognisable by secret scanners.
const keyPrefix = "rtk_"

// Key is an API key as listed; the secret itself is shown once, at creation.
type Key struct {
	PublicID   string     `json:"id" db:"public_id" example:"key_4h7k0n3q6t9x2b5e8g1j4m7p0r"`
	Role       Role       `json:"role" db:"role" enum:"admin,integration,warehouse,finance" example:"integration"`
	Name       string     `json:"name" db:"name" example:"Shop backend"`
	Prefix     string     `json:"prefix" db:"prefix" doc:"The first characters of the key, to tell keys apart." example:"rtk_3fq9x2"`
	CreatedAt  time.Time  `json:"created_at" db:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" db:"last_used_at" doc:"Within a minute."`
	RevokedAt  *time.Time `json:"revoked_at,omitempty" db:"revoked_at"`
	// ID is the internal key; the API and the pages name a key by PublicID.
	ID int64 `json:"-" db:"id"`
}

// KeyPublicIDPrefix starts every API key's public ID (not its secret, which starts rtk_).
const KeyPublicIDPrefix = "key_"

// Keys stores API keys. Only a SHA-256 hash of each secret is kept.
type Keys struct {
	db    db.Queryer
	cache *keyCache // nil: every request reads the key
}

// NewKeys returns a key store on d.
func NewKeys(d *sqlx.DB) *Keys { return &Keys{db: d} }

// WithTx returns the store working in the caller's transaction tx.
func (k *Keys) WithTx(tx *sqlx.Tx) *Keys { return &Keys{db: tx, cache: k.cache} }

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

func newSecret(prefix string, n int) string {
	return prefix + newSecretFrom(alphabet, n)
}

// newSecretFrom returns n symbols drawn uniformly from alphabet (at most 256).
func newSecretFrom(alphabet string, n int) string {
	// the largest multiple of len(alphabet) that fits a byte; rejection keeps it uniform
	limit := 256 - 256%len(alphabet)
	b := make([]byte, n)
	rand.Read(b)
	var sb strings.Builder
	for _, c := range b {
		for int(c) >= limit {
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
		RETURNING id, public_id, role, name, prefix, created_at, last_used_at, revoked_at`,
		merchantID, role, name, secret[:10], hash(secret))
	if err != nil {
		return Key{}, "", fmt.Errorf("auth: create key: %w", err)
	}
	return key, secret, nil
}

// List returns a merchant's keys, newest first, revoked ones included.
func (k *Keys) List(ctx context.Context, merchantID int64) ([]Key, error) {
	keys := []Key{}
	err := k.db.SelectContext(ctx, &keys, `SELECT id, public_id, role, name, prefix, created_at, last_used_at, revoked_at
		FROM api_keys WHERE merchant_id = $1 ORDER BY id DESC`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return keys, nil
}

// Revoke stops the merchant's key with public ID publicID from working. Revoking a
// revoked key is harmless.
func (k *Keys) Revoke(ctx context.Context, merchantID int64, publicID string) (Key, error) {
	var key Key
	err := k.db.GetContext(ctx, &key, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE merchant_id = $1 AND public_id = $2
		RETURNING id, public_id, role, name, prefix, created_at, last_used_at, revoked_at`, merchantID, publicID)
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
		PublicID   string     `db:"public_id"`
		MerchantID int64      `db:"merchant_id"`
		Role       Role       `db:"role"`
		LastUsedAt *time.Time `db:"last_used_at"`
	}
	err := k.db.GetContext(ctx, &r, `SELECT id, public_id, merchant_id, role, last_used_at FROM api_keys
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
	p := Principal{MerchantID: r.MerchantID, Role: r.Role, KeyID: r.ID, Actor: "key:" + r.PublicID}
	k.cache.put(h, p)
	return p, nil
}
