package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/migrations"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
	"github.com/roundtriphq/roundtrip/returns"
)

const webhookSecret = "whsec_loadgen"

// Steps of a lifecycle, in order.
var steps = []string{"session", "quote", "create", "label", "scan", "receipt", "refund_sent", "completed"}

// Report is what a run measured and found.
type Report struct {
	Config       Config
	Started      time.Duration // time to start the cluster and seed
	Elapsed      time.Duration // the lifecycles and their webhooks and emails, drained
	Lifecycles   time.Duration // until the last lifecycle completed
	Completed    int
	Errors       map[string]int
	Latency      map[string][]time.Duration
	ScanToRefund []time.Duration
	PeakRSS      []int64
	Kills        int
	Costs        Costs
	Postmaster   int // pid of the PostgreSQL server when it runs on this machine, else 0
	Books        Books
	Deliveries   Deliveries
}

// Books is the end-of-run check: every return completed, exactly one Stripe refund
// per refund row, amounts equal to the quotes.
type Books struct {
	Returns          int
	NotCompleted     int
	RefundRows       int
	StripeRefunds    int
	RowsWithoutOne   int // refund rows with no Stripe refund, or more than one
	StripeWithoutRow int
	AmountMismatches int
}

// Problems lists what is wrong with the books.
func (r *Report) Problems() []string {
	var p []string
	b := r.Books
	if all := r.Config.Warmup + r.Config.Lifecycles; b.Returns != all {
		p = append(p, fmt.Sprintf("%d returns for %d lifecycles", b.Returns, all))
	}
	if b.NotCompleted > 0 {
		p = append(p, fmt.Sprintf("%d returns not completed", b.NotCompleted))
	}
	if b.RowsWithoutOne > 0 {
		p = append(p, fmt.Sprintf("%d refund rows without exactly one Stripe refund", b.RowsWithoutOne))
	}
	if b.StripeWithoutRow > 0 {
		p = append(p, fmt.Sprintf("%d Stripe refunds without a refund row", b.StripeWithoutRow))
	}
	if b.AmountMismatches > 0 {
		p = append(p, fmt.Sprintf("%d returns refunded another amount than quoted", b.AmountMismatches))
	}
	dl := r.Deliveries
	if dl.WebhookBad > 0 {
		p = append(p, fmt.Sprintf("%d webhook deliveries failed signature verification", dl.WebhookBad))
	}
	if dl.Webhooks < dl.WebhookExpected {
		p = append(p, fmt.Sprintf("%d of %d webhook deliveries never arrived", dl.WebhookExpected-dl.Webhooks, dl.WebhookExpected))
	}
	if dl.Emails < dl.EmailExpected {
		p = append(p, fmt.Sprintf("%d of %d emails never arrived", dl.EmailExpected-dl.Emails, dl.EmailExpected))
	}
	return p
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// Print writes the report.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "replicas=%d lifecycles=%d concurrency=%d rate=%g kill_every=%s", c.Replicas, c.Lifecycles, c.Concurrency, c.Rate, c.KillEvery)
	if c.TimerSlack != 0 {
		fmt.Fprintf(w, " timer_slack=%s", c.TimerSlack)
	}
	if c.Shoppers != "" && c.Shoppers != "en" {
		fmt.Fprintf(w, " shoppers=%s", c.Shoppers)
	}
	fmt.Fprintln(w)
	if c.Warmup > 0 {
		fmt.Fprintf(w, "after %d warm-up lifecycles, not counted below (but in the webhook and email counts, and the books)\n", c.Warmup)
	}
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "completed %d lifecycles in %.1fs, their webhooks and emails delivered by %.1fs: %.1f lifecycles/s (start-up and seeding %.1fs)\n",
		r.Completed, r.Lifecycles.Seconds(), secs, float64(r.Completed)/secs, r.Started.Seconds())
	fmt.Fprintf(w, "%-12s %8s %8s %8s %8s %6s\n", "step (ms)", "p50", "p95", "p99", "max", "n")
	for _, s := range steps {
		d := r.Latency[s]
		fmt.Fprintf(w, "%-12s %8s %8s %8s %8s %6d\n", s, ms(pct(d, .50)), ms(pct(d, .95)), ms(pct(d, .99)), ms(pct(d, 1)), len(d))
	}
	fmt.Fprintf(w, "scan→refund sent: p50 %sms p95 %sms p99 %sms\n", ms(pct(r.ScanToRefund, .5)), ms(pct(r.ScanToRefund, .95)), ms(pct(r.ScanToRefund, .99)))
	dl := r.Deliveries
	fmt.Fprintf(w, "change→webhook received: p50 %sms p95 %sms p99 %sms (%d events of %d deliveries, %d again, %d refused signatures)\n",
		ms(pct(dl.WebhookLatency, .5)), ms(pct(dl.WebhookLatency, .95)), ms(pct(dl.WebhookLatency, .99)), dl.Webhooks, dl.WebhookExpected, dl.WebhookDups, dl.WebhookBad)
	fmt.Fprintf(w, "change→email accepted:  p50 %sms p95 %sms p99 %sms (%d emails of %d, %d again)\n",
		ms(pct(dl.EmailLatency, .5)), ms(pct(dl.EmailLatency, .95)), ms(pct(dl.EmailLatency, .99)), dl.Emails, dl.EmailExpected, dl.EmailDups)
	fmt.Fprintf(w, "webhook and email backlog (due jobs): at most %d during the run, %d at its end\n", dl.BacklogMax, dl.BacklogEnd)
	printCosts(w, r.Costs, r.Completed)
	for i, b := range r.PeakRSS {
		fmt.Fprintf(w, "replica %d peak RSS %.1f MB\n", i+1, float64(b)/(1<<20))
	}
	if r.Kills > 0 {
		fmt.Fprintf(w, "replicas killed with SIGKILL: %d\n", r.Kills)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "errors (retried or final) by kind: %v\n", r.Errors)
	}
	b := r.Books
	fmt.Fprintf(w, "books: returns=%d not_completed=%d refund_rows=%d stripe_refunds=%d rows_without_exactly_one=%d stripe_without_row=%d amount_mismatches=%d\n",
		b.Returns, b.NotCompleted, b.RefundRows, b.StripeRefunds, b.RowsWithoutOne, b.StripeWithoutRow, b.AmountMismatches)
	if p := r.Problems(); len(p) == 0 {
		fmt.Fprintln(w, "books: OK")
	} else {
		fmt.Fprintf(w, "books: WRONG: %v\n", p)
	}
}

