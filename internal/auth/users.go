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
	ID int64 `db:"id"`
	// PublicID names the user in the pages (usr_…); ID stays internal.
	PublicID   string    `db:"public_id"`
	MerchantID int64     `db:"merchant_id"`
	Username   string    `db:"username"`
	Role       Role      `db:"role"`
	CreatedAt  time.Time `db:"created_at"`
	// DisabledAt is set while the user may not sign in.
	DisabledAt *time.Time `db:"disabled_at"`
	// PasswordChangedAt is when the password was last set.
	PasswordChangedAt *time.Time `db:"password_changed_at"`
	// LastSignInAt is the user's last successful sign-in.
	LastSignInAt *time.Time `db:"last_sign_in_at"`
}

// Disabled reports whether the user is disabled.
func (u User) Disabled() bool { return u.DisabledAt != nil }

// Principal is the user as the rest of the product knows callers: the same
// merchant scope and role as an API key, with actor "user:<name>".
func (u User) Principal() Principal {
	return Principal{MerchantID: u.MerchantID, Role: u.Role, Actor: "user:" + u.Username}
}

// Users stores staff users with bcrypt password hashes.
type Users struct {
	db db.Queryer
	// Cost is bcrypt's work factor for new passwords (tests lower it).
	Cost int
}

// NewUsers returns a user store on d.
func NewUsers(d *sqlx.DB) *Users { return &Users{db: d, Cost: bcrypt.DefaultCost} }

// WithTx returns the store working in the caller's transaction tx.
func (u *Users) WithTx(tx *sqlx.Tx) *Users { return &Users{db: tx, Cost: u.Cost} }

