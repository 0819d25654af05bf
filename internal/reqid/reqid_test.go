package reqid_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/reqid"
)

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
