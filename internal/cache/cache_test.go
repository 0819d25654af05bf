package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGetLoadsOnceWithinTheTTL(t *testing.T) {
	ctx := context.Background()
	m := New[int64, string](time.Minute, nil, "", nil)
	now := time.Now()
	m.now = func() time.Time { return now }
	loads := 0
	load := func(context.Context) (string, error) { loads++; return "v", nil }
	for range 3 {
		if v, err := m.Get(ctx, 1, load); err != nil || v != "v" {
			t.Fatalf("got %q %v, want v", v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("got %d loads, want 1", loads)
	}
	now = now.Add(time.Minute)
	if _, err := m.Get(ctx, 1, load); err != nil {
		t.Fatal(err)
	}
	if loads != 2 {
		t.Fatalf("after the ttl: got %d loads, want 2", loads)
	}
}

func TestForgetAndClearMakeTheNextGetLoad(t *testing.T) {
	ctx := context.Background()
	m := New[int64, int](time.Hour, nil, "", nil)
	n := 0
	load := func(context.Context) (int, error) { n++; return n, nil }
	m.Get(ctx, 1, load)
	m.Get(ctx, 2, load)
	m.Forget(1)
	if v, _ := m.Get(ctx, 1, load); v != 3 {
		t.Fatalf("after Forget: got %d, want a fresh load (3)", v)
	}
	if v, _ := m.Get(ctx, 2, load); v != 2 {
		t.Fatalf("another key: got %d, want the cached 2", v)
	}
	m.Clear()
	if v, _ := m.Get(ctx, 2, load); v != 4 {
		t.Fatalf("after Clear: got %d, want a fresh load (4)", v)
	}
}

// A load that ran while the key was forgotten may have read the row before the
// change: it is answered but not kept.
func TestALoadOverlappingAForgetIsNotKept(t *testing.T) {
	ctx := context.Background()
	m := New[int64, string](time.Hour, nil, "", nil)
	v, _ := m.Get(ctx, 1, func(context.Context) (string, error) {
		m.Forget(1) // the change's notification arrives while the old row is being read
		return "old", nil
	})
	if v != "old" {
		t.Fatalf("got %q, want the loaded value", v)
	}
	v, _ = m.Get(ctx, 1, func(context.Context) (string, error) { return "new", nil })
	if v != "new" {
		t.Fatalf("got %q, want new: the overlapping load must not be kept", v)
	}
}

func TestAFailedLoadIsNotKept(t *testing.T) {
	ctx := context.Background()
	m := New[int64, string](time.Hour, nil, "", nil)
	boom := errors.New("boom")
	if _, err := m.Get(ctx, 1, func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if v, _ := m.Get(ctx, 1, func(context.Context) (string, error) { return "ok", nil }); v != "ok" {
		t.Fatalf("got %q, want ok", v)
	}
}

func TestANilMapAlwaysLoads(t *testing.T) {
	var m *Map[int64, int]
	n := 0
	for range 2 {
		m.Get(context.Background(), 1, func(context.Context) (int, error) { n++; return n, nil })
	}
	m.Forget(1)
	m.Clear()
	if n != 2 {
		t.Fatalf("got %d loads, want 2", n)
	}
}
