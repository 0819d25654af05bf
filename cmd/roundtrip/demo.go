package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

// demoSlug is the demo merchant's slug.
const demoSlug = "northwind"

// demoPassword signs the demo staff in; it is printed by make run and only ever
// used on a local demo database.
const demoPassword = "northwind-demo"

func demoSettings() merchant.Settings {
	return merchant.Settings{
		BrandColor:   "#1f6f5c",
		SupportEmail: "help@northwind.example",
		Warehouse: merchant.WarehouseAddress{
			Name: "Northwind Returns", Line1: "12 Harbour Road", Line2: "Unit 4",
			City: "Leeds", Region: "West Yorkshire", PostalCode: "LS1 4AP", Country: "GB",
		},
	}
}

func demoPolicy() returns.Policy {
	p := returns.DefaultPolicy()
	fourteen := 14
	p.Rules = []returns.Rule{
		{Match: returns.Match{SKU: "GIFT-CARD"}, NotReturnable: true},
		{Match: returns.Match{Category: "swimwear"}, WindowDays: &fourteen},
		{Match: returns.Match{Category: "shoes"}, RestockingFeeBps: 1000},
	}
	p.StoreCreditBonusBps = 1000
	p.KeepItThreshold = map[string]int64{"EUR": 800, "GBP": 700, "JPY": 1000}
	p.SerialReturner = returns.SerialReturner{Enabled: true, MaxReturns: 5, PeriodDays: 90}
	return p
}

type product struct {
	sku, name, category string
	price               int64 // EUR cents
	tags                []string
}

var catalogue = []product{
	{"TEE-BLK-M", "Organic cotton T-shirt, black, M", "t-shirts", 2500, []string{"organic"}},
	{"TEE-WHT-L", "Organic cotton T-shirt, white, L", "t-shirts", 2500, []string{"organic"}},
	{"HOOD-NVY-M", "Harbour hoodie, navy, M", "sweatshirts", 6900, nil},
	{"JEAN-32-32", "Selvedge jeans 32/32", "trousers", 11900, nil},
	{"CHINO-SND-34", "Chinos, sand, 34", "trousers", 7900, nil},
	{"SNK-WHT-42", "Court sneakers, white, 42", "shoes", 12900, nil},
	{"BOOT-BRN-43", "Chelsea boots, brown, 43", "shoes", 18900, nil},
	{"SWIM-BLU-M", "Swim shorts, blue, M", "swimwear", 3900, []string{"summer"}},
	{"CAP-RED", "Wool cap, red", "accessories", 1900, nil},
	{"SOCK-3PK", "Merino socks, 3-pack", "accessories", 1500, nil},
	{"SCARF-GRY", "Lambswool scarf, grey", "accessories", 4500, []string{"winter"}},
	{"JKT-OLV-L", "Waxed jacket, olive, L", "outerwear", 24900, nil},
}

var shoppers = [][3]string{
	{"Ada", "Lovelace", "ada@example.com"},
	{"Zoë", "Müller", "zoe.mueller@example.de"},
	{"Łukasz", "Żółć", "lukasz@example.pl"},
	{"Grace", "Hopper", "grace@example.com"},
	{"Björn", "Ångström", "bjorn@example.se"},
	{"Amara", "Okafor", "amara@example.ng"},
	{"Sofía", "García", "sofia@example.es"},
	{"Hiroshi", "Tanaka", "hiroshi@example.jp"},
}

