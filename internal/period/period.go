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

// MaxSpan is the longest closed period that finance reports and reconciliations
// cover: a year, leap day included. Longer ones are refused rather than read (a
// reconciliation from year 1 to 9999 would list Stripe for ever).
const MaxSpan = 366 * 24 * time.Hour

// Earliest is the earliest bound a period may have. The zero time.Time is an open
// end, so year 1 cannot be a bound; nothing Roundtrip reports on is that old.
var Earliest = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckClosed returns why the closed period [from, to) cannot be reported on, or
// nil: a bound before Earliest, or more than MaxSpan between them. It is what
// Parse checks, for callers that parse the bounds themselves.
func CheckClosed(from, to time.Time) error {
	switch {
	case from.Before(Earliest) || to.Before(Earliest):
		return fmt.Errorf("period: a period starts on %s or later", Earliest.Format(time.DateOnly))
	case to.Sub(from) > MaxSpan: // Sub saturates: year 1 to 9999 is too long too
		return fmt.Errorf("period: a period covers at most 366 days, not %s to %s",
			from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	return nil
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
// what is wrong in v under prefix+"from" and prefix+"to": a bound that is not a time
// or is before Earliest, to not after from, or both more than MaxSpan apart (an open
// period, one bound only, is a filter and has no length).
func Parse(from, to string, required bool, prefix string, v *validation.Error) Period {
	var p Period
	set := 0
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
		set++
	}
	switch {
	case set < 2:
	case !p.To.After(p.From):
		v.Add(prefix+"to", "must be after from")
		return p
	case p.To.Sub(p.From) > MaxSpan: // Sub saturates: year 1 to 9999 is too long too
		v.AddValue(prefix+"from", from, "is more than 366 days before to: a period covers at most 366 days")
		v.AddValue(prefix+"to", to, "is more than 366 days after from: a period covers at most 366 days")
		return p
	}
	for _, b := range []struct {
		name, raw string
		t         time.Time
	}{{"from", from, p.From}, {"to", to, p.To}} {
		if strings.TrimSpace(b.raw) != "" && b.t.Before(Earliest) {
			v.AddValue(prefix+b.name, b.raw, "must be %s or later", Earliest.Format(time.DateOnly))
		}
	}
	return p
}
