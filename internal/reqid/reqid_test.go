package reqid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/reqid"
)

func decode(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogHandlerPutsTheRequestIDOnceOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(reqid.NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx := reqid.With(context.Background(), "req_A")

	log.InfoContext(ctx, "plain")
	log.With(slog.String("operation", "create-return")).WarnContext(ctx, "with attrs")
	log.ErrorContext(ctx, "already has it", slog.String("request_id", "req_A"))
	log.With(slog.String("request_id", "req_A")).InfoContext(ctx, "logger has it")
	log.Info("outside a request")

	lines := decode(t, &buf)
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), buf.String())
	}
	for _, l := range lines[:4] {
		if l["request_id"] != "req_A" {
			t.Errorf("line %q: got request_id %v, want req_A", l["msg"], l["request_id"])
		}
	}
	if lines[1]["operation"] != "create-return" {
		t.Errorf("the logger's own attributes were lost: %v", lines[1])
	}
	if _, ok := lines[4]["request_id"]; ok {
		t.Errorf("a line logged outside any request got request_id %v", lines[4]["request_id"])
	}
	for i, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if n := strings.Count(l, `"request_id"`); n > 1 {
			t.Errorf("line %d carries request_id %d times: %s", i, n, l)
		}
	}
}

func TestAccessLogNamesRoutesNotPaths(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(reqid.NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /portal/{merchant}", func(w http.ResponseWriter, r *http.Request) {
		reqid.Note(r.Context()).MerchantID = 42
		io.WriteString(w, "portal")
	})
	mux.HandleFunc("POST /v1/returns", func(w http.ResponseWriter, r *http.Request) {
		reqid.Note(r.Context()).Operation = "create-return"
		w.WriteHeader(http.StatusCreated)
	})
	var seen []reqid.Entry
	h := reqid.Middleware(reqid.AccessLog(log, func(e reqid.Entry) { seen = append(seen, e) })(mux))

	for _, c := range []struct{ method, path string }{
		{"GET", "/portal/shop-a"},
		{"POST", "/v1/returns"},
		{"GET", "/secret/path-1"}, // no pattern: the mux's own 404
		{"DELETE", "/v1/returns"}, // no pattern: the mux's own 405
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
	}

	want := []struct {
		route, op string
		status    int
		merchant  int64
	}{
		{"GET /portal/{merchant}", "", 200, 42},
		{"POST /v1/returns", "create-return", 201, 0},
		{reqid.Unmatched, "", 404, 0},
		{reqid.Unmatched, "", 405, 0},
	}
	if len(seen) != len(want) {
		t.Fatalf("observed %d requests, want %d", len(seen), len(want))
	}
	for i, w := range want {
		e := seen[i]
		if e.Route != w.route || e.Operation != w.op || e.Status != w.status || e.MerchantID != w.merchant {
			t.Errorf("request %d: got %s %q %d merchant %d, want %s %q %d merchant %d",
				i, e.Route, e.Operation, e.Status, e.MerchantID, w.route, w.op, w.status, w.merchant)
		}
	}
	lines := decode(t, &buf)
	if len(lines) != len(want) {
		t.Fatalf("got %d access lines, want %d", len(lines), len(want))
	}
	if l := lines[0]; l["merchant_id"] != 42.0 || l["bytes"] != 6.0 || l["request_id"] == "" {
		t.Errorf("portal access line: got %v, want merchant_id 42, 6 bytes and a request_id", l)
	}
	if strings.Contains(buf.String(), "path-1") || strings.Contains(buf.String(), "shop-a") {
		t.Errorf("the access log carries raw paths:\n%s", buf.String())
	}
}

func TestAccessLogKeepsTheConnectionReachable(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	var flushed bool
	h := reqid.AccessLog(log, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part")
		flushed = http.NewResponseController(w).Flush() == nil
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !flushed || !rec.Flushed {
		t.Errorf("flush through the access log: got ok=%v flushed=%v, want both true", flushed, rec.Flushed)
	}
}

func TestClientIPBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted, err := reqid.ParseProxies("10.0.0.0/8, 192.0.2.7, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: the header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer without a header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"trusted peer: the client it reports", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a made-up hop left of the real one is ignored", "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"several trusted hops", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9", "192.0.2.7"}, "198.51.100.1"},
		{"every hop trusted: the leftmost", "10.1.2.3:5000", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage stops the walk at the last trusted hop", "10.1.2.3:5000", []string{"198.51.100.1, nonsense, 10.0.0.2"}, "10.0.0.2"},
		{"a hop with a port", "10.1.2.3:5000", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6", "[2001:db8::1]:443", []string{"2001:db8:ffff::1, 2001:0db9::5"}, "2001:db9::5"},
		{"a single trusted address", "192.0.2.7:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a neighbour of the single address is not trusted", "192.0.2.8:80", []string{"198.51.100.1"}, "192.0.2.8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := reqid.Trusting(trusted)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = reqid.ClientIP(r.Context())
			}))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("got client %q, want %q", got, tt.want)
			}
		})
	}

	// without trusted proxies (Middleware) the peer is the client
	var got string
	h := reqid.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = reqid.ClientIP(r.Context()) }))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "10.1.2.3" {
		t.Errorf("Middleware: got client %q, want the peer 10.1.2.3", got)
	}

	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := reqid.ParseProxies(bad); err == nil {
			t.Errorf("ParseProxies(%q): got no error", bad)
		}
	}
}
