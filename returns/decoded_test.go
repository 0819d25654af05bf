package returns

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
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

// TestClonesShareNothing: a clone of a quote or an order is equal to it and shares no
// slice or pointer with it, however deep (a field added with a slice or pointer and
// not to clone fails here); so is the zero value's.
func TestClonesShareNothing(t *testing.T) {
	t.Run("quote", func(t *testing.T) { cloneSharesNothing(t, richQuote(), QuoteResult.clone) })
	t.Run("order", func(t *testing.T) { cloneSharesNothing(t, richOrder(), Order.clone) })
}

func cloneSharesNothing[T any](t *testing.T, v T, clone func(T) T) {
	t.Helper()
	c := clone(v)
	if !reflect.DeepEqual(v, c) {
		t.Fatalf("got clone %+v, want %+v", c, v)
	}
	if s := shared(reflect.ValueOf(v), reflect.ValueOf(c), "value"); len(s) > 0 {
		t.Errorf("the clone shares %v with its value", s)
	}
	var zero T
	if c := clone(zero); !reflect.DeepEqual(zero, c) {
		t.Errorf("the zero value's clone is %+v", c)
	}
}

// TestDecodedQuotesAreCopiesOfTheStoredBytes: a quote read again comes from the cache
// equal to a fresh decode, unaffected by what an earlier reader did to its copy; other
// bytes under the same return ID are decoded anew.
func TestDecodedQuotesAreCopiesOfTheStoredBytes(t *testing.T) {
	c := newDecodedCache(QuoteResult.clone)
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
	for id := range int64(decodedCacheBytes/len(raw) + 10) {
		if err := c.decode(100+id, raw, &third); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.m); n*len(raw) > decodedCacheBytes || c.bytes > decodedCacheBytes {
		t.Errorf("the cache holds %d quotes, %d bytes, want at most %d bytes", n, c.bytes, decodedCacheBytes)
	}
	// a value too large to keep is decoded, not kept
	big := richQuote()
	big.Lines = slices.Repeat(big.Lines, 200)
	rawBig, _ := json.Marshal(big)
	if len(rawBig) <= decodedCacheBytes/16 {
		t.Fatalf("the large quote is %d bytes, not large", len(rawBig))
	}
	var got QuoteResult
	if err := c.decode(9, rawBig, &got); err != nil || len(got.Lines) != 200 {
		t.Fatalf("large quote: %d lines, %v", len(got.Lines), err)
	}
	if _, kept := c.m[9]; kept {
		t.Error("a quote larger than a sixteenth of the cache was kept")
	}
}

// richOrder has every slice and pointer of an order set.
func richOrder() Order {
	at := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	later := at.Add(48 * time.Hour)
	return Order{
		Customer: Customer{Email: "ada@example.com", FirstName: "Ada", Address: Address{Line1: "1 Road", City: "London", Country: "GB"}},
		Currency: "EUR", PlacedAt: at, FulfilledAt: &at, DeliveredAt: &later,
		Lines:   []Line{{ID: "l1", SKU: "TEE", Name: "Tee", Tags: []string{"summer", "cotton"}, Quantity: 2, UnitPrice: 2500}},
		Payment: Payment{Provider: "stripe", PaymentIntentID: "pi_1", Captured: 5000},
	}
}

// TestDecodedOrdersFollowTheStoredBytes: an order read again comes from the cache
// unaffected by an earlier reader's changes; the order the shop sent again (other
// bytes under its ID) is read as sent.
func TestDecodedOrdersFollowTheStoredBytes(t *testing.T) {
	c := newDecodedCache(Order.clone)
	raw, _ := json.Marshal(richOrder())
	var first, second Order
	if err := c.decode(3, raw, &first); err != nil {
		t.Fatal(err)
	}
	first.Lines[0].Tags[0] = "winter"
	*first.DeliveredAt = time.Time{}
	if err := c.decode(3, raw, &second); err != nil {
		t.Fatal(err)
	}
	if want := richOrder(); second.Lines[0].Tags[0] != "summer" || !second.DeliveredAt.Equal(*want.DeliveredAt) {
		t.Fatalf("read again: got %+v", second)
	}
	sentAgain := richOrder()
	sentAgain.Lines[0].Quantity = 5
	raw2, _ := json.Marshal(sentAgain)
	var third Order
	if err := c.decode(3, raw2, &third); err != nil || third.Lines[0].Quantity != 5 {
		t.Fatalf("the order sent again: quantity %d, %v; want 5", third.Lines[0].Quantity, err)
	}
}
