package metrics

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// outboxTimeout bounds the backlog query of one scrape.
const outboxTimeout = 2 * time.Second

var (
	outboxPending = prometheus.NewDesc("roundtrip_outbox_pending",
		"Background jobs waiting to run.", nil, nil)
	outboxDead = prometheus.NewDesc("roundtrip_outbox_dead",
		"Background jobs parked after their last attempt.", nil, nil)
	outboxOldest = prometheus.NewDesc("roundtrip_outbox_oldest_due_seconds",
		"Age of the oldest background job that is due and not yet run.", nil, nil)
)

// Outbox returns a collector that reads the outbox backlog on every scrape.
func Outbox(d *sqlx.DB) prometheus.Collector { return outboxCollector{d} }

type outboxCollector struct{ db *sqlx.DB }

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPending
	ch <- outboxDead
	ch <- outboxOldest
}

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	s, err := outbox.ReadStats(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxPending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxPending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(outboxDead, prometheus.GaugeValue, float64(s.Dead))
	ch <- prometheus.MustNewConstMetric(outboxOldest, prometheus.GaugeValue, s.OldestSeconds)
}
