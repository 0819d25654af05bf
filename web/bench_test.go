package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkPortalRender measures how long the server takes to answer each portal
// page, database queries included (no network, no browser), and reports the p50
// and p99 in milliseconds. The target is a p99 under 20 ms.
func BenchmarkPortalRender(b *testing.B) {
	s := newShop(b)
	r := s.createReturn(b, "NW-1", 1)
	c := s.client(b)
	home := c.lookUp("northwind", "NW-1", "ada@example.com")
	csrf := home.csrf(b)
	cookies := c.hc.Jar.Cookies(mustURL(b, s.env.URL+"/portal/northwind/"))
	quote := url.Values{"csrf": {csrf}, "line.0": {"l1"}, "qty.0": {"1"}, "reason.0": {"too_small"},
		"line.1": {"l2"}, "line.2": {"l3"}}.Encode()
	h := s.env.Server.Config.Handler
	for _, page := range []struct {
		name, method, path, body string
		signedIn                 bool
	}{
		{"lookup", "GET", "/portal/northwind", "", false},
		{"items", "GET", "/portal/northwind", "", true},
		{"review", "POST", "/portal/northwind/quote", quote, true},
		{"confirmation", "GET", "/portal/northwind/returns/" + r.RMA + "/confirmation", "", true},
		{"status", "GET", "/portal/northwind/returns/" + r.RMA, "", true},
	} {
		b.Run(page.name, func(b *testing.B) {
			took := make([]time.Duration, 0, b.N)
			for b.Loop() {
				req := httptest.NewRequest(page.method, page.path, strings.NewReader(page.body))
				if page.body != "" {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if page.signedIn {
					for _, ck := range cookies {
						req.AddCookie(ck)
					}
				}
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, req)
				took = append(took, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: got %d, want 200\n%.500s", page.name, w.Code, w.Body.String())
				}
			}
			slices.Sort(took)
			at := func(q float64) float64 {
				return float64(took[min(int(q*float64(len(took))), len(took)-1)]) / float64(time.Millisecond)
			}
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
		})
	}
}
