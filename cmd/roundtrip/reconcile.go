package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roundtriphq/roundtrip/internal/period"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
)

// reconcileCmd runs a reconciliation against Stripe in the foreground: the same run as
// POST /v1/reconciliations, recorded in the database and visible through the API,
// with a progress bar on stderr and the summary on stdout.
func reconcileCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roundtrip reconcile", flag.ContinueOnError)
	slug := fs.String("merchant", "", "the merchant's slug")
	from := fs.String("from", "", "start of the period, YYYY-MM-DD (midnight UTC, inclusive) or RFC 3339")
	to := fs.String("to", "", "end of the period, YYYY-MM-DD (midnight UTC, exclusive: --to 2026-04-01 covers March) or RFC 3339")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: roundtrip reconcile --merchant S --from YYYY-MM-DD --to YYYY-MM-DD\n\n"+
			"Reconciles the merchant's refunds with Stripe's for [from, to). Reads DATABASE_URL, STRIPE_SECRET_KEY and\n"+
			"STRIPE_API_BASE (optional) from the environment.\n\n")
		fs.PrintDefaults()
	}
	if help, err := parse(fs, args, stderr); help || err != nil {
		return err
	}
	if *slug == "" {
		return usageError{"--merchant is required"}
	}
	if *from == "" || *to == "" {
		return usageError{"--from and --to are required"}
	}
	p, err := parsePeriod(*from, *to)
	if err != nil {
		return err
	}
	key := strings.TrimSpace(getenv("STRIPE_SECRET_KEY"))
	if !strings.HasPrefix(key, "sk_") && !strings.HasPrefix(key, "rk_") {
		return usageError{"STRIPE_SECRET_KEY must be set to a Stripe secret key starting with sk_ or rk_"}
	}
	d, m, err := openMerchant(ctx, getenv, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	gateway := refunds.NewStripe(refunds.StripeConfig{SecretKey: key, APIBase: strings.TrimRight(getenv("STRIPE_API_BASE"), "/"),
		MaxNetworkRetries: 2, Timeout: time.Minute})
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := reconcile.New(d, gateway, log)
	run, _, err := svc.Create(ctx, m.ID, p, "cli", "", false)
	if err != nil {
		return err
	}
	start := time.Now()
	bar := &progressBar{w: stderr}
	done, err := svc.Execute(ctx, run.ID, bar.update)
	bar.finish()
	if err != nil {
		svc.Fail(context.WithoutCancel(ctx), run.ID, err)
		return fmt.Errorf("reconciliation %d stopped: %w", run.ID, err)
	}
	totals, err := svc.Totals(ctx, m.ID, run.ID)
	if err != nil {
		return err
	}
	printSummary(stdout, m.Slug, done, totals, time.Since(start))
	return nil
}

func parsePeriod(from, to string) (period.Period, error) {
	f, err := period.ParseTime(from)
	if err != nil {
		return period.Period{}, usageError{"--from: " + strings.TrimPrefix(err.Error(), "period: ")}
	}
	t, err := period.ParseTime(to)
	if err != nil {
		return period.Period{}, usageError{"--to: " + strings.TrimPrefix(err.Error(), "period: ")}
	}
	if !t.After(f) {
		return period.Period{}, usageError{"--to must be after --from (the period is [from, to))"}
	}
	if err := period.CheckClosed(f, t); err != nil {
		return period.Period{}, usageError{"--from, --to: " + strings.TrimPrefix(err.Error(), "period: ")}
	}
	return period.Period{From: f, To: t}, nil
}

// progressBar draws one line on stderr, redrawn at most every 100 ms.
type progressBar struct {
	w     io.Writer
	last  time.Time
	drawn bool
}

func (b *progressBar) update(p reconcile.ReconciliationProgress) {
	now := time.Now()
	if p.Phase != reconcile.PhaseDone && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	filled := p.Percent * width / 100
	fmt.Fprintf(b.w, "\r[%s%s] %3d%%  %-8s  Stripe %d  ours %d/%d  lines %d ", strings.Repeat("#", filled),
		strings.Repeat(" ", width-filled), p.Percent, p.Phase, p.StripeListed, p.LocalSeen, p.LocalExpected, p.Lines)
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

func printSummary(w io.Writer, slug string, r *reconcile.Reconciliation, totals []reconcile.ReconciliationTotal, took time.Duration) {
	fmt.Fprintf(w, "Reconciliation %d of %s, %s to %s (exclusive): %s in %s\n", r.ID, slug,
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Status, took.Round(time.Millisecond))
	fmt.Fprintf(w, "Stripe refunds listed: %d (on none of this merchant's refunds or orders, not listed: %d)\n",
		r.Progress.StripeListed, r.NotOurs)
	fmt.Fprintf(w, "Our refunds sent in the period: %d\n\n", r.Progress.LocalExpected)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tcurrency\tlines\tours\tStripe's\t")
	mismatches := int64(0)
	for _, t := range totals {
		stripe := money.Format(t.StripeAmount, t.StripeCurrency)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t\n", t.Class, t.Currency, t.Count, money.Format(t.Amount, t.Currency), stripe)
		if t.Class != reconcile.Matched {
			mismatches += t.Count
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nLines to look at: %d. Details: GET /v1/reconciliations/%d and /v1/reconciliations/%d/lines.csv\n",
		mismatches, r.ID, r.ID)
}