// demoOrders makes 50 orders relative to now: five that exercise the policy's rules,
// then 45 ordinary ones from a fixed seed, so every run makes the same orders.
func demoOrders(now time.Time) map[string]returns.Order {
	day := 24 * time.Hour
	mk := func(who int, placed time.Time, delivered *time.Time, currency string, lines []returns.Line, discount int64) returns.Order {
		s := shoppers[who%len(shoppers)]
		o := returns.Order{
			Customer: returns.Customer{Email: s[2], FirstName: s[0], LastName: s[1], Phone: "+44 20 7946 0958",
				Address: returns.Address{Line1: fmt.Sprintf("%d Queen Street", 10+who), City: "Manchester", PostalCode: "M2 5HX", Country: "GB"}},
			Currency: currency, PlacedAt: placed, DeliveredAt: delivered, Lines: lines, Discount: discount, Shipping: 495, ShippingTax: 99,
		}
		if currency == "JPY" {
			o.Shipping, o.ShippingTax = 800, 80
		}
		ful := placed.Add(day)
		o.FulfilledAt = &ful
		o.Payment = returns.Payment{Provider: "stripe", PaymentIntentID: fmt.Sprintf("pi_demo%06d", who), Captured: 0}
		o.Payment.Captured = o.Total()
		return o
	}
	line := func(id string, p product, qty int) returns.Line {
		return returns.Line{ID: id, SKU: p.sku, Name: p.name, Category: p.category, Tags: p.tags, Quantity: qty,
			UnitPrice: p.price, Tax: p.price * int64(qty) / 5}
	}
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	orders := map[string]returns.Order{}
	// delivered three days ago: everything returnable
	orders["NW-1001"] = mk(0, now.Add(-6*day), at(3*day), "EUR", []returns.Line{line("1", catalogue[0], 2), line("2", catalogue[5], 1), line("3", catalogue[8], 1)}, 0)
	// delivered 45 days ago: outside the 30-day window
	orders["NW-1002"] = mk(1, now.Add(-48*day), at(45*day), "EUR", []returns.Line{line("1", catalogue[3], 1)}, 0)
	// a final-sale line beside a returnable one, and a gift card
	fs := line("2", catalogue[10], 1)
	fs.FinalSale = true
	fs.Name += " (final sale)"
	orders["NW-1003"] = mk(2, now.Add(-8*day), at(5*day), "EUR", []returns.Line{line("1", catalogue[2], 1), fs,
		{ID: "3", SKU: "GIFT-CARD", Name: "Gift card", Category: "gift-cards", Quantity: 1, UnitPrice: 5000}}, 0)
	// a discounted multi-item order: 10% off the basket, odd cents to share
	disc := mk(3, now.Add(-5*day), at(2*day), "EUR", []returns.Line{line("1", catalogue[0], 3), line("2", catalogue[4], 1), line("3", catalogue[9], 2), line("4", catalogue[7], 1)}, 0)
	disc.Lines[0].Discount = 333
	disc.Discount = 2011
	disc.Payment.Captured = disc.Total()
	orders["NW-1004"] = disc
	// a JPY order: no minor unit
	jpy := mk(7, now.Add(-7*day), at(4*day), "JPY", []returns.Line{
		{ID: "1", SKU: "JKT-OLV-L", Name: "Waxed jacket, olive, L", Category: "outerwear", Quantity: 1, UnitPrice: 39800, Tax: 3980},
		{ID: "2", SKU: "SCARF-GRY", Name: "Lambswool scarf, grey", Category: "accessories", Quantity: 1, UnitPrice: 7200, Tax: 720},
	}, 0)
	orders["NW-1005"] = jpy

	r := rand.New(rand.NewPCG(2026, 11))
	for i := 6; i <= 50; i++ {
		var lines []returns.Line
		for j, n := 0, 1+r.IntN(3); j < n; j++ {
			lines = append(lines, line(fmt.Sprint(j+1), catalogue[r.IntN(len(catalogue))], 1+r.IntN(2)))
		}
		age := time.Duration(2+r.IntN(40)) * day
		var delivered *time.Time
		if r.IntN(5) > 0 {
			delivered = at(age - 2*day)
		}
		orders[fmt.Sprintf("NW-%d", 1000+i)] = mk(i, now.Add(-age), delivered, "EUR", lines, 0)
	}
	return orders
}

// demo loads the demo merchant, its policy and 50 orders; running it again updates
// the same records and adds nothing twice. It prints fresh keys for every role (only
// their hashes are stored, so earlier keys cannot be shown again; they keep working).
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
	rs := returns.NewStore(d)
	current, err := rs.Policy(ctx, m.ID)
	if err != nil {
		return err
	}
	if current.Version == 0 {
		if _, err := rs.PutPolicy(ctx, m.ID, demoPolicy(), "demo"); err != nil {
			return err
		}
	}
	orders := demoOrders(time.Now().Truncate(time.Hour))
	for number, o := range orders {
		if err := o.Validate(); err != nil {
			return fmt.Errorf("demo order %s: %w", number, err)
		}
		if _, err := rs.Order(ctx, m.ID, number); err == nil {
			continue // keep orders (and their dates) as the first run made them
		}
		if _, _, err := rs.PutOrder(ctx, m.ID, number, o); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "demo merchant: %s (%s) with %d orders; try order NW-1001 with ada@example.com\n", m.Name, m.Slug, len(orders))
	users := auth.NewUsers(d)
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"ana", auth.RoleWarehouse}, {"fin", auth.RoleFinance}, {"admin", auth.RoleAdmin}} {
		_, err := users.Create(ctx, m.ID, u.name, demoPassword, u.role)
		if err != nil && !errors.Is(err, auth.ErrUserExists) {
			return err
		}
	}
	fmt.Fprintf(stdout, "demo staff sign-in (shop %s, password %q): ana (warehouse), fin (finance), admin\n", m.Slug, demoPassword)
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
