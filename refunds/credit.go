package refunds

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/returns"
)

// CreditEntry is one movement of store credit; entries are never changed.
type CreditEntry struct {
	ID           string    `json:"id" db:"public_id" example:"sc_7b2n5z8p1r4t6w9k3q0m2x5c8v"`
	Currency     string    `json:"currency" db:"currency" example:"EUR"`
	Amount       int64     `json:"amount" db:"amount" example:"2975" doc:"Minor units; negative for redemptions."`
	Kind         string    `json:"kind" db:"kind" enum:"issued,bonus,redeemed,reversed,adjusted" example:"issued" doc:"issued, bonus, redeemed, reversed (a redemption given back) or adjusted."`
	ReturnID     *string   `json:"return_id,omitempty" db:"return_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	CreditID     *string   `json:"credit_id,omitempty" db:"credit_id" example:"cred_3c6f9j2m5p8s1v4y7b0e3h6k9n" doc:"The credit (code) the movement is on."`
	RedemptionID *string   `json:"redemption_id,omitempty" db:"redemption_id" example:"red_9k2n5q8t1w4z7c0f3j6m9p2s5v"`
	Note         string    `json:"note,omitempty" db:"note"`
	CreatedAt    time.Time `json:"created_at" db:"created_at"`
}

// Balance is the store credit in one currency.
type Balance struct {
	Currency string `json:"currency" example:"EUR"`
	Amount   int64  `json:"amount" example:"3272"`
}

// CreditCode is one issued credit: its code (only its last symbols are kept), what
// is left of it and when it expires.
type CreditCode struct {
	ID        string     `json:"id" db:"public_id" example:"cred_3c6f9j2m5p8s1v4y7b0e3h6k9n"`
	CodeHint  string     `json:"code_hint" db:"code_hint" example:"…-7QX2" doc:"The last symbols of the code: the code itself is shown once, when the credit is issued."`
	Currency  string     `json:"currency" db:"currency" example:"EUR"`
	Amount    int64      `json:"amount" db:"amount" example:"3272" doc:"Issued, minor units."`
	Balance   int64      `json:"balance" db:"balance" example:"1272" doc:"Left to spend, minor units."`
	ReturnID  *string    `json:"return_id,omitempty" db:"return_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	ExpiresAt *time.Time `json:"expires_at,omitempty" db:"expires_at" doc:"After this the credit cannot be spent."`
	Expired   bool       `json:"expired" db:"expired"`
	CreatedAt time.Time  `json:"created_at" db:"created_at"`
}

// Credit is a shopper's store credit.
type Credit struct {
	Email    string        `json:"email" example:"ada@example.com"`
	Balances []Balance     `json:"balances" doc:"What can be spent per currency: the balances of the credits that have not expired."`
	Credits  []CreditCode  `json:"credits"`
	Entries  []CreditEntry `json:"entries"`
}

// StoreCredit reads a shopper's credits and their movements.
func StoreCredit(ctx context.Context, d sqlx.QueryerContext, merchantID int64, email string) (Credit, error) {
	c := Credit{Email: email, Balances: []Balance{}, Credits: []CreditCode{}, Entries: []CreditEntry{}}
	err := sqlx.SelectContext(ctx, d, &c.Entries, `SELECT c.public_id, c.currency, c.amount, c.kind, r.public_id AS return_id, k.public_id AS credit_id,
		d.public_id AS redemption_id, c.note, c.created_at
		FROM store_credit_entries c LEFT JOIN returns r ON r.id = c.return_id
		LEFT JOIN store_credits k ON k.id = c.credit_id LEFT JOIN store_credit_redemptions d ON d.id = c.redemption_id
		WHERE c.merchant_id = $1 AND c.email = $2 ORDER BY c.id`, merchantID, email)
	if err != nil {
		return Credit{}, fmt.Errorf("refunds: store credit: %w", err)
	}
	err = sqlx.SelectContext(ctx, d, &c.Credits, `SELECT k.public_id, k.code_hint, k.currency, k.amount, k.balance, r.public_id AS return_id,
		k.expires_at, coalesce(k.expires_at <= now(), false) AS expired, k.created_at
		FROM store_credits k LEFT JOIN returns r ON r.id = k.return_id
		WHERE k.merchant_id = $1 AND k.email = $2 ORDER BY k.id`, merchantID, email)
	if err != nil {
		return Credit{}, fmt.Errorf("refunds: store credit: %w", err)
	}
	sums := map[string]int64{}
	var order []string
	for _, k := range c.Credits {
		if _, ok := sums[k.Currency]; !ok {
			order = append(order, k.Currency)
			sums[k.Currency] = 0
		}
		if !k.Expired {
			sums[k.Currency] += k.Balance
		}
	}
	for _, cur := range order {
		c.Balances = append(c.Balances, Balance{Currency: cur, Amount: sums[cur]})
	}
	return c, nil
}