const userCols = `id, public_id, merchant_id, username, role, created_at, disabled_at, password_changed_at, last_sign_in_at`

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
	err = u.db.GetContext(ctx, &usr, `INSERT INTO staff_users (merchant_id, username, password_hash, role, password_changed_at)
		VALUES ($1, $2, $3, $4, now()) RETURNING `+userCols, merchantID, username, string(h), role)
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
	err := u.db.GetContext(ctx, &row, `SELECT `+userCols+`, password_hash FROM staff_users
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
	if _, err := u.db.ExecContext(ctx, `UPDATE staff_users SET last_sign_in_at = now() WHERE id = $1`, row.ID); err != nil {
		return User{}, fmt.Errorf("auth: note sign-in: %w", err)
	}
	return row.User, nil
}

// FailSignIn spends a password comparison and returns ErrSignIn, for a sign-in whose
// shop does not exist, so that it takes as long as a wrong password.
func FailSignIn(password string) error {
	bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
	return ErrSignIn
}

// ErrUserNotFound means the merchant has no user with that ID.
var ErrUserNotFound = errors.New("auth: no such user")

// ErrLastAdmin means the change would leave the merchant without an enabled admin,
// and nobody could manage its users any more.
var ErrLastAdmin = errors.New("auth: the last enabled admin cannot be disabled or lose the admin role")

// List returns a merchant's users by name, disabled ones included.
func (u *Users) List(ctx context.Context, merchantID int64) ([]User, error) {
	list := []User{}
	err := u.db.SelectContext(ctx, &list, `SELECT `+userCols+` FROM staff_users WHERE merchant_id = $1 ORDER BY username`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	return list, nil
}

// ByPublicID returns the merchant's user with public ID publicID (usr_…).
func (u *Users) ByPublicID(ctx context.Context, merchantID int64, publicID string) (User, error) {
	var usr User
	err := u.db.GetContext(ctx, &usr, `SELECT `+userCols+` FROM staff_users WHERE merchant_id = $1 AND public_id = $2`, merchantID, publicID)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: get user: %w", err)
	}
	return usr, nil
}

// Get returns one of a merchant's users.
func (u *Users) Get(ctx context.Context, merchantID, id int64) (User, error) {
	var usr User
	err := u.db.GetContext(ctx, &usr, `SELECT `+userCols+` FROM staff_users WHERE merchant_id = $1 AND id = $2`, merchantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: get user: %w", err)
	}
	return usr, nil
}

// SetRole gives a user another staff role. Taking the admin role from the last
// enabled admin is ErrLastAdmin.
func (u *Users) SetRole(ctx context.Context, merchantID, id int64, role Role) (before, after User, err error) {
	if _, err := ParseStaffRole(string(role)); err != nil {
		return User{}, User{}, err
	}
	err = db.InTx(ctx, u.db, func(tx *sqlx.Tx) error {
		before, err = lockUser(ctx, tx, merchantID, id)
		if err != nil {
			return err
		}
		if before.Role == RoleAdmin && role != RoleAdmin && !before.Disabled() {
			if err := otherAdmin(ctx, tx, merchantID, id); err != nil {
				return err
			}
		}
		return tx.GetContext(ctx, &after, `UPDATE staff_users SET role = $3 WHERE merchant_id = $1 AND id = $2 RETURNING `+userCols,
			merchantID, id, role)
	})
	if err != nil {
		return User{}, User{}, wrapUser("set role", err)
	}
	return before, after, nil
}

// SetDisabled disables a user (who can no longer sign in; their sessions end at
// their next request) or enables them again. Disabling the last enabled admin is
// ErrLastAdmin. Doing what is already done changes nothing.
func (u *Users) SetDisabled(ctx context.Context, merchantID, id int64, disabled bool) (User, error) {
	var after User
	err := db.InTx(ctx, u.db, func(tx *sqlx.Tx) error {
		before, err := lockUser(ctx, tx, merchantID, id)
		if err != nil {
			return err
		}
		if disabled && before.Role == RoleAdmin && !before.Disabled() {
			if err := otherAdmin(ctx, tx, merchantID, id); err != nil {
				return err
			}
		}
		return tx.GetContext(ctx, &after, `UPDATE staff_users SET disabled_at = CASE WHEN $3 THEN coalesce(disabled_at, now()) END
			WHERE merchant_id = $1 AND id = $2 RETURNING `+userCols, merchantID, id, disabled)
	})
	if err != nil {
		return User{}, wrapUser("disable", err)
	}
	return after, nil
}

// SetPassword replaces a user's password.
func (u *Users) SetPassword(ctx context.Context, merchantID, id int64, password string) (User, error) {
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), u.Cost)
	if err != nil {
		return User{}, fmt.Errorf("auth: hash password: %w", err)
	}
	var usr User
	err = u.db.GetContext(ctx, &usr, `UPDATE staff_users SET password_hash = $3, password_changed_at = now()
		WHERE merchant_id = $1 AND id = $2 RETURNING `+userCols, merchantID, id, string(h))
	if err != nil {
		return User{}, wrapUser("set password", err)
	}
	return usr, nil
}

func lockUser(ctx context.Context, tx *sqlx.Tx, merchantID, id int64) (User, error) {
	var usr User
	err := tx.GetContext(ctx, &usr, `SELECT `+userCols+` FROM staff_users WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, merchantID, id)
	return usr, err
}

// otherAdmin checks, under the lock of every enabled admin of the merchant (so that
// two admins demoting each other at once cannot both succeed), that one besides id
// remains.
func otherAdmin(ctx context.Context, tx *sqlx.Tx, merchantID, id int64) error {
	var others []int64
	err := tx.SelectContext(ctx, &others, `SELECT id FROM staff_users WHERE merchant_id = $1 AND role = 'admin'
		AND disabled_at IS NULL AND id <> $2 ORDER BY id FOR UPDATE`, merchantID, id)
	if err != nil {
		return err
	}
	if len(others) == 0 {
		return ErrLastAdmin
	}
	return nil
}

func wrapUser(what string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrUserNotFound
	case errors.Is(err, ErrLastAdmin), errors.Is(err, ErrUserNotFound):
		return err
	}
	return fmt.Errorf("auth: %s: %w", what, err)
}

// passwordAlphabet leaves out look-alikes (0 o 1 l i) so that a password read
// aloud or copied from a screen comes out right.
const passwordAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// NewPassword returns a random password to hand to a person once: four groups of
// five characters (about 99 bits), easy to type.
func NewPassword() string {
	s := newSecretFrom(passwordAlphabet, 20)
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20]
}
