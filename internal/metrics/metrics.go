// Package metrics exposes the service's numbers to Prometheus from a registry of its
// own (never the process-wide default): every HTTP request by route, API operation and
// status with its latency, the Go runtime, the process, the build, and collectors that
// read at scrape time (the database pool, the outbox backlog).
//
// Label values stay bounded: a request is labelled with the ServeMux pattern that
// matched it ("GET /portal/{merchant}"), never its raw path, and paths that match no
// route share one label.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// buckets are the latency histogram's upper bounds in seconds.
var buckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Registry holds the service's metrics.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns a registry with the Go runtime, process and build-info collectors and
// the HTTP request metrics.
func New() *Registry {
	labels := []string{"route", "operation", "status"}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roundtrip_http_requests_total",
			Help: "HTTP requests answered, by route pattern (\"unmatched\" for unknown paths), API operation (empty for pages) and status.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roundtrip_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern, API operation and status.",
			Buckets: buckets,
		}, labels),
	}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		r.requests,
		r.duration,
	)
	return r
}

// MustRegister adds collectors (the database pool's, the outbox's); it panics when one
// clashes with a metric already registered, which is a programming error.
func (r *Registry) MustRegister(cs ...prometheus.Collector) { r.reg.MustRegister(cs...) }

// ObserveRequest counts one answered request. route is the ServeMux pattern that
// matched it (or a fixed word for none), operation the API operation ID or "".
func (r *Registry) ObserveRequest(route, operation string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	r.requests.WithLabelValues(route, operation, s).Inc()
	r.duration.WithLabelValues(route, operation, s).Observe(d.Seconds())
}

// maxScrapes bounds concurrent scrapes: each one queries the database.
const maxScrapes = 4

// Handler serves the metrics in the Prometheus exposition format. A collector that
// fails (the database is down) leaves its metrics out of the scrape and counts in
// promhttp_metric_handler_errors_total; the rest are still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            r.reg,
		MaxRequestsInFlight: maxScrapes,
	})
}
