package period_test

import (
	"slices"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/period"
	"github.com/roundtriphq/roundtrip/internal/validation"
)

func TestParsePeriodBoundsItsLength(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		from, to string
		want     []string // paths named
	}{
		{"2026-03-01", "2026-04-01", nil},
		{"2024-01-01", "2025-01-01", nil},                        // a leap year: 366 days
		{"2025-01-01", "2026-01-02", nil},                        // 366 days
		{"2025-01-01", "2026-01-03", []string{"q.from", "q.to"}}, // 367
		{"2025-01-01T00:00:00Z", "2026-01-02T00:00:01Z", []string{"q.from", "q.to"}},
		{"0001-01-01", "0001-01-02", []string{"q.from", "q.to"}}, // year 1 is an open end
		{"1969-12-31", "", []string{"q.from"}},
		{"0001-01-01", "9999-12-31", []string{"q.from", "q.to"}},
		{"2026-03-04", "2026-03-01", []string{"q.to"}},
		{"2026-03-01", "", nil}, // an open period is a filter, not a span
		{"", "9999-12-31", nil},
	} {
		var v validation.Error
		period.Parse(tt.from, tt.to, false, "q.", &v)
		var got []string
		for _, f := range v.Fields {
			got = append(got, f.Path)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParsePeriod(%s, %s): got errors at %v (%v), want %v", tt.from, tt.to, got, v.Err(), tt.want)
		}
		if tt.from == "" || tt.to == "" || tt.from > tt.to {
			continue // CheckClosed is for closed periods in order
		}
		f, _ := period.ParseTime(tt.from)
		to, _ := period.ParseTime(tt.to)
		if err := period.CheckClosed(f, to); (err == nil) != (tt.want == nil) {
			t.Errorf("CheckClosed(%s, %s) = %v, want an error exactly when ParsePeriod names one", tt.from, tt.to, err)
		}
	}
}
