package web

import (
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"golang.org/x/crypto/bcrypt"
)

// NewFastUsers is NewUsers with bcrypt's minimum cost, for tests that make many
// users (the race detector makes the default cost take a second).
func NewFastUsers(d *sqlx.DB) *auth.Users { u := auth.NewUsers(d); u.Cost = bcrypt.MinCost; return u }

// Say is message id in the language code, as the pages write it.
func Say(code, id string, kv ...any) string { return lookupLang(code).T(id, kv...) }

// PercentIn words basis points in the language code.
func PercentIn(code string, bps int) string { return lookupLang(code).Percent(bps) }

// Languages are the codes of the shopper's languages, English first.
func Languages() []string {
	var out []string
	for _, l := range langs {
		out = append(out, l.Code)
	}
	return out
}
