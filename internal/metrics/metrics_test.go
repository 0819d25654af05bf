package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/roundtriphq/roundtrip/internal/metrics"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

func scrape(t *testing.T, reg *metrics.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// promtool runs `promtool check metrics` (the linter of Prometheus' own tools) on a
// scrape; Debian's prometheus package ships it (make tools installs it).
func promtool(t *testing.T, scraped string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: run 'make tools' (it installs Debian's prometheus package, which ships promtool)")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(scraped)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestScrapeHasEveryFamilyAndPassesPromtool(t *testing.T) {
	t.Parallel()
	d := pgtest.New(t)
	reg := metrics.New()
	reg.MustRegister(collectors.NewDBStatsCollector(d.DB, "roundtrip"), metrics.Outbox(d))
	reg.ObserveRequest("POST /v1/returns", "create-return", 201, 30*time.Millisecond)
	reg.ObserveRequest("GET /portal/{merchant}", "", 200, 3*time.Millisecond)
	reg.ObserveRequest("unmatched", "", 404, time.Millisecond)

	got := scrape(t, reg)
	for _, want := range []string{
		`roundtrip_http_requests_total{operation="create-return",route="POST /v1/returns",status="201"} 1`,
		`roundtrip_http_requests_total{operation="",route="GET /portal/{merchant}",status="200"} 1`,
		`roundtrip_http_requests_total{operation="",route="unmatched",status="404"} 1`,
		`roundtrip_http_request_duration_seconds_bucket{operation="create-return",route="POST /v1/returns",status="201",le="0.05"} 1`,
		`roundtrip_http_request_duration_seconds_count{operation="create-return",route="POST /v1/returns",status="201"} 1`,
		"roundtrip_outbox_pending 0",
		"roundtrip_outbox_dead 0",
		"roundtrip_outbox_oldest_due_seconds 0",
		`go_sql_max_open_connections{db_name="roundtrip"}`,
		"go_build_info{",
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	promtool(t, got)
}

func TestScrapeWithoutTheDatabaseServesTheRest(t *testing.T) {
	t.Parallel()
	d := pgtest.New(t)
	reg := metrics.New()
	reg.MustRegister(metrics.Outbox(d))
	reg.ObserveRequest("GET /healthz", "", 200, time.Millisecond)
	d.Close()

	scrape(t, reg)
	got := scrape(t, reg) // the second scrape counts the first one's failure
	if strings.Contains(got, "roundtrip_outbox_pending ") {
		t.Errorf("the scrape shows an outbox backlog it could not read")
	}
	for _, want := range []string{
		`roundtrip_http_requests_total{operation="",route="GET /healthz",status="200"} 1`,
		`promhttp_metric_handler_errors_total{cause="gathering"} 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	promtool(t, got)
}
