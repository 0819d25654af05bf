package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/migrations"
	"github.com/roundtriphq/roundtrip/openapi"
)

// databaseURL is DATABASE_URL or the local default, checked.
func databaseURL(getenv func(string) string) (string, error) {
	u := getenv("DATABASE_URL")
	if u == "" {
		u = db.DefaultURL
	}
	if err := db.CheckURL(u); err != nil {
		return "", usageError{"DATABASE_URL: " + err.Error()}
	}
	return u, nil
}

// openMigrated opens the database and applies pending migrations, for the commands
// that run beside serve.
func openMigrated(ctx context.Context, getenv func(string) string) (*sqlx.DB, error) {
	u, err := databaseURL(getenv)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, u, 4)
	if err != nil {
		return nil, err
	}
	if _, err := migrations.Up(ctx, d.DB); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roundtrip migrate", flag.ContinueOnError)
	if help, err := parse(fs, args, stderr); help || err != nil {
		return err
	}
	u, err := databaseURL(getenv)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, u, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := migrations.Up(ctx, d.DB)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema is current")
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v\n", applied)
	return nil
}

func printOpenAPI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roundtrip openapi", flag.ContinueOnError)
	v30 := fs.Bool("3.0", false, "print the document downgraded to OpenAPI 3.0.3")
	if help, err := parse(fs, args, stderr); help || err != nil {
		return err
	}
	api := openapi.New(http.NewServeMux(), openapi.Services{})
	var b []byte
	var err error
	if *v30 {
		b, err = openapi.DowngradeYAML(api.OpenAPI())
	} else {
		b, err = api.OpenAPI().YAML()
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

func merchants(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: roundtrip merchants create --slug S --name N"}
	}
	fs := flag.NewFlagSet("roundtrip merchants create", flag.ContinueOnError)
	slug := fs.String("slug", "", "URL-safe identifier (lower-case letters, digits, dashes)")
	name := fs.String("name", "", "shop name shown to shoppers")
	if help, err := parse(fs, args[1:], stderr); help || err != nil {
		return err
	}
	if *slug == "" || *name == "" {
		return usageError{"--slug and --name are required"}
	}
	if err := merchant.ValidateSlug(*slug); err != nil {
		return usageError{err.Error()}
	}
	d, err := openMigrated(ctx, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	m, err := merchant.NewStore(d).Create(ctx, *slug, *name, merchant.Settings{})
	if errors.Is(err, merchant.ErrExists) {
		return fmt.Errorf("a merchant with slug %q already exists", *slug)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created merchant %s (%s)\n", m.Slug, m.Name)
	return nil
}

func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: roundtrip keys create --merchant S --role R [--name N]"}
	}
	fs := flag.NewFlagSet("roundtrip keys create", flag.ContinueOnError)
	slug := fs.String("merchant", "", "the merchant's slug")
	role := fs.String("role", "", "admin, integration, warehouse or finance")
	name := fs.String("name", "", "a label to recognise the key by")
	if help, err := parse(fs, args[1:], stderr); help || err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return usageError{"--role: " + strings.TrimPrefix(err.Error(), "auth: ")}
	}
	if *slug == "" {
		return usageError{"--merchant is required"}
	}
	d, m, err := openMerchant(ctx, getenv, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	var k auth.Key
	var secret string
	err = audit.NewLog(d).Change(ctx, m.ID, "cli", func(tx *sqlx.Tx) (audit.Entry, error) {
		var err error
		k, secret, err = auth.NewKeys(d).WithTx(tx).Create(ctx, m.ID, r, *name)
		return merchant.KeyEntry(audit.KeyCreated, k), err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s key %d for %s; the key is shown only now:\n%s\n", k.Role, k.ID, m.Slug, secret)
	return nil
}

// openMerchant opens the migrated database and finds the merchant with slug; the
// caller closes the database.
func openMerchant(ctx context.Context, getenv func(string) string, slug string) (*sqlx.DB, merchant.Merchant, error) {
	d, err := openMigrated(ctx, getenv)
	if err != nil {
		return nil, merchant.Merchant{}, err
	}
	m, err := merchant.NewStore(d).BySlug(ctx, slug)
	if errors.Is(err, merchant.ErrNotFound) {
		d.Close()
		return nil, merchant.Merchant{}, fmt.Errorf("no merchant with slug %q (create it with 'roundtrip merchants create')", slug)
	}
	if err != nil {
		d.Close()
		return nil, merchant.Merchant{}, err
	}
	return d, m, nil
}
