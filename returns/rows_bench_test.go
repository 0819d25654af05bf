package returns

import (
	"testing"

	"github.com/roundtriphq/roundtrip/internal/db"
)

// lockedRowText is a row of a locked return as LockedJSON brings it (one per item).
const lockedRowText = `{"id":1042,"public_id":"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd","merchant_id":7,"order_id":88123,` +
	`"order_number":"NW-100231","rma":"R-7KQ4-M2XD","state":"approved","resolution":"refund","policy_version":3,` +
	`"currency":"EUR","quote":{"lines":[{"line_id":"l1","amount":2500}],"total":2500},"total":2500,"keep_it":false,` +
	`"customer_email":"ada@example.com","reject_reason":null,"created_at":"2026-12-03T08:05:52.719295+00:00",` +
	`"updated_at":"2026-12-03T08:05:53.1+00:00","line_id":"l1","sku":"TS-BLK-M","name":"Organic T-shirt, black, M",` +
	`"quantity":1,"received":0,"accepted":0,"rejected":0,"reason":"too_small","comment":"","condition":null,` +
	`"disposition":null,"amount":2500,"tx_now":"2026-12-03T08:06:00.5+00:00","arrived_at":null,"item_seq":5512}`

// BenchmarkLockedRows reads a locked return of two items from its JSON, as every
// change that another domain's statement locks the return for does (LockFrom).
func BenchmarkLockedRows(b *testing.B) {
	raw := []byte(`[` + lockedRowText + `,` + lockedRowText + `]`)
	b.ReportAllocs()
	for b.Loop() {
		var rows []lockedRow
		if err := db.UnmarshalRows(raw, &rows); err != nil || len(rows) != 2 || rows[1].Item.Name == "" {
			b.Fatal(err, rows)
		}
	}
}
