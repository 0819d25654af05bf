package keepalive

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wave sends n requests at once through c and returns when all are answered; the
// server holds every request until all n have arrived, so n connections are open
// together.
func wave(t *testing.T, c *http.Client, url string, arrived *sync.WaitGroup, n int) {
	t.Helper()
	arrived.Add(n)
	var done sync.WaitGroup
	for range n {
		done.Go(func() {
			res, err := c.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		})
	}
	done.Wait()
}

func server(t *testing.T) (url string, arrived *sync.WaitGroup, dialed *atomic.Int64) {
	arrived = &sync.WaitGroup{}
	dialed = &atomic.Int64{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait()
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, arrived, dialed
}

func TestCallsAtOnceReuseTheirConnections(t *testing.T) {
	url, arrived, dialed := server(t)
	c := Client(10 * time.Second)
	const n = 16
	wave(t, c, url, arrived, n)
	wave(t, c, url, arrived, n)
	wave(t, Client(10*time.Second), url, arrived, n) // another client shares them
	if got := dialed.Load(); got != n {
		t.Fatalf("three waves of %d calls at once opened %d connections, want %d (one per call of the first wave)", n, got, n)
	}
}

// The default transport, for contrast: it keeps two connections and dials the rest
// again, which is what this package exists to avoid.
func TestTheDefaultTransportDialsAgain(t *testing.T) {
	url, arrived, dialed := server(t)
	c := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	const n = 16
	wave(t, c, url, arrived, n)
	wave(t, c, url, arrived, n)
	if got := dialed.Load(); got <= n {
		t.Fatalf("the default transport opened %d connections for two waves of %d; the test no longer shows the difference", got, n)
	}
}