// Store credit codes look like SC-7KQ4-M2XD-9PRT-HV3C: SC, then sixteen symbols of
// Crockford's base 32 in groups of four. Fifteen are random (75 bits: nobody guesses
// one), the sixteenth a check symbol over GF(32), as for RMA numbers, so that a
// mistyped symbol or two swapped symbols are told apart from an unknown code.
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeRandom   = 15
	codeSymbols  = codeRandom + 1
)

func gf32(a, b byte) byte {
	var p byte
	for ; b != 0; b >>= 1 {
		if b&1 != 0 {
			p ^= a
		}
		a <<= 1
		if a&0x20 != 0 {
			a ^= 0x25
		}
	}
	return p
}

// codeSum is Σ vᵢ·αⁱ in GF(32) (α = 2).
func codeSum(v []byte) byte {
	var s byte
	w := byte(1)
	for _, x := range v {
		s ^= gf32(x, w)
		w = gf32(w, 2)
	}
	return s
}

// NewCreditCode returns a new store credit code in canonical form, its random
// symbols drawn from r (crypto/rand.Reader).
func NewCreditCode(r io.Reader) (string, error) {
	var v [codeSymbols]byte
	if _, err := io.ReadFull(r, v[:codeRandom]); err != nil {
		return "", fmt.Errorf("refunds: credit code: %w", err)
	}
	for i := range codeRandom {
		v[i] &= 31
	}
	// choose the check symbol c with s + c·α¹⁵ = 0: c = s·α⁻¹⁵ = s·α¹⁶
	s := codeSum(v[:codeRandom])
	inv := byte(1)
	for range 31 - codeRandom {
		inv = gf32(inv, 2)
	}
	v[codeRandom] = gf32(s, inv)
	var b strings.Builder
	b.WriteString("SC")
	for i, x := range v {
		if i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[x])
	}
	return b.String(), nil
}

