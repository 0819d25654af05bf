package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/cache"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// ShopperTTL is how long a shopper token works.
const ShopperTTL = 2 * time.Hour

// Shoppers stores shopper tokens: random secrets, hashed, each for one order.
type Shoppers struct {
	db    *sqlx.DB
	cache *cache.Map[string, shopperSession]
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

// Cache makes Authenticate remember a token's session for ttl (at most until the
// token expires), so that the portal's requests do not each read it: a session is
// written once and never changed. A session deleted or changed in the database is
// forgotten by every process when the change's notification arrives through hub.
// Call before serving.
func (s *Shoppers) Cache(ttl time.Duration, hub *listen.Hub) {
	s.cache = cache.New[string, shopperSession](ttl, hub, sessionChannel, func(string) (string, bool) { return "", false })
}

// NewShoppers returns a shopper token store on d.
func NewShoppers(d *sqlx.DB) *Shoppers { return &Shoppers{db: d} }

// Issue makes a token for one order of one merchant. Its statement makes the
// caller's writes with first (forgetting the failed attempts that the sign-in ends).
func (s *Shoppers) Issue(ctx context.Context, merchantID, orderID int64, now time.Time, with ...outbox.Part) (token string, expires time.Time, err error) {
	token = newSecret(ShopperTokenPrefix, 37)
	expires = now.Add(ShopperTTL)
	args := []any{hash(token), merchantID, orderID, expires}
	ctes, more := outbox.Ahead(len(args), with...)
	if ctes != "" {
		ctes = "WITH " + ctes + " "
	}
	_, err = s.db.ExecContext(ctx, ctes+`INSERT INTO shopper_sessions (token_hash, merchant_id, order_id, expires_at)
		VALUES ($1, $2, $3, $4)`, append(args, more...)...)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue shopper token: %w", err)
	}
	s.cache.Put(string(hash(token)), shopperSession{p: shopperPrincipal(merchantID, orderID), expires: expires})
	return token, expires, nil
}

// Authenticate finds the live session for token.
func (s *Shoppers) Authenticate(ctx context.Context, token string) (Principal, error) {
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
