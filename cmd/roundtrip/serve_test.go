package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/metrics"
	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/internal/reqid"
	"github.com/roundtriphq/roundtrip/merchant"
)

// syncBuffer collects what the server logs from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes every JSON log line.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// startServe runs 'roundtrip serve' on a free port with JSON logs into stderr and
// returns its base URL; the server is stopped (and must stop cleanly) at cleanup.
func startServe(t *testing.T, dbURL string, stderr io.Writer) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--workers", "0"},
			env(map[string]string{"DATABASE_URL": dbURL}), pw, stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no start-up line: %v (run: %v)", err, <-errc)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("run returned %v after cancel, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	base := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
	if base == "" {
		t.Fatalf("start-up line %q names no address", line)
	}
	return base
}

func get(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// promtoolCheck lints a scrape with `promtool check metrics`, which Debian's
// prometheus package ships (make tools installs it).
func promtoolCheck(t *testing.T, scraped []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: run 'make tools' (it installs Debian's prometheus package, which ships promtool)")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scraped)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestServeCountsAndLogsEveryRequest(t *testing.T) {
	d, url := pgtest.NewWithURL(t)
	ctx := context.Background()
	m, err := merchant.NewStore(d).Create(ctx, "metered", "Metered", merchant.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := auth.NewKeys(d).Create(ctx, m.ID, auth.RoleAdmin, "admin")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	base := startServe(t, url, logs)

	for _, c := range []struct {
		path, token string
		status      int
	}{
		{"/portal/metered", "", 200},
		{"/docs", "", 200},
		{"/nowhere/order-1234", "", 404},
		{"/portal/metered/returns/RMA-XYZ/nothing-here", "", 404},
		{"/v1/api-keys", "", 401},
	} {
		if res, b := get(t, base+c.path, c.token); res.StatusCode != c.status {
			t.Fatalf("GET %s: got %d, want %d: %.200s", c.path, res.StatusCode, c.status, b)
		}
	}
	res, body := get(t, base+"/v1/api-keys", key)
	if res.StatusCode != 200 {
		t.Fatalf("GET /v1/api-keys: got %d, want 200: %s", res.StatusCode, body)
	}
	id := res.Header.Get(reqid.Header)

	res, scraped := get(t, base+"/metrics", "")
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: got %d", res.StatusCode)
	}
	for _, want := range []string{
		`roundtrip_http_requests_total{operation="",route="GET /portal/{merchant}",status="200"} 1`,
		`roundtrip_http_requests_total{operation="",route="GET /docs",status="200"} 1`,
		`roundtrip_http_requests_total{operation="",route="unmatched",status="404"} 2`,
		`roundtrip_http_requests_total{operation="list-api-keys",route="GET /v1/api-keys",status="401"} 1`,
		`roundtrip_http_requests_total{operation="list-api-keys",route="GET /v1/api-keys",status="200"} 1`,
		`roundtrip_http_request_duration_seconds_count{operation="list-api-keys",route="GET /v1/api-keys",status="200"} 1`,
		"roundtrip_outbox_pending 0",
		`go_sql_open_connections{db_name="roundtrip"}`,
		"go_build_info{",
		"process_cpu_seconds_total ",
		"go_goroutines ",
	} {
		if !bytes.Contains(scraped, []byte(want)) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	for _, raw := range []string{"order-1234", "RMA-XYZ", "/portal/metered"} {
		if bytes.Contains(scraped, []byte(raw)) {
			t.Errorf("the scrape carries the raw path part %q: labels must be route patterns", raw)
		}
	}
	promtoolCheck(t, scraped)

	var access map[string]any
	for _, l := range logs.lines(t) {
		if l["msg"] == "request" && l["request_id"] == id {
			access = l
		}
	}
	if access == nil {
		t.Fatalf("no access line with request_id %s in:\n%s", id, logs.buf.String())
	}
	for k, want := range map[string]any{
		"method": "GET", "route": "GET /v1/api-keys", "status": 200.0, "bytes": float64(len(body)),
		"operation": "list-api-keys", "merchant_id": float64(m.ID),
	} {
		if access[k] != want {
			t.Errorf("access line %s: got %v, want %v", k, access[k], want)
		}
	}
	if ms, ok := access["duration_ms"].(float64); !ok || ms < 0 {
		t.Errorf("access line duration_ms: got %v, want a number of milliseconds", access["duration_ms"])
	}
}

// TestHandlerChainPutsTheRequestIDOnEveryLine serves one request through the
// server's chain and checks that the access line and a line the handler wrote carry
// the ID the client was answered with.
func TestHandlerChainPutsTheRequestIDOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := requestLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "looking up a thing", slog.String("thing", r.PathValue("id")))
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "thing 7")
	})
	reg := metrics.New()
	h := handler(log, reg, mux, nil)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/things/7", nil))
	id := rec.Header().Get(reqid.Header)
	if id == "" {
		t.Fatal("the answer has no X-Request-Id")
	}

	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want the handler's and the access line:\n%s", len(lines), buf.String())
	}
	inner, access := lines[0], lines[1]
	if inner["msg"] != "looking up a thing" || inner["request_id"] != id {
		t.Errorf("handler line: got %v, want request_id %s", inner, id)
	}
	for k, want := range map[string]any{
		"msg": "request", "method": "GET", "route": "GET /things/{id}", "status": 202.0,
		"bytes": 7.0, "request_id": id,
	} {
		if access[k] != want {
			t.Errorf("access line %s: got %v, want %v", k, access[k], want)
		}
	}
	if _, ok := access["merchant_id"]; ok {
		t.Errorf("access line of an anonymous request has merchant_id %v", access["merchant_id"])
	}
	if strings.Count(buf.String(), `"request_id"`) != 2 {
		t.Errorf("a line carries request_id twice:\n%s", buf.String())
	}

	t.Run("a panic is logged with the ID", func(t *testing.T) {
		buf.Reset()
		mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
		id := rec.Header().Get(reqid.Header)
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), id) {
			t.Fatalf("got %d %s, want a 500 problem naming %s", rec.Code, rec.Body, id)
		}
		if !strings.Contains(buf.String(), `"msg":"panic"`) || strings.Count(buf.String(), `"request_id":"`+id+`"`) != 2 {
			t.Errorf("want the panic line and the access line, each with request_id %s; got:\n%s", id, buf.String())
		}
	})
}

// TestCollectorTargetUnlessGOGCIsSet: a server collects at GCPercent when GOGC is not
// set, and leaves Go's target alone when it is.
func TestCollectorTargetUnlessGOGCIsSet(t *testing.T) {
	was := debug.SetGCPercent(100)
	defer debug.SetGCPercent(was)
	collectorTarget(func(k string) string { return "" })
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("without GOGC the target is %d, want %d", got, GCPercent)
	}
	collectorTarget(func(k string) string {
		if k == "GOGC" {
			return "300"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the target became %d, want it left at 100", got)
	}
}
