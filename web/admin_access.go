package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/merchant"
)

// Who may get in: staff users who sign in to the pages, and the API keys of the
// shop's systems. Passwords and key secrets are shown once, in the answer to the
// form that made them, and never stored in the clear.

// secretView is a secret shown once.
type secretView struct {
	What, Label, Value string
}

// ---- staff users

type usersView struct {
	Nav    adminNav
	Notice string
	Secret *secretView
	Errors []fieldErr
	Users  []auth.User
	// Me is the signed-in admin, who cannot disable themselves or drop their role.
	Me    int64
	Roles []auth.Role
	// Create is the create form as typed, after an error.
	Create struct {
		Username string
		Role     auth.Role
	}
}

func (s *Server) adminUsers(rq *request) error {
	v := &usersView{}
	// the notice of a change, after its redirect
	if q := rq.URL.Query(); q.Get("did") != "" {
		if u, err := s.users.ByPublicID(rq.ctx(), rq.p.MerchantID, q.Get("user")); err == nil {
			switch {
			case q.Get("did") == "role":
				v.Notice = fmt.Sprintf("%s now has the %s role.", u.Username, u.Role)
			case q.Get("did") == "status" && u.Disabled():
				v.Notice = u.Username + " is disabled: they are signed out and cannot sign in."
			case q.Get("did") == "status":
				v.Notice = u.Username + " is enabled: they can sign in again."
			}
		}
	}
	return s.usersPage(rq, http.StatusOK, v)
}

func (s *Server) usersPage(rq *request, status int, v *usersView) error {
	var err error
	if v.Nav, err = s.nav(rq, "users"); err != nil {
		return err
	}
	if v.Users, err = s.users.List(rq.ctx(), rq.p.MerchantID); err != nil {
		return err
	}
	v.Me, v.Roles = rq.user.ID, auth.StaffRoles()
	if v.Create.Role == "" {
		v.Create.Role = auth.RoleWarehouse
	}
	return s.render(rq, status, "admin_users", "Staff users", v)
}

// userEntry is the audit entry of action on user u.
func userEntry(action audit.Action, u auth.User, summary string) audit.Entry {
	return audit.Entry{Action: action, Target: "user " + u.Username, Summary: summary}
}

// adminCreateUser adds a user with the password typed, or a generated one shown
// once.
func (s *Server) adminCreateUser(rq *request) error {
	ctx := rq.ctx()
	v := &usersView{}
	v.Create.Username = auth.NormalizeUsername(rq.PostFormValue("username"))
	v.Create.Role = auth.Role(rq.PostFormValue("role"))
	password := rq.PostFormValue("password")
	generated := password == ""
	if generated {
		password = auth.NewPassword()
	}
	if err := auth.ValidateUsername(v.Create.Username); err != nil {
		v.Errors = append(v.Errors, fieldErr{ID: "new-username", Label: "User name", Message: "use 1 to 63 lower-case letters, digits and . _ @ -, starting with a letter or digit"})
	}
	if _, err := auth.ParseStaffRole(string(v.Create.Role)); err != nil {
		v.Errors = append(v.Errors, fieldErr{ID: "new-role", Label: "Role", Message: "choose admin, warehouse or finance"})
	}
	if err := auth.ValidatePassword(password); err != nil {
		v.Errors = append(v.Errors, fieldErr{ID: "new-password", Label: "Password",
			Message: fmt.Sprintf("use %d to %d characters, or leave it empty for a generated one", auth.MinPasswordLen, auth.MaxPasswordBytes)})
	}
	if len(v.Errors) > 0 {
		return s.usersPage(rq, http.StatusUnprocessableEntity, v)
	}
	var u auth.User
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		u, err = s.users.WithTx(tx).Create(ctx, rq.p.MerchantID, v.Create.Username, password, v.Create.Role)
		return userEntry(audit.UserCreated, u, "Role "+string(u.Role)), err
	})
	if errors.Is(err, auth.ErrUserExists) {
		v.Errors = append(v.Errors, fieldErr{ID: "new-username", Label: "User name", Message: "the shop already has a user with that name"})
		return s.usersPage(rq, http.StatusUnprocessableEntity, v)
	}
	if err != nil {
		return err
	}
	done := &usersView{Notice: fmt.Sprintf("Added %s with the %s role. They sign in at /signin with the shop %q.", u.Username, u.Role, rq.merchant.Slug)}
	if generated {
		done.Secret = &secretView{What: "The password of " + u.Username + ".", Label: "Password", Value: password}
	}
	return s.usersPage(rq, http.StatusOK, done)
}

