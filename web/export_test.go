package web

import (
	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"golang.org/x/crypto/bcrypt"
)

// NewFastUsers is NewUsers with bcrypt's minimum cost, for tests that make many
// users (the race detector makes the default cost take a second).
func NewFastUsers(d *sqlx.DB) *auth.Users { u := auth.NewUsers(d); u.Cost = bcrypt.MinCost; return u }
