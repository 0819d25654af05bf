package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/merchant"
)

// demoSlug is the demo merchant's slug.
const demoSlug = "northwind"

func demoSettings() merchant.Settings {
	return merchant.Settings{
		BrandColor:   "#1f6f5c",
		SupportEmail: "help@northwind.example",
		Warehouse: merchant.Address{
			Name: "Northwind Returns", Line1: "12 Harbour Road", Line2: "Unit 4",
			City: "Leeds", Region: "West Yorkshire", PostalCode: "LS1 4AP", Country: "GB",
		},
	}
}

// demo loads the demo merchant; running it again updates the same merchant and adds
// nothing twice. It prints fresh keys for every role (only their hashes are stored,
// so earlier keys cannot be shown again; they keep working).
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roundtrip demo", flag.ContinueOnError)
	if help, err := parse(fs, args, stderr); help || err != nil {
		return err
	}
	d, err := openMigrated(ctx, getenv)
	if err != nil {
		return err
	}
	defer d.Close()
	store := merchant.NewStore(d)
	m, err := store.Create(ctx, demoSlug, "Northwind Outfitters", demoSettings())
	if errors.Is(err, merchant.ErrExists) {
		m, err = store.BySlug(ctx, demoSlug)
		if err == nil {
			m, err = store.Update(ctx, m.ID, "Northwind Outfitters", demoSettings())
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo merchant: %s (%s)\n", m.Name, m.Slug)
	keys := auth.NewKeys(d)
	for _, role := range []auth.Role{auth.RoleIntegration, auth.RoleWarehouse, auth.RoleFinance, auth.RoleAdmin} {
		_, secret, err := keys.Create(ctx, m.ID, role, "demo "+string(role))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo %-11s key: %s\n", role, secret)
	}
	return nil
}
