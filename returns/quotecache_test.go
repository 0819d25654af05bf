package returns

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// richQuote has every slice and pointer of a quote set.
func richQuote() QuoteResult {
	at := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	return QuoteResult{
		Eligible: true, Currency: "EUR", Resolution: ResolutionExchange,
		Issues: []QuoteIssue{{Path: "resolution", Code: "resolution_not_allowed", Message: "No."}},
		Lines: []QuoteLine{{
			LineID: "line-1", Quantity: 2, Eligible: true, LastEligibleAt: &at, Units: []UnitRange{{First: 0, Count: 2}},
			UnitPrice: 2500, Subtotal: 4700,
			Exchange: &LineExchange{SKU: "TEE-BLK-L", Options: []VariantOption{{Name: "Size", Value: "L"}}, UnitPrice: 2500},
		}},
		Amounts:  Amounts{ItemsTotal: 4700, Total: 4700},
		Exchange: &ExchangeQuote{ReturnedValue: 4700, ReplacementValue: 5000, Difference: -300},
	}
}

// shared lists the slices and pointers that a and b (of one type) have in common.
func shared(a, b reflect.Value, path string) []string {
	var out []string
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return nil
		}
		if a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		out = append(out, shared(a.Elem(), b.Elem(), path)...)
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for i := 0; i < min(a.Len(), b.Len()); i++ {
			out = append(out, shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			out = append(out, shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)...)
		}
	}
	return out
}

// TestQuoteCloneSharesNothing: a clone is equal to its quote and shares no slice or
// pointer with it, however deep (a field added to a quote with a slice or pointer
// and not to clone fails here).
func TestQuoteCloneSharesNothing(t *testing.T) {
	q := richQuote()
	c := q.clone()
	if !reflect.DeepEqual(q, c) {
		t.Fatalf("got clone %+v, want %+v", c, q)
	}
	if s := shared(reflect.ValueOf(q), reflect.ValueOf(c), "quote"); len(s) > 0 {
		t.Errorf("the clone shares %v with its quote", s)
	}
	var zero QuoteResult
	if c := zero.clone(); !reflect.DeepEqual(zero, c) {
		t.Errorf("the zero quote's clone is %+v", c)
	}
}

// TestDecodedQuotesAreCopiesOfTheStoredBytes: a quote read again comes from the cache
// equal to a fresh decode, unaffected by what an earlier reader did to its copy; other
// bytes under the same return ID are decoded anew.
func TestDecodedQuotesAreCopiesOfTheStoredBytes(t *testing.T) {
	c := quoteCache{m: map[int64]quoteEntry{}}
	raw, err := json.Marshal(richQuote())
	if err != nil {
		t.Fatal(err)
	}
	var first, second, want QuoteResult
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := c.decode(7, raw, &first); err != nil {
		t.Fatal(err)
	}
	first.Lines[0].Units[0].Count = 99
	first.Lines[0].Exchange.Options[0].Value = "XXL"
	first.Exchange.Difference = 1
	*first.Lines[0].LastEligibleAt = time.Time{}
	if err := c.decode(7, raw, &second); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(second, want) {
		t.Fatalf("read again: got %+v, want %+v", second, want)
	}
	other := richQuote()
	other.Total = 123
	raw2, _ := json.Marshal(other)
	var third QuoteResult
	if err := c.decode(7, raw2, &third); err != nil || third.Total != 123 {
		t.Fatalf("other bytes under the same ID: got total %d, %v; want 123", third.Total, err)
	}
	if err := c.decode(8, []byte(`{"lines":`), &third); err == nil {
		t.Error("bad JSON decoded without an error")
	}
	for id := range int64(quoteCacheMax + 10) {
		if err := c.decode(100+id, raw, &third); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.m); n > quoteCacheMax {
		t.Errorf("the cache holds %d quotes, want at most %d", n, quoteCacheMax)
	}
}
