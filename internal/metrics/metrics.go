// Package metrics exposes the service's numbers in the Prometheus text format:
// requests by operation and status, request latency, and gauges read at scrape time
// (database pool, outbox backlog). It is small on purpose: counters and one histogram
// family are all the service needs.
package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// buckets are the latency histogram's upper bounds in seconds.
var buckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type reqKey struct {
	op     string
	status int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

// Gauge is a value read when metrics are scraped.
type Gauge struct {
	Name, Help string
	Labels     map[string]string
	Value      float64
}

// Collector reads gauges at scrape time.
type Collector func(ctx context.Context) ([]Gauge, error)

// Registry holds the counters.
type Registry struct {
	mu         sync.Mutex
	requests   map[reqKey]uint64
	latency    map[string]*histogram
	collectors []Collector
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{requests: map[reqKey]uint64{}, latency: map[string]*histogram{}}
}

// ObserveRequest counts one answered request of operation op.
func (r *Registry) ObserveRequest(op string, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[reqKey{op, status}]++
	h := r.latency[op]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets)+1)}
		r.latency[op] = h
	}
	s := d.Seconds()
	i := sort.SearchFloat64s(buckets, s)
	h.counts[i]++
	h.sum += s
	h.n++
}

// Collect adds a collector read on every scrape.
func (r *Registry) Collect(c Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
}

// Handler serves the metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.Write(req.Context(), w)
	})
}

// Write writes every metric in the text format.
func (r *Registry) Write(ctx context.Context, w io.Writer) {
	r.mu.Lock()
	keys := make([]reqKey, 0, len(r.requests))
	for k := range r.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].op != keys[j].op {
			return keys[i].op < keys[j].op
		}
		return keys[i].status < keys[j].status
	})
	fmt.Fprintln(w, "# HELP roundtrip_http_requests_total HTTP requests answered, by operation and status.")
	fmt.Fprintln(w, "# TYPE roundtrip_http_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "roundtrip_http_requests_total{operation=%q,status=\"%d\"} %d\n", k.op, k.status, r.requests[k])
	}
	ops := make([]string, 0, len(r.latency))
	for op := range r.latency {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	fmt.Fprintln(w, "# HELP roundtrip_http_request_duration_seconds Time to answer a request, by operation.")
	fmt.Fprintln(w, "# TYPE roundtrip_http_request_duration_seconds histogram")
	for _, op := range ops {
		h := r.latency[op]
		var cum uint64
		for i, b := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "roundtrip_http_request_duration_seconds_bucket{operation=%q,le=%q} %d\n", op, strconv.FormatFloat(b, 'g', -1, 64), cum)
		}
		fmt.Fprintf(w, "roundtrip_http_request_duration_seconds_bucket{operation=%q,le=\"+Inf\"} %d\n", op, h.n)
		fmt.Fprintf(w, "roundtrip_http_request_duration_seconds_sum{operation=%q} %g\n", op, h.sum)
		fmt.Fprintf(w, "roundtrip_http_request_duration_seconds_count{operation=%q} %d\n", op, h.n)
	}
	collectors := append([]Collector(nil), r.collectors...)
	r.mu.Unlock()

	seen := map[string]bool{}
	for _, c := range collectors {
		gauges, err := c(ctx)
		if err != nil {
			fmt.Fprintf(w, "# collector error: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		for _, g := range gauges {
			if !seen[g.Name] {
				seen[g.Name] = true
				fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", g.Name, g.Help, g.Name)
			}
			fmt.Fprintf(w, "%s%s %g\n", g.Name, labels(g.Labels), g.Value)
		}
	}
}

func labels(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
