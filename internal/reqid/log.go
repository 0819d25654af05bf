package reqid

import (
	"context"
	"log/slog"
)

// LogKey is the attribute that carries the request ID on log lines.
const LogKey = "request_id"

// LogHandler puts the request ID of the context on every record it handles, so that
// every line logged while serving a request (with the ...Context methods, or through
// a logger whose handler is this one) can be found by the ID the client was told. A
// record that already carries request_id keeps its own. Inside a group (WithGroup)
// the ID lands in that group.
type LogHandler struct {
	next slog.Handler
	// has is set when the logger's own attributes carry request_id already
	has bool
}

// NewLogHandler wraps next.
func NewLogHandler(next slog.Handler) *LogHandler { return &LogHandler{next: next} }

// Enabled reports what next reports.
func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle adds the request ID, when ctx has one, and passes r on.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := FromContext(ctx); id != "" && !h.has && !carries(r) {
		r = r.Clone()
		r.AddAttrs(slog.String(LogKey, id))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a handler whose records carry as.
func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	has := h.has
	for _, a := range as {
		has = has || a.Key == LogKey
	}
	return &LogHandler{next: h.next.WithAttrs(as), has: has}
}

// WithGroup returns a handler that puts later attributes in group name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name), has: h.has}
}

func carries(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == LogKey
		return !found
	})
	return found
}