// ParseCreditCode reads a code as a shopper or a checkout may type it (any case,
// spaces or dashes anywhere, O for 0, I and L for 1) and returns its canonical form;
// ok is false when it is not a well-formed code with a valid check symbol.
func ParseCreditCode(s string) (string, bool) {
	var v []byte
	up := strings.ToUpper(strings.TrimSpace(s))
	up = strings.TrimPrefix(up, "SC")
	for _, r := range up {
		switch r {
		case ' ', '-':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		i := strings.IndexRune(codeAlphabet, r)
		if i < 0 || len(v) == codeSymbols {
			return "", false
		}
		v = append(v, byte(i))
	}
	if len(v) != codeSymbols || codeSum(v) != 0 {
		return "", false
	}
	var b strings.Builder
	b.WriteString("SC")
	for i, x := range v {
		if i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(codeAlphabet[x])
	}
	return b.String(), true
}

func codeHash(code string) []byte {
	h := sha256.Sum256([]byte(code))
	return h[:]
}

// issuedCredit is a credit just issued, with its code in clear.
type issuedCredit struct {
	ID        int64
	PublicID  string
	Code      string
	ExpiresAt *time.Time
}

// credit issues store credit for a return: one credit with a new code, holding amount
// and bonus, expiring after expiryDays (0: never), and its entries.
func credit(ctx context.Context, tx *sqlx.Tx, r *returns.Return, amount, bonus int64, expiryDays int) (issuedCredit, error) {
	var out issuedCredit
	for attempt := 0; ; attempt++ {
		code, err := NewCreditCode(rand.Reader)
		if err != nil {
			return out, err
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT credit_code`); err != nil {
			return out, err
		}
		err = tx.QueryRowxContext(ctx, `INSERT INTO store_credits (merchant_id, email, currency, code_hash, code_hint, code_reveal,
			amount, balance, return_id, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, CASE WHEN $9 > 0 THEN now() + $9 * interval '1 day' END)
			RETURNING id, public_id, expires_at`, r.MerchantID, r.CustomerEmail, r.Currency, codeHash(code), "…-"+code[len(code)-4:], code,
			amount+bonus, r.ID, expiryDays).Scan(&out.ID, &out.PublicID, &out.ExpiresAt)
		if db.IsUniqueViolation(err, "store_credits_merchant_id_code_hash_key") && attempt < 3 {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT credit_code`); err != nil {
				return out, err
			}
			continue
		}
		if err != nil {
			return out, fmt.Errorf("refunds: store credit: %w", err)
		}
		out.Code = code
		break
	}
	for _, e := range []struct {
		kind string
		amt  int64
		note string
	}{{"issued", amount, "Return " + r.RMA}, {"bonus", bonus, "Store-credit bonus for return " + r.RMA}} {
		if e.amt <= 0 {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO store_credit_entries (merchant_id, email, currency, amount, kind, return_id, credit_id, note)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.MerchantID, r.CustomerEmail, r.Currency, e.amt, e.kind, r.ID, out.ID, e.note)
		if err != nil {
			return out, fmt.Errorf("refunds: store credit: %w", err)
		}
	}
	return out, nil
}

