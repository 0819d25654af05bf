package openapi_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/openapi"
)

// TestSlowBodyIsCut: a client sending its body one byte a second to POST
// /v1/portal/sessions is answered 408 and cut off within the body deadline, not
// kept reading until the server's ReadTimeout, or for ever.
func TestSlowBodyIsCut(t *testing.T) {
	t.Parallel()
	const deadline = 500 * time.Millisecond
	env := apitest.New(t, func(c *app.Config, _ string) { c.BodyReadTimeout = deadline })
	conn, err := net.Dial("tcp", env.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"merchant": "northwind", "order_number": "NW-1", "email": "ada@example.com"}`
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /v1/portal/sessions HTTP/1.1\r\nHost: roundtrip\r\n"+
		"Content-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	go func() { // the slow client: one byte a second
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := range len(body) {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			sent.Add(1)
		}
	}()

	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard for the test only
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("got %d %s, want a 408 problem", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the answer: got %v, want the connection closed", err)
	}
	if took := time.Since(start); took > deadline+3*time.Second || sent.Load() >= int64(len(body)) {
		t.Errorf("cut after %s with %d of %d bytes sent, want within about %s", took, sent.Load(), len(body), deadline)
	}
}

// TestHandlerOutlivesTheBodyDeadline: once the body is in, the handler may run longer
// than the body deadline without its request being cancelled. A deadline set after
// the body was read (Huma's own, before it reads the body that a middleware already
// read) lands on net/http's background read, which then cancels the request.
func TestHandlerOutlivesTheBodyDeadline(t *testing.T) {
	t.Parallel()
	const deadline = 100 * time.Millisecond
	mux := http.NewServeMux()
	api := openapi.New(mux, openapi.Services{BodyReadTimeout: deadline})
	huma.Register(api, huma.Operation{OperationID: "test-slow", Method: http.MethodPost, Path: "/test/slow", BodyReadTimeout: deadline},
		func(ctx context.Context, _ *struct {
			Body struct {
				Note string `json:"note"`
			}
		}) (*struct{ Body string }, error) {
			t := time.NewTimer(4 * deadline) // runs past the body deadline
			defer t.Stop()
			select {
			case <-ctx.Done():
				return &struct{ Body string }{"cancelled: " + context.Cause(ctx).Error()}, nil
			case <-t.C:
				return &struct{ Body string }{"finished"}, nil
			}
		})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := http.Post(srv.URL+"/test/slow", "application/json", strings.NewReader(`{"note": "ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != `"finished"` {
		t.Errorf("got %d %s, want 200 \"finished\"", res.StatusCode, b)
	}
}