// Run starts the cluster, runs the lifecycles and checks the books.
func Run(ctx context.Context, c Config, progress io.Writer) (*Report, error) {
	t0 := time.Now()
	rep := &Report{Config: c, Errors: map[string]int{}, Latency: map[string][]time.Duration{}}
	who, err := shoppersOf(c.Shoppers)
	if err != nil {
		return nil, err
	}
	_, dbURL, drop, err := createDatabase(ctx, c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if !c.Keep {
		defer drop()
	}
	d, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if _, err := migrations.Up(ctx, d.DB); err != nil {
		return nil, err
	}
	m, err := merchant.NewStore(d).Create(ctx, "loadshop", "Load Shop", merchant.Settings{Warehouse: merchant.WarehouseAddress{
		Name: "Load Shop Returns", Line1: "1 Dock Road", City: "Leeds", PostalCode: "LS1 1AA", Country: "GB"}})
	if err != nil {
		return nil, err
	}
	keys := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.RoleIntegration, auth.RoleWarehouse, auth.RoleAdmin} {
		if _, keys[role], err = auth.NewKeys(d).Create(ctx, m.ID, role, "loadgen"); err != nil {
			return nil, err
		}
	}
	if err := seedOrders(ctx, d, m.ID, c.Warmup+c.Lifecycles, who); err != nil {
		return nil, err
	}

	bin := c.Binary
	if bin == "" {
		dir, err := os.MkdirTemp("", "loadgen")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if bin, err = buildBinary(ctx, dir); err != nil {
			return nil, err
		}
	}
	replicas := make([]*replica, c.Replicas)
	for i := range replicas {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		replicas[i] = &replica{n: i + 1, addr: addr, bin: bin, log: c.Log, slack: c.TimerSlack}
	}
	lb, err := newBalancer(replicas)
	if err != nil {
		return nil, err
	}
	defer lb.close()
	sk, err := startSinks()
	if err != nil {
		return nil, err
	}
	defer sk.close()
	stripe := fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "eur", RefundStatus: fakestripe.StatusPending,
		SettleAfter: 20 * time.Millisecond, WebhookURL: lb.url + "/v1/webhooks/stripe", WebhookSecret: webhookSecret,
		Delivery: fakestripe.DeliverAsync, WebhookWorkers: 4, WebhookAttempts: 8, WebhookBackoff: 100 * time.Millisecond,
		WebhookClient: &http.Client{Timeout: 10 * time.Second, Transport: lb.Transport(4)}})
	defer stripe.Close()
	for _, r := range replicas {
		r.env = []string{"DATABASE_URL=" + dbURL, "STRIPE_SECRET_KEY=sk_test_loadgen", "STRIPE_API_BASE=" + stripe.URL(),
			"STRIPE_WEBHOOK_SECRET=" + webhookSecret, "ROUNDTRIP_BASE_URL=" + lb.url, "ROUNDTRIP_LOG_LEVEL=warn",
			fmt.Sprintf("ROUNDTRIP_DB_MAX_CONNS=%d", c.DBConns), fmt.Sprintf("ROUNDTRIP_WORKERS=%d", c.Workers),
			"ROUNDTRIP_PORTAL_CLIENT_LIMIT=0", "ROUNDTRIP_SHUTDOWN_TIMEOUT=5s",
			"ROUNDTRIP_SMTP_URL=" + sk.smtp.URL, "ROUNDTRIP_MAIL_FROM=returns@loadgen.test",
			"ROUNDTRIP_WEBHOOKS_ALLOW_HTTP=true", "ROUNDTRIP_WEBHOOKS_ALLOW_PRIVATE=true"}
		if c.PprofPort > 0 {
			r.env = append(r.env, fmt.Sprintf("ROUNDTRIP_PPROF_ADDR=127.0.0.1:%d", c.PprofPort+r.n-1))
		}
		if err := r.start(ctx); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, r := range replicas {
			r.stop()
		}
	}()
	if err := sk.register(ctx, lb.url, keys[auth.RoleAdmin]); err != nil {
		return nil, err
	}
	rep.Started = time.Since(t0)
	fmt.Fprintf(progress, "loadgen: %d replica(s) up behind %s; running %d lifecycles\n", c.Replicas, lb.url, c.Lifecycles)

	runCtx, stopRun := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Go(func() { // RSS sampling
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				for _, r := range replicas {
					r.sampleRSS()
					if c.KillEvery > 0 || c.KillAt > 0 {
						r.dbTotals(runCtx) // so that a killed process's counts are kept
					}
				}
				// read once the run stops (bg.Wait)
				if n, err := backlog(runCtx, d); err == nil {
					rep.Deliveries.BacklogMax = max(rep.Deliveries.BacklogMax, n)
				}
			}
		}
	})
	cl := &client{base: lb.url, http: &http.Client{Timeout: 30 * time.Second, Transport: lb.Transport(c.Concurrency * 2)},
		keys: keys, stripe: stripe, rep: rep, watch: &watcher{db: d, merchant: m.ID, waiting: map[string]chan struct{}{}}}
	bg.Go(func() { cl.watch.run(runCtx) })
	if c.Warmup > 0 {
		// the first lifecycles, and their webhooks and emails, before the clock and
		// the costs start: what the report says is then the steady state, not the
		// first minutes of a process (every connection plans each statement several
		// times before it keeps a plan). Their errors count; their timings do not.
		fmt.Fprintf(progress, "loadgen: warming up with %d lifecycles\n", c.Warmup)
		warm := make(chan int)
		wait := cl.drive(ctx, c.Concurrency, warm, func() {})
		for i := 1; i <= c.Warmup && ctx.Err() == nil; i++ {
			warm <- i
		}
		close(warm)
		wait()
		if err := waitDelivered(ctx, d); err != nil {
			fmt.Fprintf(progress, "loadgen: %v\n", err)
		}
		cl.mu.Lock()
		rep.Latency, rep.ScanToRefund = map[string][]time.Duration{}, nil
		cl.mu.Unlock()
	}
	if c.KillEvery > 0 {
		bg.Go(func() { chaos(runCtx, replicas, c.KillEvery, progress) })
	}
	postmaster, err := postmasterOf(ctx, d)
	if err != nil {
		fmt.Fprintf(progress, "loadgen: PostgreSQL's CPU is not measured in this run: %v\n", err)
	}
	rep.Postmaster = postmaster
	before := sampleCosts(ctx, d, replicas, postmaster)
	start := time.Now()
	jobs := make(chan int)
	var limiter <-chan time.Time
	if c.Rate > 0 {
		tk := time.NewTicker(time.Duration(float64(time.Second) / c.Rate))
		defer tk.Stop()
		limiter = tk.C
	}
	wait := cl.drive(ctx, c.Concurrency, jobs, func() { rep.Completed++ })
	for i := 1; i <= c.Lifecycles && ctx.Err() == nil; i++ {
		if limiter != nil {
			<-limiter
		}
		if i == c.KillAt {
			r := randomReplica(replicas)
			r.sampleRSS()
			r.kill()
			fmt.Fprintf(progress, "loadgen: SIGKILL replica %d at lifecycle %d\n", r.n, i)
			bg.Go(func() {
				if err := r.start(ctx); err != nil {
					fmt.Fprintf(progress, "loadgen: restart replica %d: %v\n", r.n, err)
				}
			})
		}
		jobs <- c.Warmup + i // the orders after the warm-up's
	}
	close(jobs)
	wait()
	rep.Lifecycles = time.Since(start)
	if n, err := backlog(ctx, d); err == nil {
		rep.Deliveries.BacklogEnd = n
	}
	// The shop's webhooks and the shopper's emails are part of a lifecycle: the clock
	// and the costs stop when the last of them is delivered, so that a replica that
	// defers them (a backlog) does not look faster than one that keeps up. With kills
	// the drain waits for the restarts below.
	if c.KillEvery == 0 {
		if err := waitDelivered(ctx, d); err != nil {
			fmt.Fprintf(progress, "loadgen: %v\n", err)
		}
	}
	rep.Elapsed = time.Since(start)
	after := sampleCosts(ctx, d, replicas, postmaster)
	for _, e := range []error{before.postgresErr, after.postgresErr} {
		if e != nil {
			fmt.Fprintf(progress, "loadgen: PostgreSQL's CPU is not measured in this run: %v\n", e)
		}
	}
	rep.Costs = before.to(after)
	stopRun()
	bg.Wait()
	// every killed replica is back: let in-flight refunds settle, then check
	for _, r := range replicas {
		if !r.up.Load() {
			if err := r.start(ctx); err != nil {
				return rep, err
			}
		}
		r.sampleRSS()
		rep.PeakRSS = append(rep.PeakRSS, r.peakRSS)
		rep.Kills += r.kills
	}
	if err := waitSettled(ctx, d); err != nil {
		fmt.Fprintf(progress, "loadgen: %v\n", err)
	}
	if err := waitDelivered(ctx, d); err != nil {
		fmt.Fprintf(progress, "loadgen: %v\n", err)
	}
	if err := sk.tally(ctx, d, start, &rep.Deliveries); err != nil {
		return rep, err
	}
	rep.Books, err = checkBooks(ctx, d, stripe)
	return rep, err
}