// targetUser reads the {id} user of the path.
func (s *Server) targetUser(rq *request) (auth.User, error) {
	u, err := s.users.ByPublicID(rq.ctx(), rq.p.MerchantID, rq.PathValue("id"))
	if errors.Is(err, auth.ErrUserNotFound) {
		return auth.User{}, &pageError{Status: http.StatusNotFound, Title: "No such user",
			Message: "This shop has no user with that number.", Link: "/admin/users", LinkText: "Back to the users"}
	}
	return u, err
}

// notYourself refuses a change an admin may not make to their own account.
func notYourself(what string) error {
	return &pageError{Status: http.StatusConflict, Title: "Not on your own account",
		Message: "You cannot " + what + " yourself: ask another admin.", Link: "/admin/users", LinkText: "Back to the users"}
}

var lastAdmin = &pageError{Status: http.StatusConflict, Title: "The shop needs an admin",
	Message: "This is the last enabled admin: make someone else an admin first.", Link: "/admin/users", LinkText: "Back to the users"}

func (s *Server) adminUserRole(rq *request) error {
	ctx := rq.ctx()
	u, err := s.targetUser(rq)
	if err != nil {
		return err
	}
	role, err := auth.ParseStaffRole(rq.PostFormValue("role"))
	if err != nil {
		return &pageError{Status: http.StatusUnprocessableEntity, Title: "Choose a role",
			Message: "A staff user is an admin, warehouse or finance.", Link: "/admin/users", LinkText: "Back to the users"}
	}
	if u.ID == rq.user.ID {
		return notYourself("change the role of")
	}
	err = s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		before, after, err := s.users.WithTx(tx).SetRole(ctx, rq.p.MerchantID, u.ID, role)
		return userEntry(audit.UserRoleChanged, after, fmt.Sprintf("Role: %s → %s", before.Role, after.Role)), err
	})
	if errors.Is(err, auth.ErrLastAdmin) {
		return lastAdmin
	}
	if err != nil {
		return err
	}
	return redirectTo("/admin/users?did=role&user=" + url.QueryEscape(u.PublicID))
}

// adminUserStatus disables a user (ending their sessions) or enables them again.
func (s *Server) adminUserStatus(rq *request) error {
	ctx := rq.ctx()
	u, err := s.targetUser(rq)
	if err != nil {
		return err
	}
	disable := rq.PostFormValue("disabled") == "1"
	if u.ID == rq.user.ID && disable {
		return notYourself("disable")
	}
	action, said := audit.UserEnabled, "User enabled: they can sign in again."
	if disable {
		action, said = audit.UserDisabled, "User disabled: they are signed out and cannot sign in."
	}
	err = s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		after, err := s.users.WithTx(tx).SetDisabled(ctx, rq.p.MerchantID, u.ID, disable)
		if err != nil {
			return audit.Entry{}, err
		}
		if disable {
			if err := s.sessions.EndAll(ctx, tx, rq.p.MerchantID, u.ID, ""); err != nil {
				return audit.Entry{}, err
			}
		}
		return userEntry(action, after, said), nil
	})
	if errors.Is(err, auth.ErrLastAdmin) {
		return lastAdmin
	}
	if err != nil {
		return err
	}
	return redirectTo("/admin/users?did=status&user=" + url.QueryEscape(u.PublicID))
}

