// Package reqid gives every HTTP request an ID (and notes the client address): the caller's X-Request-Id when it is
// sane, else a new random one. The ID is echoed in the response header, put in the
// request context for problem documents, and put on every log line written while
// serving the request (LogHandler). AccessLog writes one line per answered request.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net"
	"net/http"
)

// Header is the request and response header that carries the ID.
const Header = "X-Request-Id"

type key struct{}

type ipKey struct{}

// ClientIP returns the address of the client that sent the request (the TCP peer;
// with a load balancer in front this is the balancer).
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey{}).(string)
	return ip
}

// FromContext returns the request ID, or "" outside a request.
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// New returns a fresh random request ID.
func New() string {
	var b [10]byte
	rand.Read(b[:])
	return "req_" + base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// valid accepts IDs of 1–128 printable ASCII characters without spaces, so that a
// caller's ID can be logged and echoed without escaping.
func valid(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// Middleware assigns the ID and echoes it.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !valid(id) {
			id = New()
		}
		w.Header().Set(Header, id)
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ctx := context.WithValue(With(r.Context(), id), ipKey{}, ip)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