func chaos(ctx context.Context, replicas []*replica, every time.Duration, progress io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r := randomReplica(replicas)
			r.sampleRSS()
			r.kill()
			fmt.Fprintf(progress, "loadgen: SIGKILL replica %d\n", r.n)
			if err := r.start(ctx); err != nil && ctx.Err() == nil {
				fmt.Fprintf(progress, "loadgen: restart replica %d: %v\n", r.n, err)
			}
		}
	}
}

// seedOrders writes one order per lifecycle straight into the database, its shopper
// one of who.
func seedOrders(ctx context.Context, d *sqlx.DB, merchantID int64, n int, who shoppers) error {
	store := returns.NewStore(d)
	now := time.Now()
	delivered := now.Add(-72 * time.Hour)
	for i := 1; i <= n; i++ {
		o := returns.Order{
			Customer: who.customer(i),
			Currency: "EUR", PlacedAt: now.Add(-120 * time.Hour), DeliveredAt: &delivered,
			Lines: []returns.Line{
				{ID: "1", SKU: "TEE", Name: "T-shirt", Category: "t-shirts", Quantity: 2, UnitPrice: 2500, Tax: 950},
				{ID: "2", SKU: "CAP", Name: "Cap", Category: "accessories", Quantity: 1, UnitPrice: 1500, Tax: 285},
			},
			Discount: 333, Shipping: 495, ShippingTax: 99,
			Payment: returns.Payment{Provider: "stripe", PaymentIntentID: fmt.Sprintf("pi_load%07d", i)},
		}
		o.Payment.Captured = o.Total()
		if _, _, err := store.PutOrder(ctx, merchantID, fmt.Sprintf("LG-%d", i), o); err != nil {
			return err
		}
	}
	return nil
}

