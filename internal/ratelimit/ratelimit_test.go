package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
	"github.com/roundtriphq/roundtrip/internal/ratelimit"
)

// TestLimitHoldsAcrossAWindowsEnd: a client that used its limit just before a
// window ended is not let in again at once when the next one starts, and gets in
// again once the previous window's hits have aged out.
func TestLimitHoldsAcrossAWindowsEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ratelimit.New(pgtest.New(t), 10, time.Minute)
	end := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i := range 10 {
		if ok, _, err := l.Allow(ctx, "b", end.Add(-time.Second)); err != nil || !ok {
			t.Fatalf("hit %d: got %v %v, want allowed", i+1, ok, err)
		}
	}
	if ok, wait, err := l.Allow(ctx, "b", end.Add(time.Second)); err != nil || ok || wait <= 0 {
		t.Fatalf("just after the window's end: got %v wait %s (%v), want refused", ok, wait, err)
	}
	if ok, _, err := l.Allow(ctx, "b", end.Add(time.Minute+time.Second)); err != nil || !ok {
		t.Errorf("a window later: got %v (%v), want allowed", ok, err)
	}
	if ok, _, err := l.Allow(ctx, "other", end.Add(time.Second)); err != nil || !ok {
		t.Errorf("another bucket: got %v (%v), want allowed", ok, err)
	}
}
