package outbox_test

import (
	"testing"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// a transition's event part, as notify writes it
const eventPart = `webhook_event_return_received AS (INSERT INTO webhook_events (merchant_id, id, type, created_at, payload)
			VALUES ($1, $2, $3, $4, $5)),
		webhook_delivery_return_received AS (INSERT INTO webhook_deliveries (merchant_id, id, endpoint_id, event_id, created_at, updated_at)
			SELECT $1, x.id, e.id, $2, $4, $4 FROM unnest($6::text[], $7::text[]) AS x(id, endpoint_id)
			JOIN webhook_endpoints e ON e.merchant_id = $1 AND e.id = x.endpoint_id AND e.enabled)`

func BenchmarkRenumber(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		outbox.Renumber(eventPart, 12)
	}
}

func BenchmarkRenumberByRegexp(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		renumberByRegexp(eventPart, 12)
	}
}