// waitSettled waits until no refund is in flight and no refund job is pending.
func waitSettled(ctx context.Context, d *sqlx.DB) error {
	deadline := time.Now().Add(2 * time.Minute)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		var n int
		if err := d.GetContext(ctx, &n, `SELECT (SELECT count(*) FROM refunds WHERE status IN ('queued','pending','requires_action'))
			+ (SELECT count(*) FROM returns WHERE state <> 'completed')`); err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return errors.New("refunds still in flight after 2 minutes")
}

func checkBooks(ctx context.Context, d *sqlx.DB, stripe *fakestripe.Server) (Books, error) {
	var b Books
	if err := d.GetContext(ctx, &b.Returns, `SELECT count(*) FROM returns`); err != nil {
		return b, err
	}
	if err := d.GetContext(ctx, &b.NotCompleted, `SELECT count(*) FROM returns WHERE state <> 'completed'`); err != nil {
		return b, err
	}
	var rows []struct {
		PublicID string `db:"public_id"`
		ReturnID int64  `db:"return_id"`
		Amount   int64  `db:"amount"`
	}
	if err := d.SelectContext(ctx, &rows, `SELECT public_id, return_id, amount FROM refunds`); err != nil {
		return b, err
	}
	b.RefundRows = len(rows)
	byRow := map[string]int{}
	for _, f := range stripe.Refunds() {
		if f.Status == fakestripe.StatusFailed || f.Status == fakestripe.StatusCanceled {
			continue
		}
		b.StripeRefunds++
		byRow[f.Metadata["refund_id"]]++
	}
	refunded := map[int64]int64{}
	known := map[string]bool{}
	for _, f := range rows {
		k := f.PublicID // Stripe's refund_id metadata
		known[k] = true
		if byRow[k] != 1 {
			b.RowsWithoutOne++
		}
		refunded[f.ReturnID] += f.Amount
	}
	for k := range byRow {
		if !known[k] {
			b.StripeWithoutRow++
		}
	}
	var totals []struct {
		ID    int64 `db:"id"`
		Total int64 `db:"total"`
	}
	if err := d.SelectContext(ctx, &totals, `SELECT id, total FROM returns`); err != nil {
		return b, err
	}
	for _, t := range totals {
		if refunded[t.ID] != t.Total {
			b.AmountMismatches++
		}
	}
	return b, nil
}

