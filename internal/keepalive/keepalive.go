// Package keepalive is the HTTP transport for Roundtrip's calls to the services it
// depends on (Stripe, Shippo): connections are kept open for reuse, as many per host
// as calls run at once. Go's default transport keeps two idle connections per host,
// so every call beyond two at once dials again (and, over TLS, does a new handshake)
// and closes its connection when it is done. Under load that costs more CPU than the
// call itself.
package keepalive

import (
	"net/http"
	"time"
)

// PerHost is how many idle connections are kept per host: more than the workers and
// requests that call one service at once in a replica.
const PerHost = 64

// shared is the transport every Client uses, so that connections are reused across
// clients (a Shippo client is made per merchant).
var shared = newTransport()

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * PerHost
	t.MaxIdleConnsPerHost = PerHost
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// Client returns an HTTP client on the shared transport; timeout bounds each
// request (0: none).
func Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: shared}
}
