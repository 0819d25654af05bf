package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"

	"github.com/roundtriphq/roundtrip/internal/db"
)

// Staff users: the people who sign in to the pages, with a role like an API key's.

var (
	// ErrUserExists means the merchant already has a user with that name.
	ErrUserExists = errors.New("auth: a user with that name already exists")
	// ErrSignIn means the shop, user name or password is wrong, or the user is
	// disabled; which one is not said.
	ErrSignIn = errors.New("auth: wrong shop, user name or password")
)

// StaffRoles are the roles a person can have: the API keys' roles without
// integration, which is for the shop's systems.
func StaffRoles() []Role {
	return []Role{RoleAdmin, RoleWarehouse, RoleFinance}
}

// ParseStaffRole checks a staff role name.
func ParseStaffRole(s string) (Role, error) {
	for _, r := range StaffRoles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("auth: unknown staff role %q (want admin, warehouse or finance)", s)
}

// Password limits: bcrypt reads at most 72 bytes, and a longer password would be
// silently cut, so it is refused instead.
const (
	MinPasswordLen   = 10
	MaxPasswordBytes = 72
)

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,62}$`)

// NormalizeUsername returns the form in which user names are stored and compared.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateUsername checks a (normalised) user name.
func ValidateUsername(s string) error {
	if !usernameRE.MatchString(s) {
		return errors.New("auth: a user name is 1 to 63 lower-case letters, digits and . _ @ -, starting with a letter or digit")
	}
	return nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(p string) error {
	switch {
	case utf8.RuneCountInString(p) < MinPasswordLen:
		return fmt.Errorf("auth: a password needs at least %d characters", MinPasswordLen)
	case len(p) > MaxPasswordBytes:
		return fmt.Errorf("auth: a password may have at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// User is a member of a merchant's staff.
type User struct {
	ID         int64     `db:"id"`
	MerchantID int64     `db:"merchant_id"`
	Username   string    `db:"username"`
	Role       Role      `db:"role"`
	CreatedAt  time.Time `db:"created_at"`
}

// Principal is the user as the rest of the product knows callers: the same
// merchant scope and role as an API key, with actor "user:<name>".
func (u User) Principal() Principal {
	return Principal{MerchantID: u.MerchantID, Role: u.Role, Actor: "user:" + u.Username}
}

// Users stores staff users with bcrypt password hashes.
type Users struct {
	db *sqlx.DB
	// Cost is bcrypt's work factor for new passwords (tests lower it).
	Cost int
}

// NewUsers returns a user store on d.
func NewUsers(d *sqlx.DB) *Users { return &Users{db: d, Cost: bcrypt.DefaultCost} }

// Create adds a user; the name is normalised (NormalizeUsername).
func (u *Users) Create(ctx context.Context, merchantID int64, username, password string, role Role) (User, error) {
	username = NormalizeUsername(username)
	if err := ValidateUsername(username); err != nil {
		return User{}, err
	}
	if _, err := ParseStaffRole(string(role)); err != nil {
		return User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), u.Cost)
	if err != nil {
		return User{}, fmt.Errorf("auth: hash password: %w", err)
	}
	var usr User
	err = u.db.GetContext(ctx, &usr, `INSERT INTO staff_users (merchant_id, username, password_hash, role)
		VALUES ($1, $2, $3, $4) RETURNING id, merchant_id, username, role, created_at`, merchantID, username, string(h), role)
	if db.IsUniqueViolation(err, "") {
		return User{}, ErrUserExists
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: create user: %w", err)
	}
	return usr, nil
}

// dummyHash is compared against when the user does not exist, so that a wrong user
// name takes as long as a wrong password. It is made on first use: every binary
// that links the pages should not pay a bcrypt at start-up.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)
	return h
})

// Authenticate checks a user name and password. Any mismatch is ErrSignIn.
func (u *Users) Authenticate(ctx context.Context, merchantID int64, username, password string) (User, error) {
	var row struct {
		User
		Hash string `db:"password_hash"`
	}
	err := u.db.GetContext(ctx, &row, `SELECT id, merchant_id, username, role, created_at, password_hash FROM staff_users
		WHERE merchant_id = $1 AND username = $2 AND disabled_at IS NULL`, merchantID, NormalizeUsername(username))
	if errors.Is(err, sql.ErrNoRows) {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, ErrSignIn
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: find user: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(row.Hash), []byte(password)) != nil {
		return User{}, ErrSignIn
	}
	return row.User, nil
}

// FailSignIn spends a password comparison and returns ErrSignIn, for a sign-in whose
// shop does not exist, so that it takes as long as a wrong password.
func FailSignIn(password string) error {
	bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
	return ErrSignIn
}