// client runs lifecycles through the balancer.
type client struct {
	base   string
	http   *http.Client
	keys   map[auth.Role]string
	stripe *fakestripe.Server
	rep    *Report
	watch  *watcher
	mu     sync.Mutex
}

// watcher tells lifecycles when their return completed, with one query for all of
// them every 50 ms (polling the API from every lifecycle would be load of its own,
// and the query's cost is counted in the whole machine's CPU: 50 ms is the
// resolution of the completed step, which no target reads).
type watcher struct {
	db       *sqlx.DB
	merchant int64
	mu       sync.Mutex
	waiting  map[string]chan struct{}
}

// wait answers a channel closed when the return with public ID id completed.
func (w *watcher) wait(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{})
	w.waiting[id] = ch
	return ch
}

func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		ids := make([]string, 0, len(w.waiting))
		for id := range w.waiting {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		// the state is compared here, not in the statement: with it there, a planner
		// without statistics (a new database, autovacuum off) took the index of the
		// merchant's returns by state and read every completed return at each poll,
		// about 5 ms of PostgreSQL's time a poll by 3,000 lifecycles, which the run
		// counted as the lifecycles' cost; by public ID it reads the ones asked for
		var rows []struct {
			ID    string `db:"public_id"`
			State string `db:"state"`
		}
		if err := w.db.SelectContext(ctx, &rows, `SELECT public_id, state FROM returns WHERE merchant_id = $2 AND public_id = ANY($1)`,
			pq.Array(ids), w.merchant); err != nil {
			continue
		}
		w.mu.Lock()
		for _, row := range rows {
			if row.State != "completed" {
				continue
			}
			if ch, ok := w.waiting[row.ID]; ok {
				close(ch)
				delete(w.waiting, row.ID)
			}
		}
		w.mu.Unlock()
	}
}