// adminUserPassword gives a user a new generated password, shown once, and ends
// their sessions (but the admin's own, when they reset their own).
func (s *Server) adminUserPassword(rq *request) error {
	ctx := rq.ctx()
	u, err := s.targetUser(rq)
	if err != nil {
		return err
	}
	password := auth.NewPassword()
	keep := ""
	if u.ID == rq.user.ID {
		if c, err := rq.Cookie(staffCookie); err == nil {
			keep = c.Value
		}
	}
	err = s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		after, err := s.users.WithTx(tx).SetPassword(ctx, rq.p.MerchantID, u.ID, password)
		if err != nil {
			return audit.Entry{}, err
		}
		if err := s.sessions.EndAll(ctx, tx, rq.p.MerchantID, u.ID, keep); err != nil {
			return audit.Entry{}, err
		}
		return userEntry(audit.UserPasswordReset, after, "New password set; their sessions ended."), nil
	})
	if err != nil {
		return err
	}
	return s.usersPage(rq, http.StatusOK, &usersView{
		Notice: "New password for " + u.Username + ": their sessions have ended, and they sign in with it from now on.",
		Secret: &secretView{What: "The new password of " + u.Username + ".", Label: "Password", Value: password}})
}

// ---- API keys

type keysView struct {
	Nav    adminNav
	Notice string
	Secret *secretView
	Errors []fieldErr
	Keys   []auth.Key
	Roles  []auth.Role
	Create struct {
		Name string
		Role auth.Role
	}
}

func (s *Server) adminKeys(rq *request) error {
	v := &keysView{}
	if id := rq.URL.Query().Get("revoked"); strings.HasPrefix(id, auth.KeyPublicIDPrefix) {
		v.Notice = fmt.Sprintf("Key %s is revoked: it stopped working.", id)
	}
	return s.keysPage(rq, http.StatusOK, v)
}

func (s *Server) keysPage(rq *request, status int, v *keysView) error {
	var err error
	if v.Nav, err = s.nav(rq, "keys"); err != nil {
		return err
	}
	if v.Keys, err = s.keys.List(rq.ctx(), rq.p.MerchantID); err != nil {
		return err
	}
	v.Roles = auth.Roles()
	if v.Create.Role == "" {
		v.Create.Role = auth.RoleIntegration
	}
	return s.render(rq, status, "admin_keys", "API keys", v)
}

func (s *Server) adminCreateKey(rq *request) error {
	ctx := rq.ctx()
	v := &keysView{}
	v.Create.Name = strings.TrimSpace(rq.PostFormValue("name"))
	v.Create.Role = auth.Role(rq.PostFormValue("role"))
	if _, err := auth.ParseRole(string(v.Create.Role)); err != nil {
		v.Errors = append(v.Errors, fieldErr{ID: "key-role", Label: "Role", Message: "choose integration, warehouse, finance or admin"})
	}
	if len([]rune(v.Create.Name)) > 100 {
		v.Errors = append(v.Errors, fieldErr{ID: "key-name", Label: "Name", Message: "use at most 100 characters"})
	}
	if len(v.Errors) > 0 {
		return s.keysPage(rq, http.StatusUnprocessableEntity, v)
	}
	var k auth.Key
	var secret string
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		k, secret, err = s.keys.WithTx(tx).Create(ctx, rq.p.MerchantID, v.Create.Role, v.Create.Name)
		return merchant.KeyEntry(audit.KeyCreated, k), err
	})
	if err != nil {
		return err
	}
	return s.keysPage(rq, http.StatusOK, &keysView{
		Notice: fmt.Sprintf("Created %s key %s. Send it as Authorization: Bearer <key>.", k.Role, k.PublicID),
		Secret: &secretView{What: fmt.Sprintf("API key %s (%s).", k.PublicID, k.Role), Label: "API key", Value: secret}})
}

func (s *Server) adminRevokeKey(rq *request) error {
	ctx := rq.ctx()
	var k auth.Key
	err := s.audit.Change(ctx, rq.p.MerchantID, rq.p.Actor, func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		k, err = s.keys.WithTx(tx).Revoke(ctx, rq.p.MerchantID, rq.PathValue("id"))
		return merchant.KeyEntry(audit.KeyRevoked, k), err
	})
	if errors.Is(err, auth.ErrNotFound) {
		return &pageError{Status: http.StatusNotFound, Title: "No such key",
			Message: "This shop has no API key with that number.", Link: "/admin/keys", LinkText: "Back to the API keys"}
	}
	if err != nil {
		return err
	}
	return redirectTo("/admin/keys?revoked=" + url.QueryEscape(k.PublicID))
}
