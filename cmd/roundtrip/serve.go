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
	"runtime/debug"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/idempotency"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/metrics"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/migrations"
	"github.com/roundtriphq/roundtrip/refunds"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, help, err := loadConfig("serve", args, getenv, stderr)
	if help || err != nil {
		return err
	}
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
		gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: cfg.StripeKey, APIBase: cfg.StripeAPIBase})
	} else {
		log.Warn("STRIPE_SECRET_KEY is not set: refunds are queued but not sent")
	}
	mux := http.NewServeMux()
	app.New(app.Config{DB: d, Logger: log, Hub: hub, Gateway: gateway, WebhookSecret: cfg.StripeWebhook, Worker: worker,
		PortalClientLimit: portalLimit(cfg.PortalLimit), BaseURL: cfg.BaseURL}, mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
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
		Handler:           handler(log, reg, mux),
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
	bg.Go(func() { sweep(workCtx, d, log) })
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
	log.Info("shutting down: finishing in-flight requests and jobs")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
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

// sweep deletes expired idempotency keys every hour.
func sweep(ctx context.Context, d *sqlx.DB, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := idempotency.Sweep(ctx, d); err != nil {
				log.Warn("idempotency sweep", slog.String("error", err.Error()))
			} else if n > 0 {
				log.Info("idempotency keys expired", slog.Int64("deleted", n))
			}
		}
	}
}

// requestLogger makes every line that base logs while serving a request (with the
// ...Context methods) carry the request's ID.
func requestLogger(base *slog.Logger) *slog.Logger {
	return slog.New(reqid.NewLogHandler(base.Handler()))
}

// handler is the chain every request goes through: it gets its ID, is logged and
// counted once answered, has a panic turned into a 500, and is routed.
func handler(log *slog.Logger, reg *metrics.Registry, mux *http.ServeMux) http.Handler {
	observe := func(e reqid.Entry) { reg.ObserveRequest(e.Route, e.Operation, e.Status, e.Duration) }
	return reqid.Middleware(reqid.AccessLog(log, observe)(recoverer(log, mux)))
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
