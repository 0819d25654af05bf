package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/cache"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// ShopperTTL is how long a shopper token works.
const ShopperTTL = 2 * time.Hour

// Shoppers issues and checks shopper tokens. A token names one order of one
// merchant and when it expires, signed with a key that every replica shares, so that
// a sign-in writes nothing and a portal request is checked without the database, on
// whichever replica it lands. The key is kept in the database (signing_keys), made by
// the first process that needs it; deleting its row and restarting every replica ends
// every shopper session at once.
//
// Tokens issued before signed tokens were random secrets kept hashed in
// shopper_sessions: those are still looked up there (and cached) until they expire.
type Shoppers struct {
	db    *sqlx.DB
	cache *cache.Map[string, shopperSession]

	mu  sync.Mutex
	key []byte // loaded on first use
}

// shopperSession is a token's session as cached.
type shopperSession struct {
	p       Principal
	expires time.Time
}

// sessionChannel is the NOTIFY channel on which a trigger announces that shopper
// sessions were deleted or changed (the hourly sweep, or anything that ends a
// session early): every process then forgets the sessions it cached.
const sessionChannel = "roundtrip_shopper_sessions"

// Cache makes Authenticate remember a stored token's session for ttl (at most until
// the token expires), so that the portal's requests do not each read it. A session
// deleted or changed in the database is forgotten by every process when the change's
// notification arrives through hub. Call before serving.
func (s *Shoppers) Cache(ttl time.Duration, hub *listen.Hub) {
	s.cache = cache.New[string, shopperSession](ttl, hub, sessionChannel, func(string) (string, bool) { return "", false })
}

// NewShoppers returns a shopper token store on d.
func NewShoppers(d *sqlx.DB) *Shoppers { return &Shoppers{db: d} }

// shopperKeyName is the signing key's row in signing_keys.
const shopperKeyName = "shopper_tokens"

// A signed token is ShopperTokenPrefix and the URL-safe base64 of: its version, the
// merchant's and the order's IDs and its expiry in Unix seconds (8 bytes each, big
// endian), then the first 16 bytes of an HMAC-SHA256 of all that under the key.
const (
	tokenVersion = 1
	tokenBody    = 1 + 8 + 8 + 8
	tokenMAC     = 16
)

var tokenLen = len(ShopperTokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBody+tokenMAC)

// signingKey returns the shared key, making it if no process has yet.
func (s *Shoppers) signingKey(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	var key []byte
	// two processes making the key at once: the second's insert waits for the first's
	// and does nothing, and its statement cannot see the first's row (its snapshot
	// predates it), so it reads again
	for try := 0; key == nil && try < 2; try++ {
		err := s.db.GetContext(ctx, &key, `WITH made AS (INSERT INTO signing_keys (name, key) VALUES ($1, $2)
				ON CONFLICT (name) DO NOTHING RETURNING key)
			SELECT key FROM made UNION ALL SELECT key FROM signing_keys WHERE name = $1 LIMIT 1`, shopperKeyName, fresh)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("auth: shopper token key: %w", err)
		}
	}
	if key == nil {
		return nil, errors.New("auth: shopper token key: not found after it was made")
	}
	s.key = key
	return key, nil
}

// Issue makes a token for one order of one merchant, valid for ShopperTTL from now
// (to the second).
func (s *Shoppers) Issue(ctx context.Context, merchantID, orderID int64, now time.Time) (token string, expires time.Time, err error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	expires = now.Add(ShopperTTL).Truncate(time.Second)
	b := make([]byte, tokenBody, tokenBody+sha256.Size)
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:], uint64(merchantID))
	binary.BigEndian.PutUint64(b[9:], uint64(orderID))
	binary.BigEndian.PutUint64(b[17:], uint64(expires.Unix()))
	b = append(b, tokenSum(key, b)[:tokenMAC]...)
	return ShopperTokenPrefix + base64.RawURLEncoding.EncodeToString(b), expires, nil
}

func tokenSum(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// Authenticate checks token: a signed token by its signature and expiry, one issued
// before signed tokens by its stored session.
func (s *Shoppers) Authenticate(ctx context.Context, token string) (Principal, error) {
	if len(token) != tokenLen {
		return s.stored(ctx, token)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, ShopperTokenPrefix))
	if err != nil || len(b) != tokenBody+tokenMAC || b[0] != tokenVersion {
		return Principal{}, ErrUnauthenticated
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return Principal{}, err
	}
	if !hmac.Equal(b[tokenBody:], tokenSum(key, b[:tokenBody])[:tokenMAC]) {
		return Principal{}, ErrUnauthenticated
	}
	if !time.Now().Before(time.Unix(int64(binary.BigEndian.Uint64(b[17:])), 0)) {
		return Principal{}, ErrUnauthenticated
	}
	return shopperPrincipal(int64(binary.BigEndian.Uint64(b[1:])), int64(binary.BigEndian.Uint64(b[9:]))), nil
}

// stored finds the live stored session of a token issued before signed tokens.
func (s *Shoppers) stored(ctx context.Context, token string) (Principal, error) {
	h := hash(token)
	sess, err := s.cache.Get(ctx, string(h), func(ctx context.Context) (shopperSession, error) {
		var r struct {
			MerchantID int64     `db:"merchant_id"`
			OrderID    int64     `db:"order_id"`
			ExpiresAt  time.Time `db:"expires_at"`
		}
		err := s.db.GetContext(ctx, &r, `SELECT merchant_id, order_id, expires_at FROM shopper_sessions
			WHERE token_hash = $1 AND expires_at > now()`, h)
		if errors.Is(err, sql.ErrNoRows) {
			return shopperSession{}, ErrUnauthenticated
		}
		if err != nil {
			return shopperSession{}, fmt.Errorf("auth: shopper token: %w", err)
		}
		return shopperSession{p: shopperPrincipal(r.MerchantID, r.OrderID), expires: r.ExpiresAt}, nil
	})
	if err != nil {
		return Principal{}, err
	}
	if !time.Now().Before(sess.expires) {
		s.cache.Forget(string(h))
		return Principal{}, ErrUnauthenticated
	}
	return sess.p, nil
}

func shopperPrincipal(merchantID, orderID int64) Principal {
	return Principal{MerchantID: merchantID, OrderID: orderID, Actor: "shopper"}
}

// JobSweepShoppers is the outbox job that deletes expired shopper tokens (Jobs).
const JobSweepShoppers = "sweep.shopper_sessions"

// SweepShoppers deletes the shopper tokens that expired more than a day ago and
// returns how many it deleted.
func SweepShoppers(ctx context.Context, d sqlx.ExecerContext) (int64, error) {
	res, err := d.ExecContext(ctx, `DELETE FROM shopper_sessions WHERE expires_at < now() - interval '1 day'`)
	if err != nil {
		return 0, fmt.Errorf("auth: sweep shopper tokens: %w", err)
	}
	return res.RowsAffected()
}

// Jobs has w sweep expired shopper tokens every hour, in one replica.
func Jobs(w *outbox.Worker) {
	w.Every(JobSweepShoppers, time.Hour, func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := SweepShoppers(ctx, tx)
		return err
	})
}
