package web

import (
	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"
)

// NewFastUsers is NewUsers with bcrypt's minimum cost, for tests that make many
// users (the race detector makes the default cost take a second).
func NewFastUsers(d *sqlx.DB) *Users { return &Users{db: d, cost: bcrypt.MinCost} }
