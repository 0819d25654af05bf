package reconcile_test

import (
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
)

func TestRefundsCSV(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	shop := env.Merchant(t, "northwind")
	other := env.Merchant(t, "southwind")
	s := seeder{t, env.DB}
	m := shop.Merchant.ID

	o1 := s.order(m, "NW-1", "pi_1", "EUR", hyperlink)
	o2 := s.order(m, "+NW-2", "pi_2", "JPY", "Ada")
	o3 := s.order(m, "NW-3", "pi_3", "KWD", "@Ada")
	r1, rma1 := s.ret(m, o1, "EUR")
	r2, _ := s.ret(m, o2, "JPY")
	r3, _ := s.ret(m, o3, "KWD")
	a := s.refund(refund{merchant: m, ret: r1, amount: 2975, currency: "EUR", status: "succeeded", stripeID: "re_a", sent: day(1, 10)})
	b := s.refund(refund{merchant: m, ret: r2, amount: 1200, currency: "JPY", status: "failed", stripeID: "re_b", sent: day(2, 10)})
	c := s.refund(refund{merchant: m, ret: r3, amount: 1234, currency: "KWD", status: "queued", sent: day(3, 10)})
	s.refund(refund{merchant: m, ret: r1, amount: 1, currency: "EUR", status: "succeeded", stripeID: "re_late", sent: day(4, 10)})
	if _, err := env.DB.Exec(`UPDATE refunds SET failure_reason = '-expired card' WHERE id = $1`, b); err != nil {
		t.Fatal(err)
	}
	oo := s.order(other.Merchant.ID, "SW-1", "pi_sw", "EUR", "Bo")
	ro, _ := s.ret(other.Merchant.ID, oo, "EUR")
	s.refund(refund{merchant: other.Merchant.ID, ret: ro, amount: 5, currency: "EUR", status: "succeeded", stripeID: "re_sw", sent: day(1, 11)})

	res := env.Do(t, "GET", "/v1/reports/refunds.csv?from=2026-03-01&to=2026-03-04", shop.Keys[auth.RoleFinance], nil)
	if res.Status != http.StatusOK {
		t.Fatalf("got %d %s", res.Status, res.Body)
	}
	if ct, cd := res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"); ct != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(cd, `attachment; filename="refunds-20260301T000000Z-20260304T000000Z.csv"`) {
		t.Errorf("got Content-Type %q and Content-Disposition %q", ct, cd)
	}
	if !strings.Contains(string(res.Body), "\r\n") {
		t.Error("got no CRLF line ends, want RFC 4180's")
	}
	rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
	if err != nil {
		t.Fatalf("the export does not parse: %v", err)
	}
	if !slices.Equal(rows[0], reconcile.RefundsColumns) {
		t.Fatalf("got header %v, want %v", rows[0], reconcile.RefundsColumns)
	}
	col := func(r []string, name string) string { return r[slices.Index(reconcile.RefundsColumns, name)] }
	pub := func(id int64) string {
		var p string
		if err := env.DB.Get(&p, `SELECT public_id FROM refunds WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := []map[string]string{
		{"refund_id": pub(a), "rma": rma1, "order_number": "NW-1", "customer_name": "'" + hyperlink + " Lovelace",
			"currency": "EUR", "amount_minor": "2975", "amount": "29.75", "status": "succeeded", "stripe_refund_id": "re_a",
			"sent_at": "2026-03-01T10:00:00Z", "customer_email": "ada@example.com"},
		{"refund_id": pub(b), "order_number": "'+NW-2", "currency": "JPY", "amount_minor": "1200", "amount": "1200",
			"status": "failed", "failure_reason": "'-expired card"},
		{"refund_id": pub(c), "customer_name": "'@Ada Lovelace", "currency": "KWD", "amount_minor": "1234", "amount": "1.234",
			"status": "queued", "stripe_refund_id": "", "sent_at": ""},
	}
	if len(rows)-1 != len(want) {
		t.Fatalf("got %d rows, want %d (the period's, this merchant's): %v", len(rows)-1, len(want), rows[1:])
	}
	for i, w := range want {
		for k, v := range w {
			if got := col(rows[i+1], k); got != v {
				t.Errorf("row %d %s: got %q, want %q", i+1, k, got, v)
			}
		}
	}

	if res := env.Do(t, "GET", "/v1/reports/refunds.csv?from=2026-03-04&to=2026-03-01", shop.Keys[auth.RoleFinance], nil); res.Status != http.StatusUnprocessableEntity {
		t.Errorf("reversed period: got %d, want 422", res.Status)
	}
	if res := env.Do(t, "GET", "/v1/reports/refunds.csv?from=2026-03-01&to=2026-03-04", shop.Keys[auth.RoleWarehouse], nil); res.Status != http.StatusForbidden {
		t.Errorf("warehouse: got %d, want 403", res.Status)
	}
}

// exportRefunds streams the refunds export of [from, to) through csv.Reader and
// returns the rows read, the bytes received and the largest growth of the heap in
// use seen while reading (sampled every 5,000 rows), over the heap after a GC before
// the request. Client and server share the process, so the figure covers both.
func exportRefunds(t testing.TB, env *apitest.Env, key, from, to string) (rows int, size int64, peak uint64) {
	t.Helper()
	// Collect garbage eagerly while streaming, so that the heap in use shows what the
	// export holds on to rather than how much garbage the collector's pacing lets pile
	// up (which grows with the rest of the process's live heap).
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	req, err := http.NewRequest("GET", env.URL+"/v1/reports/refunds.csv?from="+from+"&to="+to, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got %d", res.StatusCode)
	}
	cr := &countingReader{r: res.Body}
	r := csv.NewReader(cr)
	r.ReuseRecord = true
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("row %d: %v", rows, err)
		}
		rows++
		if rows%5000 == 0 {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak {
				peak = ms.HeapInuse - base
			}
		}
	}
	return rows - 1, cr.n, peak
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestRefundsCSVStreamsWithFlatMemory exports 100,000 refunds: the heap grows by a
// small fraction of the file, because the export goes out 1,000 rows at a time. It
// does not run in parallel: the heap it measures is the whole test process's.
func TestRefundsCSVStreamsWithFlatMemory(t *testing.T) {
	env := apitest.New(t)
	shop := env.Merchant(t, "northwind")
	const n = 100_000
	seeder{t, env.DB}.bulk(shop.Merchant.ID, n, 10, day(1, 0), 3*24*time.Hour)
	rows, size, peak := exportRefunds(t, env, shop.Keys[auth.RoleFinance], "2026-03-01", "2026-03-04")
	if rows != n {
		t.Fatalf("got %d rows, want %d", rows, n)
	}
	t.Logf("exported %d refunds, %.1f MiB of CSV; heap in use grew by at most %.1f MiB while streaming",
		rows, float64(size)/(1<<20), float64(peak)/(1<<20))
	if limit := uint64(size / 4); peak > limit {
		t.Errorf("heap grew by %d bytes while streaming %d bytes of CSV, want under a quarter of it (%d)", peak, size, limit)
	}
}
