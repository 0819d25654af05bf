package email

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// LinkPrefix starts every status link token.
const LinkPrefix = "rtl_"

// ErrNoLink means the token names no link of the merchant.
var ErrNoLink = errors.New("email: no such link")

// Link is what a status link in an email opens: one return, for the shopper it was
// sent to. It does not expire; staff revoke it (RevokeLinks).
type Link struct {
	MerchantID int64      `db:"merchant_id"`
	ReturnID   int64      `db:"return_id"`
	Email      string     `db:"email"`
	CreatedAt  time.Time  `db:"created_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
}

// Revoked reports whether staff revoked the link.
func (l Link) Revoked() bool { return l.RevokedAt != nil }

// A status link's token names the email that carries it: LinkPrefix, the message's
// public ID without its "em_", then 26 random characters. Only a SHA-256 hash of the
// whole token is kept, on the message's row, which says to whom and about which return
// it was sent: a link costs no row of its own. Tokens of the earlier form (LinkPrefix
// and the random characters alone) are in return_links and keep working.
const (
	messagePrefix = "em_"
	// publicIDChars is the length of a public ID after its prefix (new_public_id)
	publicIDChars = 28
	// publicIDAlphabet is the characters of a public ID after its prefix
	publicIDAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	secretChars      = 26
)

// newToken returns a status link token for the message publicID and its hash.
func newToken(publicID string) (token string, hash []byte, err error) {
	id, ok := strings.CutPrefix(publicID, messagePrefix)
	if !ok || len(id) != publicIDChars {
		return "", nil, fmt.Errorf("email: %q is not a message's public ID", publicID)
	}
	token = LinkPrefix + id + strings.ToLower(rand.Text())
	return token, hashToken(token), nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// OpenLink reads the link a token names, revoked or not (unsubscribing works with a
// revoked link too); ErrNoLink when there is none for the merchant.
func (s *Service) OpenLink(ctx context.Context, merchantID int64, token string) (Link, error) {
	var l Link
	rest, ok := strings.CutPrefix(token, LinkPrefix)
	if !ok || len(token) > 64 {
		return l, ErrNoLink
	}
	var err error
	if len(rest) == publicIDChars+secretChars && strings.Trim(rest[:publicIDChars], publicIDAlphabet) == "" {
		// the message's row, found by its public ID; the hash, compared there, is what
		// makes the token hard to guess (the public ID is not a secret)
		err = s.db.GetContext(ctx, &l, `SELECT merchant_id, return_id, to_address AS email,
			coalesce(sent_at, updated_at) AS created_at, link_revoked_at AS revoked_at
			FROM email_messages WHERE merchant_id = $1 AND public_id = $2 AND link_hash = $3`,
			merchantID, messagePrefix+rest[:publicIDChars], hashToken(token))
	} else {
		err = s.db.GetContext(ctx, &l, `SELECT merchant_id, return_id, email, created_at, revoked_at
			FROM return_links WHERE token_hash = $1 AND merchant_id = $2`, hashToken(token), merchantID)
	}
	if isNoRows(err) {
		return l, ErrNoLink
	}
	if err != nil {
		return l, fmt.Errorf("email: link: %w", err)
	}
	return l, nil
}

// RevokeLinks revokes every status link to a return sent so far, of either form, in
// the caller's transaction tx (with its audit entry), and says how many it revoked.
// Emails sent later carry new links.
func (s *Service) RevokeLinks(ctx context.Context, tx sqlx.ExtContext, merchantID, returnID int64) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, tx, &n, `WITH stored AS (UPDATE return_links SET revoked_at = now()
			WHERE merchant_id = $1 AND return_id = $2 AND revoked_at IS NULL RETURNING 1),
		carried AS (UPDATE email_messages SET link_revoked_at = now()
			WHERE merchant_id = $1 AND return_id = $2 AND link_hash IS NOT NULL AND link_revoked_at IS NULL RETURNING 1)
		SELECT (SELECT count(*) FROM stored) + (SELECT count(*) FROM carried)`, merchantID, returnID)
	if err != nil {
		return 0, fmt.Errorf("email: revoke links of %d: %w", returnID, err)
	}
	return n, nil
}

// Unsubscribe stops every email to address from the merchant except those about
// money. Unsubscribing twice is the same as once.
func (s *Service) Unsubscribe(ctx context.Context, merchantID int64, address string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO email_optouts (merchant_id, email) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, merchantID, strings.ToLower(address))
	if err != nil {
		return fmt.Errorf("email: unsubscribe: %w", err)
	}
	return nil
}

// Resubscribe undoes Unsubscribe.
func (s *Service) Resubscribe(ctx context.Context, merchantID int64, address string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM email_optouts WHERE merchant_id = $1 AND email = $2`,
		merchantID, strings.ToLower(address))
	if err != nil {
		return fmt.Errorf("email: resubscribe: %w", err)
	}
	return nil
}

// Unsubscribed reports whether address asked for money messages only.
func (s *Service) Unsubscribed(ctx context.Context, merchantID int64, address string) (bool, error) {
	return unsubscribed(ctx, s.db, merchantID, address)
}

func unsubscribed(ctx context.Context, q sqlx.QueryerContext, merchantID int64, address string) (bool, error) {
	var out bool
	err := sqlx.GetContext(ctx, q, &out, `SELECT EXISTS (SELECT 1 FROM email_optouts WHERE merchant_id = $1 AND email = $2)`,
		merchantID, strings.ToLower(address))
	if err != nil {
		return false, fmt.Errorf("email: opt-out of %s: %w", address, err)
	}
	return out, nil
}

// TrackPath is the path of the status page a link token opens.
func TrackPath(slug, token string) string { return "/portal/" + slug + "/track/" + token }
