// Package reqid gives every HTTP request an ID (and notes the client address): the caller's X-Request-Id when it is
// sane, else a new random one. The ID is echoed in the response header, put in the
// request context for problem documents, and put on every log line written while
// serving the request (LogHandler). AccessLog writes one line per answered request.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Header is the request and response header that carries the ID.
const Header = "X-Request-Id"

type key struct{}

type ipKey struct{}

// ClientIP returns the address of the client that sent the request: the TCP peer,
// or behind trusted proxies the address they report (see Trusting).
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

// Middleware assigns the ID and echoes it; the client address is the TCP peer.
func Middleware(next http.Handler) http.Handler { return Trusting(nil)(next) }

// Trusting returns Middleware for a server behind proxies (load balancers) whose
// addresses are in trusted: when the TCP peer is one of them, the client address is
// the rightmost address of X-Forwarded-For that is not itself a trusted proxy, since
// each proxy appends the address it received the request from and anything to the
// left of the nearest untrusted hop may be made up by the client. A peer that is not
// trusted is the client, whatever the header says.
func Trusting(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(Header)
			if !valid(id) {
				id = New()
			}
			w.Header().Set(Header, id)
			ctx := context.WithValue(With(r.Context(), id), ipKey{}, clientIP(r, trusted))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// clientIP is the TCP peer's address, or behind trusted proxies the rightmost
// untrusted address of X-Forwarded-For.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := addr
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := parseHop(hops[i])
		if err != nil {
			break // garbage: nothing left of it can be believed
		}
		client = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return client.String()
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a port.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseProxies reads a comma-separated list of CIDR prefixes (10.0.0.0/8) and single
// addresses (192.0.2.7) of trusted proxies.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("reqid: %q is neither an address nor a CIDR prefix", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
