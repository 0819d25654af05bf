// Package period reads the date ranges that finance reports, reconciliations and
// analytics cover: a half-open [From, To) of dates or RFC 3339 date-times.
package period

import (
	"fmt"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/validation"
)

// Period is the half-open range [From, To) that finance reports cover; a zero From
// or To leaves that end open.
type Period struct {
	From, To time.Time
}

// Contains reports whether t is in the period.
func (p Period) Contains(t time.Time) bool {
	return (p.From.IsZero() || !t.Before(p.From)) && (p.To.IsZero() || t.Before(p.To))
}

// ParseTime reads a bound of a period: a date (YYYY-MM-DD, meaning midnight UTC) or
// an RFC 3339 date-time.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("period: %q is neither a date (2026-03-01) nor an RFC 3339 date-time (2026-03-01T00:00:00Z)", s)
	}
	return t.UTC(), nil
}

// Parse reads from and to (either may be empty unless required), recording
// what is wrong in v under prefix+"from" and prefix+"to".
func Parse(from, to string, required bool, prefix string, v *validation.Error) Period {
	var p Period
	for _, b := range []struct {
		name string
		raw  string
		dst  *time.Time
	}{{"from", from, &p.From}, {"to", to, &p.To}} {
		if strings.TrimSpace(b.raw) == "" {
			if required {
				v.Add(prefix+b.name, "is required (%s)", "YYYY-MM-DD or an RFC 3339 date-time")
			}
			continue
		}
		t, err := ParseTime(b.raw)
		if err != nil {
			v.AddValue(prefix+b.name, b.raw, "must be a date (2026-03-01) or an RFC 3339 date-time")
			continue
		}
		*b.dst = t
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.To.After(p.From) {
		v.Add(prefix+"to", "must be after from")
	}
	return p
}