func (c *client) fail(kind string) {
	c.mu.Lock()
	c.rep.Errors[kind]++
	c.mu.Unlock()
}

// drive runs the lifecycles whose numbers come on feed, concurrency at a time,
// calling completed (under the client's lock) for each that completed; wait returns
// once feed is closed and every one has ended.
func (c *client) drive(ctx context.Context, concurrency int, feed <-chan int, completed func()) (wait func()) {
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range feed {
				if err := c.lifecycle(ctx, i); err != nil {
					c.fail("lifecycle: " + err.Error())
					continue
				}
				c.mu.Lock()
				completed()
				c.mu.Unlock()
			}
		})
	}
	return wg.Wait
}

func (c *client) observe(step string, d time.Duration) {
	c.mu.Lock()
	c.rep.Latency[step] = append(c.rep.Latency[step], d)
	c.mu.Unlock()
}

// call sends one request, retrying what a killed replica can cause (no connection,
// 502, 503) with the same body and headers, and decodes a 2xx JSON answer into out.
func (c *client) call(ctx context.Context, step, method, path, token string, body any, out any, headers ...string) (int, error) {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	backoff := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := c.http.Do(req)
		var status int
		var b []byte
		if err == nil {
			status = res.StatusCode
			b, _ = io.ReadAll(res.Body)
			res.Body.Close()
		}
		// a killed replica shows as no connection, 502, 503 or 500; a request whose
		// replica died while it held its idempotency claim answers 409 in-progress
		// until the claim's lease ends, and is retried with the same key
		retry := err != nil || status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
			status == http.StatusInternalServerError ||
			(status == http.StatusConflict && bytes.Contains(b, []byte(idempotency.CodeInProgress)))
		if retry && attempt < 60 && ctx.Err() == nil {
			kind := fmt.Sprintf("%s: %d", step, status)
			if err != nil {
				kind = step + ": network"
			}
			c.fail(kind)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		if err != nil {
			return 0, err
		}
		if status >= 300 {
			return status, fmt.Errorf("%s %s: %d %s", method, path, status, bytes.TrimSpace(b))
		}
		if out != nil {
			if bb, ok := out.(*[]byte); ok {
				*bb = b
			} else if err := json.Unmarshal(b, out); err != nil {
				return status, fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		return status, nil
	}
}

type retDoc struct {
	ID    string `json:"id"`
	RMA   string `json:"rma"`
	State string `json:"state"`
	Total int64  `json:"total"`
}

func (c *client) timed(step string, f func() error) error {
	t := time.Now()
	err := f()
	if err == nil {
		c.observe(step, time.Since(t))
	}
	return err
}

func (c *client) lifecycle(ctx context.Context, i int) error {
	number, email := fmt.Sprintf("LG-%d", i), fmt.Sprintf("shopper%d@example.com", i)
	var sess struct {
		Token string `json:"token"`
	}
	if err := c.timed("session", func() error {
		_, err := c.call(ctx, "session", "POST", "/v1/portal/sessions", "", map[string]any{"merchant": "loadshop", "order_number": number, "email": email}, &sess)
		return err
	}); err != nil {
		return err
	}
	items := []map[string]any{{"line_id": "1", "quantity": 2, "reason": "too_small"}, {"line_id": "2", "quantity": 1, "reason": "changed_mind"}}
	var quote struct {
		Total    int64 `json:"total"`
		Eligible bool  `json:"eligible"`
	}
	if err := c.timed("quote", func() error {
		_, err := c.call(ctx, "quote", "POST", "/v1/returns/quote", sess.Token, map[string]any{"resolution": "refund", "items": items}, &quote)
		return err
	}); err != nil {
		return err
	}
	var r retDoc
	key := fmt.Sprintf("loadgen-create-%d", i)
	if err := c.timed("create", func() error {
		_, err := c.call(ctx, "create", "POST", "/v1/returns", sess.Token, map[string]any{"resolution": "refund", "items": items}, &r, "Idempotency-Key", key)
		return err
	}); err != nil {
		return err
	}
	if r.Total != quote.Total {
		c.fail("create: total differs from quote")
	}
	var pdf []byte
	if err := c.timed("label", func() error {
		status, err := c.call(ctx, "label", "GET", "/v1/returns/"+r.ID+"/label", sess.Token, nil, &pdf)
		if status == http.StatusNotFound && err != nil {
			return nil // a build without label routes
		}
		return err
	}); err != nil {
		return err
	}
	wh := c.keys[auth.RoleWarehouse]
	scanned := time.Now()
	if err := c.timed("scan", func() error {
		_, err := c.call(ctx, "scan", "POST", "/v1/scans", wh, map[string]any{"code": "]C0" + r.RMA}, nil)
		return err
	}); err != nil {
		return err
	}
	lines := []map[string]any{{"line_id": "1", "quantity": 2, "condition": "like_new", "disposition": "restock"},
		{"line_id": "2", "quantity": 1, "condition": "new", "disposition": "restock"}}
	if err := c.timed("receipt", func() error {
		_, err := c.call(ctx, "receipt", "POST", "/v1/returns/"+r.ID+"/receipts", wh, map[string]any{"items": lines}, nil,
			"Idempotency-Key", fmt.Sprintf("loadgen-receipt-%d", i))
		return err
	}); err != nil {
		return err
	}
	// wait for the return to complete, which it does once Stripe's webhook has settled
	// its refund; then read when Stripe made the refund. (No polling here: with 48
	// lifecycles in flight a poll every 10 ms each was 4,800 wake-ups a second.)
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-deadline.C:
		sent := len(c.stripe.RefundsByMetadata("rma", r.RMA)) > 0
		return fmt.Errorf("return %s not completed within 2 minutes (refund sent: %v)", r.RMA, sent)
	case <-c.watch.wait(r.ID):
	}
	completed := time.Since(scanned)
	fs := c.stripe.RefundsByMetadata("rma", r.RMA)
	if len(fs) == 0 {
		return fmt.Errorf("return %s completed without a refund in Stripe", r.RMA)
	}
	c.observe("refund_sent", fs[0].Created.Sub(scanned))
	c.mu.Lock()
	c.rep.ScanToRefund = append(c.rep.ScanToRefund, fs[0].Created.Sub(scanned))
	c.mu.Unlock()
	c.observe("completed", completed)
	return nil
}
