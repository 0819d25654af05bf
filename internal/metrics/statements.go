package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roundtriphq/roundtrip/internal/db"
)

// Statements returns the counters of the statements and commits the process sent to
// PostgreSQL (db.Counted), which the load driver reads per lifecycle.
func Statements(c *db.Counts) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roundtrip_db_statements_total",
			Help: "SQL statements sent to PostgreSQL, in and out of transactions.",
		}, func() float64 { return float64(c.Statements.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roundtrip_db_commits_total",
			Help: "Database transactions committed.",
		}, func() float64 { return float64(c.Commits.Load()) }),
	}
}