// RevealCodes returns the codes of a shopper's credits that were never shown on the
// status page, and forgets them: each code is shown once. (The store_credit.issued
// webhook carries it to the shop as well.)
//
// The map is keyed by the credits' public IDs.
func RevealCodes(ctx context.Context, d sqlx.ExtContext, merchantID int64, email string) (map[string]string, error) {
	rows, err := d.QueryxContext(ctx, `UPDATE store_credits c SET code_reveal = NULL FROM (
			SELECT id, code_reveal FROM store_credits WHERE merchant_id = $1 AND email = $2 AND code_reveal IS NOT NULL FOR UPDATE
		) old WHERE c.id = old.id RETURNING c.public_id, old.code_reveal`, merchantID, email)
	if err != nil {
		return nil, fmt.Errorf("refunds: reveal codes: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, code string
		if err := rows.Scan(&id, &code); err != nil {
			return nil, err
		}
		out[id] = code
	}
	return out, rows.Err()
}

// Redemption is store credit spent at the shop's checkout.
type Redemption struct {
	PublicID       string     `json:"id" db:"public_id" example:"red_9k2n5q8t1w4z7c0f3j6m9p2s5v"`
	Email          string     `json:"email" db:"email" example:"ada@example.com"`
	Currency       string     `json:"currency" db:"currency" example:"EUR"`
	Amount         int64      `json:"amount" db:"amount" example:"1500" doc:"Spent, minor units."`
	OrderReference string     `json:"order_reference" db:"order_reference" example:"NW-10410"`
	Balance        int64      `json:"balance" db:"balance_after" example:"1772" doc:"What is left to spend afterwards, minor units: of the code when redeemed by code, else of every credit of the email in the currency."`
	CreatedAt      time.Time  `json:"created_at" db:"created_at"`
	ReversedAt     *time.Time `json:"reversed_at,omitempty" db:"reversed_at" doc:"When the redemption was given back (the shop's order was cancelled)."`
	ID             int64      `json:"-" db:"id"`
	MerchantID     int64      `json:"-" db:"merchant_id"`
}

// RedeemInput is a redemption as the shop asks for it.
type RedeemInput struct {
	// Code (canonical) or Email (normalized) says whose credit: exactly one is set.
	Code, Email    string
	Amount         int64
	Currency       string
	OrderReference string
	IdempotencyKey string
	Actor          string
}

// InsufficientCreditError is a redemption of more than the balance.
type InsufficientCreditError struct {
	Balance  int64
	Currency string
}

func (e *InsufficientCreditError) Error() string {
	return fmt.Sprintf("refunds: store credit balance %d %s is too low", e.Balance, e.Currency)
}

// ErrUnknownCode is a code that matches no credit of the merchant.
var ErrUnknownCode = errors.New("refunds: no store credit with that code")

// ErrCreditExpired is a code whose credit has expired.
var ErrCreditExpired = errors.New("refunds: the store credit has expired")

// CurrencyError is a code redeemed in another currency than its own.
type CurrencyError struct{ Want string }

func (e *CurrencyError) Error() string { return "refunds: the store credit is in " + e.Want }

// ErrRedemptionNotFound means no such redemption for this merchant.
var ErrRedemptionNotFound = errors.New("refunds: no such redemption")

// ErrAlreadyReversed is a second reversal of one redemption.
var ErrAlreadyReversed = errors.New("refunds: the redemption was already reversed")

// Redeem spends store credit: the credits it draws on are locked in one order and
// checked after the lock, so concurrent redemptions never take a balance below zero;
// a redemption with an Idempotency-Key already used answers the first one.
func Redeem(ctx context.Context, d *sqlx.DB, merchantID int64, in RedeemInput) (*Redemption, error) {
	if r, err := redemptionByKey(ctx, d, merchantID, in.IdempotencyKey); err == nil || !errors.Is(err, sql.ErrNoRows) {
		return r, err
	}
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	type lot struct {
		ID       int64  `db:"id"`
		Email    string `db:"email"`
		Currency string `db:"currency"`
		Balance  int64  `db:"balance"`
		Expired  bool   `db:"expired"`
	}
	var lots []lot
	if in.Code != "" {
		err = tx.SelectContext(ctx, &lots, `SELECT id, email, currency, balance, coalesce(expires_at <= now(), false) AS expired
			FROM store_credits WHERE merchant_id = $1 AND code_hash = $2 FOR UPDATE`, merchantID, codeHash(in.Code))
		switch {
		case err != nil:
			return nil, fmt.Errorf("refunds: redeem: %w", err)
		case len(lots) == 0:
			return nil, ErrUnknownCode
		case lots[0].Expired:
			return nil, ErrCreditExpired
		case lots[0].Currency != in.Currency:
			return nil, &CurrencyError{Want: lots[0].Currency}
		}
	} else {
		err = tx.SelectContext(ctx, &lots, `SELECT id, email, currency, balance, false AS expired FROM store_credits
			WHERE merchant_id = $1 AND email = $2 AND currency = $3 AND balance > 0 AND (expires_at IS NULL OR expires_at > now())
			ORDER BY expires_at NULLS LAST, id FOR UPDATE`, merchantID, in.Email, in.Currency)
		if err != nil {
			return nil, fmt.Errorf("refunds: redeem: %w", err)
		}
	}
	var total int64
	for _, l := range lots {
		total += l.Balance
	}
	if total < in.Amount {
		return nil, &InsufficientCreditError{Balance: total, Currency: in.Currency}
	}
	email := in.Email
	if in.Code != "" {
		email = lots[0].Email
	}
	red := &Redemption{MerchantID: merchantID, Email: email, Currency: in.Currency, Amount: in.Amount, OrderReference: in.OrderReference,
		Balance: total - in.Amount}
	err = tx.QueryRowxContext(ctx, `INSERT INTO store_credit_redemptions (merchant_id, email, currency, amount, order_reference,
		balance_after, idempotency_key, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, public_id, created_at`,
		merchantID, email, in.Currency, in.Amount, in.OrderReference, red.Balance, in.IdempotencyKey, in.Actor).Scan(&red.ID, &red.PublicID, &red.CreatedAt)
	if db.IsUniqueViolation(err, "store_credit_redemptions_merchant_id_idempotency_key_key") {
		tx.Rollback()
		return redemptionByKey(ctx, d, merchantID, in.IdempotencyKey)
	}
	if err != nil {
		return nil, fmt.Errorf("refunds: redeem: %w", err)
	}
	left := in.Amount
	for _, l := range lots {
		take := min(l.Balance, left)
		if take <= 0 {
			continue
		}
		left -= take
		if _, err := tx.ExecContext(ctx, `UPDATE store_credits SET balance = balance - $2 WHERE id = $1`, l.ID, take); err != nil {
			return nil, fmt.Errorf("refunds: redeem: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO store_credit_entries (merchant_id, email, currency, amount, kind, credit_id,
			redemption_id, note) VALUES ($1, $2, $3, $4, 'redeemed', $5, $6, $7)`,
			merchantID, email, in.Currency, -take, l.ID, red.ID, "Spent on order "+in.OrderReference); err != nil {
			return nil, fmt.Errorf("refunds: redeem: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return red, nil
}

// Reverse gives the redemption with public ID publicID back to the credits it was
// drawn from (the shop's order was cancelled), once.
func Reverse(ctx context.Context, d *sqlx.DB, merchantID int64, publicID string, actor string) (*Redemption, error) {
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var red Redemption
	err = tx.GetContext(ctx, &red, `SELECT id, public_id, merchant_id, email, currency, amount, order_reference, balance_after,
		created_at, reversed_at FROM store_credit_redemptions WHERE merchant_id = $1 AND public_id = $2 FOR UPDATE`, merchantID, publicID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrRedemptionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("refunds: reverse: %w", err)
	}
	if red.ReversedAt != nil {
		return nil, ErrAlreadyReversed
	}
	id := red.ID
	var draws []struct {
		CreditID int64 `db:"credit_id"`
		Amount   int64 `db:"amount"`
	}
	if err := tx.SelectContext(ctx, &draws, `SELECT credit_id, -amount AS amount FROM store_credit_entries
		WHERE redemption_id = $1 AND kind = 'redeemed' ORDER BY credit_id`, id); err != nil {
		return nil, fmt.Errorf("refunds: reverse: %w", err)
	}
	for _, dr := range draws {
		if _, err := tx.ExecContext(ctx, `UPDATE store_credits SET balance = balance + $2 WHERE id = $1`, dr.CreditID, dr.Amount); err != nil {
			return nil, fmt.Errorf("refunds: reverse: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO store_credit_entries (merchant_id, email, currency, amount, kind, credit_id,
			redemption_id, note) VALUES ($1, $2, $3, $4, 'reversed', $5, $6, $7)`,
			merchantID, red.Email, red.Currency, dr.Amount, dr.CreditID, id, "Order "+red.OrderReference+" cancelled"); err != nil {
			return nil, fmt.Errorf("refunds: reverse: %w", err)
		}
	}
	if err := tx.QueryRowxContext(ctx, `UPDATE store_credit_redemptions SET reversed_at = now(), reversed_by = $2 WHERE id = $1
		RETURNING reversed_at`, id, actor).Scan(&red.ReversedAt); err != nil {
		return nil, fmt.Errorf("refunds: reverse: %w", err)
	}
	if err := tx.GetContext(ctx, &red.Balance, `SELECT coalesce(sum(balance), 0) FROM store_credits WHERE merchant_id = $1
		AND email = $2 AND currency = $3 AND (expires_at IS NULL OR expires_at > now())`, merchantID, red.Email, red.Currency); err != nil {
		return nil, fmt.Errorf("refunds: reverse: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return &red, nil
}

// redemptionByKey answers the redemption made with an Idempotency-Key
// (sql.ErrNoRows: none).
func redemptionByKey(ctx context.Context, d *sqlx.DB, merchantID int64, key string) (*Redemption, error) {
	var red Redemption
	err := d.GetContext(ctx, &red, `SELECT id, public_id, merchant_id, email, currency, amount, order_reference, balance_after,
		created_at, reversed_at FROM store_credit_redemptions WHERE merchant_id = $1 AND idempotency_key = $2`, merchantID, key)
	if err != nil {
		return nil, err
	}
	return &red, nil
}
