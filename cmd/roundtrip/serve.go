package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/metrics"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/labels/fakeshippo"
	"github.com/roundtriphq/roundtrip/migrations"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, help, err := loadConfig("serve", args, getenv, stderr)
	if help || err != nil {
		return err
	}
	collectorTarget(getenv)
	sampleAllocations(cfg.PprofAddr != "")
	log := requestLogger(cfg.logger(stderr))

	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	migrator, err := migrations.New(d.DB)
	if err != nil {
		return err
	}
	if cfg.Migrate {
		applied, err := migrator.Up(ctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			log.Info("migrations applied", slog.Any("versions", applied))
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ROUNDTRIP_ADDR: cannot listen on %s: %w", cfg.Addr, err)
	}
	addr := ln.Addr().String()
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + addr
	}

	reg := metrics.New()
	reg.MustRegister(collectors.NewDBStatsCollector(d.DB, "roundtrip"), metrics.Outbox(d))
	reg.MustRegister(metrics.Statements(&db.Counted)...)
	// one LISTEN connection for the process: new outbox jobs, revoked API keys
	hub := listen.New(cfg.DatabaseURL, log)
	worker := outbox.NewWorker(d, cfg.DatabaseURL, outbox.Options{Concurrency: max(cfg.Workers, 1), Logger: log, Hub: hub})
	var gateway refunds.Gateway
	if cfg.StripeKey != "" {
		gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: cfg.StripeKey, APIBase: cfg.StripeAPIBase, Mock: cfg.StripeMock})
	} else {
		log.Warn("STRIPE_SECRET_KEY is not set: refunds are queued but not sent")
	}
	shippoOpts := labels.ShippoOptions{APIBase: cfg.ShippoAPIBase}
	if cfg.FakeShippo {
		fake := fakeshippo.New(fakeshippo.Options{})
		defer fake.Close()
		shippoOpts.APIBase = fake.URL()
		log.Info("labels bought through Shippo go to a fake Shippo in this process", slog.String("url", fake.URL()))
	}
	mail := email.Config{From: cfg.MailFrom, BaseURL: cfg.BaseURL, Logger: log}
	if cfg.SMTP != nil {
		mail.Sender = *cfg.SMTP
		log.Info("emails to shoppers go through SMTP", slog.String("smtp", cfg.SMTP.Addr()), slog.String("from", cfg.MailFrom))
	} else {
		log.Warn("ROUNDTRIP_SMTP_URL is not set: no emails are sent to shoppers")
	}
	if cfg.WebhooksHTTP || cfg.WebhooksPrivate {
		log.Warn("webhook endpoints may be plain http or on private addresses: for local runs only",
			slog.Bool("allow_http", cfg.WebhooksHTTP), slog.Bool("allow_private", cfg.WebhooksPrivate))
	}
	mux := http.NewServeMux()
	a := app.New(app.Config{DB: d, Logger: log, Hub: hub, Gateway: gateway, WebhookSecret: cfg.StripeWebhook, StripeDashboard: cfg.StripeDashboard, Worker: worker,
		PortalClientLimit: portalLimit(cfg.PortalLimit), BaseURL: cfg.BaseURL, Email: mail, Shippo: shippoOpts,
		Webhooks: notify.Options{AllowHTTP: cfg.WebhooksHTTP, AllowPrivate: cfg.WebhooksPrivate}}, mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	// draining is set as soon as shutdown begins: /readyz answers 503 from then on, so
	// that a load balancer stops sending requests before the listener closes.
	var draining atomic.Bool
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "shutting_down", "This server is shutting down."))
			return
		}
		rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.PingContext(rctx); err != nil {
			log.WarnContext(r.Context(), "not ready: database", slog.String("error", err.Error()))
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "database_unreachable", "The database does not answer."))
			return
		}
		current, err := migrator.Current(rctx)
		if err != nil || !current {
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "schema_not_current", "The database schema is not current: run 'roundtrip migrate'."))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", reg.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.NotFound("There is nothing at "+r.URL.Path+". The API is under /v1; its documentation is at /docs."))
	})

	srv := &http.Server{
		Handler:           handler(log, reg, mux, cfg.TrustedProxies),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	if cfg.Workers > 0 {
		bg.Go(func() { _ = worker.Run(workCtx) })
	}
	bg.Go(func() { _ = hub.Run(workCtx) })

	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", slog.String("addr", addr), slog.String("base_url", cfg.BaseURL))
	fmt.Fprintf(stdout, "roundtrip: serving on http://%s (docs: %s/docs)\n", addr, cfg.BaseURL)

	select {
	case err := <-serveErr:
		stopWork()
		bg.Wait()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	draining.Store(true)
	log.Info("shutting down: finishing in-flight requests and jobs", slog.Duration("drain_delay", cfg.DrainDelay))
	if cfg.DrainDelay > 0 {
		// keep serving while load balancers see /readyz fail and take this replica out
		t := time.NewTimer(cfg.DrainDelay)
		select {
		case <-t.C:
		case err := <-serveErr:
			t.Stop()
			stopWork()
			bg.Wait()
			return fmt.Errorf("serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	// the answers of the last creating requests, which wait for a statement to
	// ride on, are written before the process goes
	a.Idempotency.Flush(sctx)
	stopWork()
	bg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// servePprof serves the profiler on its own listener, so that it is never reachable
// through the public address.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	log.Info("profiler", slog.String("addr", addr))
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Warn("profiler stopped", slog.String("error", err.Error()))
	}
}

// portalLimit maps the setting (0: no limit) to app.Config (negative: no limit).
func portalLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// requestLogger makes every line that base logs while serving a request (with the
// ...Context methods) carry the request's ID.
func requestLogger(base *slog.Logger) *slog.Logger {
	return slog.New(reqid.NewLogHandler(base.Handler()))
}

// handler is the chain every request goes through: it gets its ID, is logged and
// counted once answered, has a panic turned into a 500, and is routed.
// trusted are the load balancers whose X-Forwarded-For names the client.
func handler(log *slog.Logger, reg *metrics.Registry, mux *http.ServeMux, trusted []netip.Prefix) http.Handler {
	observe := func(e reqid.Entry) { reg.ObserveRequest(e.Route, e.Operation, e.Status, e.Duration) }
	return reqid.Trusting(trusted)(reqid.AccessLog(log, observe)(recoverer(log, mux)))
}

// recoverer turns a panic in a handler into a logged 500 problem.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal_error",
					"Something went wrong on our side. Try again; if it keeps happening, contact support with the request ID."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// GCPercent is the collector's target a server runs with when GOGC is not set: the
// heap may grow to 2.5 times what is live before a collection, not Go's 2 times.
// Under load a replica allocates about 1.3 MB a return lifecycle, almost all of it
// garbage within the request; collecting less often cost 12 MB more of peak memory
// (81-83 -> 93-95 MB at 48 lifecycles in flight) and saved 5-6 % of the replica's CPU
// (BENCHMARKS.md, fourteenth pass). GOGC, when set, is Go's to apply, as always.
const GCPercent = 150

// sampleAllocations turns Go's sampling of allocations for heap profiles off unless
// the profiler is served (profiled): nothing else reads the samples, and recording
// one (a stack trace every 512 KB allocated, two or three a return lifecycle under
// load) was about 1 % of a replica's CPU. The first call decides, for the process.
func sampleAllocations(profiled bool) {
	allocationSampling.Do(func() {
		if !profiled {
			runtime.MemProfileRate = 0
		}
	})
}

var allocationSampling sync.Once

// collectorTarget sets GCPercent unless GOGC says otherwise.
func collectorTarget(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
