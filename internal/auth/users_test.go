package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

func TestTheLastAdminStays(t *testing.T) {
	t.Parallel()
	d := pgtest.New(t)
	ctx := context.Background()
	var m int64
	if err := d.Get(&m, `INSERT INTO merchants (slug, name) VALUES ('shop', 'Shop') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	users := auth.NewUsers(d)
	users.Cost = bcrypt.MinCost
	boss, err := users.Create(ctx, m, "boss", "correct horse battery", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	ana, err := users.Create(ctx, m, "ana", "correct horse battery", auth.RoleWarehouse)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := users.SetRole(ctx, m, boss.ID, auth.RoleFinance); !errors.Is(err, auth.ErrLastAdmin) {
		t.Errorf("demoting the only admin: got %v, want ErrLastAdmin", err)
	}
	if _, err := users.SetDisabled(ctx, m, boss.ID, true); !errors.Is(err, auth.ErrLastAdmin) {
		t.Errorf("disabling the only admin: got %v, want ErrLastAdmin", err)
	}
	// with a second admin both work, and the first disabled admin no longer counts
	if _, _, err := users.SetRole(ctx, m, ana.ID, auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := users.SetDisabled(ctx, m, boss.ID, true); err != nil {
		t.Fatalf("disabling one of two admins: %v", err)
	}
	if _, _, err := users.SetRole(ctx, m, ana.ID, auth.RoleWarehouse); !errors.Is(err, auth.ErrLastAdmin) {
		t.Errorf("demoting the last enabled admin: got %v, want ErrLastAdmin", err)
	}
	// a disabled user is found but cannot sign in; enabling again lets them
	if _, err := users.Authenticate(ctx, m, "boss", "correct horse battery"); !errors.Is(err, auth.ErrSignIn) {
		t.Errorf("a disabled user signed in: %v", err)
	}
	if u, err := users.SetDisabled(ctx, m, boss.ID, false); err != nil || u.Disabled() {
		t.Fatalf("enable: %v %v", u, err)
	}
	u, err := users.Authenticate(ctx, m, "boss", "correct horse battery")
	if err != nil || u.LastSignInAt != nil {
		// LastSignInAt is what the row held before this sign-in
		t.Fatalf("sign in after enabling: %v", err)
	}
	if u, _ = users.Get(ctx, m, boss.ID); u.LastSignInAt == nil {
		t.Errorf("the sign-in was not noted")
	}
	// a new password replaces the old one
	if _, err := users.SetPassword(ctx, m, boss.ID, "another long password"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Authenticate(ctx, m, "boss", "correct horse battery"); !errors.Is(err, auth.ErrSignIn) {
		t.Errorf("the old password still works")
	}
	if _, err := users.SetPassword(ctx, m, boss.ID, "short"); err == nil {
		t.Errorf("a short password was accepted")
	}
	// another merchant's user is not found
	if _, err := users.Get(ctx, m+1, boss.ID); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("another merchant's user: %v", err)
	}
	if _, err := users.SetDisabled(ctx, m+1, boss.ID, true); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("disabling another merchant's user: %v", err)
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := auth.NewPassword()
		if len(p) != 23 || strings.Count(p, "-") != 3 || auth.ValidatePassword(p) != nil || strings.ContainsAny(p, "01lio") {
			t.Fatalf("password %q", p)
		}
		if seen[p] {
			t.Fatalf("password %q twice", p)
		}
		seen[p] = true
	}
}
