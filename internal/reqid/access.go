package reqid

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Unmatched is the route of a request that matched no ServeMux pattern, or only the
// catch-all "/" that answers 404: one word, so that unknown paths cannot make the
// access log's routes or the metrics' labels grow without bound.
const Unmatched = "unmatched"

// Info is what the layers below the access log learn about a request and want on its
// line: the API operation it is (set by the route table) and the merchant of the
// authenticated caller (set after authentication).
type Info struct {
	Operation  string
	MerchantID int64
}

type infoKey struct{}

// Note returns the Info of the request being served, for filling in. Outside
// AccessLog it returns a fresh Info that nobody reads.
func Note(ctx context.Context) *Info {
	if in, ok := ctx.Value(infoKey{}).(*Info); ok {
		return in
	}
	return &Info{}
}

// Entry is one answered request.
type Entry struct {
	Method string
	// Route is the ServeMux pattern that matched ("GET /portal/{merchant}"), or
	// Unmatched; never the raw path.
	Route    string
	Status   int
	Bytes    int64
	Duration time.Duration
	Info
}

// AccessLog returns middleware that writes one line per request to log (method,
// route, status, bytes, duration_ms, request_id, and operation and merchant_id when
// known) and hands every answered request to observe (metrics), if set. It must run
// inside Middleware, which gives the request its ID, and outside the ServeMux, whose
// matched pattern it reads.
func AccessLog(log *slog.Logger, observe func(Entry)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			in := &Info{}
			// ServeMux sets Pattern on the request it is given: keep that one
			r = r.WithContext(context.WithValue(r.Context(), infoKey{}, in))
			cw := &countingWriter{ResponseWriter: w}
			next.ServeHTTP(cw, r)

			e := Entry{Method: r.Method, Route: r.Pattern, Status: cw.status, Bytes: cw.bytes,
				Duration: time.Since(start), Info: *in}
			if e.Route == "" || e.Route == "/" {
				e.Route = Unmatched
			}
			if e.Status == 0 {
				e.Status = http.StatusOK
			}
			if observe != nil {
				observe(e)
			}
			attrs := make([]slog.Attr, 0, 9)
			attrs = append(attrs,
				slog.String("method", e.Method),
				slog.String("route", e.Route),
				slog.Int("status", e.Status),
				slog.Int64("bytes", e.Bytes),
				slog.Float64("duration_ms", float64(e.Duration.Microseconds())/1000),
				slog.String(LogKey, FromContext(r.Context())),
			)
			if e.Operation != "" {
				attrs = append(attrs, slog.String("operation", e.Operation))
			}
			if e.MerchantID != 0 {
				attrs = append(attrs, slog.Int64("merchant_id", e.MerchantID))
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		})
	}
}

// countingWriter notes the status and counts the body bytes of the answer.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *countingWriter) WriteHeader(s int) {
	if w.status == 0 && s >= 200 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flushing).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends what is buffered, for handlers that assert http.Flusher.
func (w *countingWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }
