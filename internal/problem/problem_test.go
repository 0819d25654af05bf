package problem_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/roundtriphq/roundtrip/internal/problem"
)

var errLocked = errors.New("locked")

// TestMappedProblemsKeepTheirHeaders checks that the headers a mapping gives a
// domain error's problem (WWW-Authenticate, Retry-After) reach the client, as do
// a 503's Retry-After and the headers of a problem a handler returns itself.
func TestMappedProblemsKeepTheirHeaders(t *testing.T) {
	problem.Install(slog.New(slog.NewTextHandler(io.Discard, nil)), func(err error) *problem.Problem {
		if errors.Is(err, errLocked) {
			p := problem.New(http.StatusUnauthorized, "unauthorized", "Send the secret.")
			p.GetHeaders().Set("WWW-Authenticate", `Secret realm="test"`)
			return p
		}
		return nil
	})
	_, api := humatest.New(t, huma.DefaultConfig("test", "1"))
	type out struct{ Body struct{} }
	huma.Get(api, "/mapped", func(context.Context, *struct{}) (*out, error) { return nil, errLocked })
	huma.Get(api, "/own", func(context.Context, *struct{}) (*out, error) {
		return nil, problem.TooManyRequests("Slow down.", 7)
	})
	huma.Get(api, "/unavailable", func(context.Context, *struct{}) (*out, error) {
		return nil, huma.Error503ServiceUnavailable("down")
	})
	for _, tt := range []struct {
		path, header, want string
		status             int
	}{
		{"/mapped", "WWW-Authenticate", `Secret realm="test"`, http.StatusUnauthorized},
		{"/own", "Retry-After", "7", http.StatusTooManyRequests},
		{"/unavailable", "Retry-After", "2", http.StatusServiceUnavailable},
	} {
		resp := api.Get(tt.path)
		if resp.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, resp.Code, tt.status)
		}
		if got := resp.Header().Values(tt.header); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: %s %q, want exactly %q", tt.path, tt.header, got, tt.want)
		}
	}
}
