package reconcile

import (
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	eur := side{2975, "EUR", "succeeded"}
	tests := []struct {
		name   string
		theirs side
		reason string
		want   Class
		note   string
	}{
		{"same, Stripe in lower case", side{2975, "eur", "succeeded"}, "", Matched, ""},
		{"amount", side{2795, "eur", "succeeded"}, "", AmountMismatch, "Stripe refunded 27.95 EUR; we recorded 29.75 EUR."},
		{"currency wins over amount", side{100, "usd", "succeeded"}, "", CurrencyMismatch, "Stripe refunded 1.00 USD; we recorded 29.75 EUR."},
		{"status", side{2975, "eur", "failed"}, "expired_or_canceled_card", StatusMismatch,
			"Stripe says failed (expired_or_canceled_card); we say succeeded."},
		{"amount and status", side{1, "EUR", "pending"}, "", AmountMismatch,
			"Stripe refunded 0.01 EUR; we recorded 29.75 EUR. Stripe says pending; we say succeeded."},
		{"zero-decimal currency", side{2975, "jpy", "succeeded"}, "", CurrencyMismatch, "Stripe refunded 2975 JPY; we recorded 29.75 EUR."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, note := classify(eur, tt.theirs, tt.reason)
			if got != tt.want || note != tt.note {
				t.Errorf("got %s %q, want %s %q", got, note, tt.want, tt.note)
			}
		})
	}
}

func TestWindows(t *testing.T) {
	t.Parallel()
	d := func(m, day int) time.Time { return time.Date(2026, time.Month(m), day, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		from, to time.Time
		n        int
	}{
		{d(3, 1), d(3, 4), 3},
		{d(3, 1), d(3, 1).Add(time.Hour), 1},
		{d(1, 1), d(12, 31), 64}, // 364 days: at most maxWindows windows
		{d(3, 1).Add(500 * time.Millisecond), d(3, 2).Add(time.Hour), 2},
	}
	for _, tt := range tests {
		ws := windows(tt.from, tt.to)
		if len(ws) != tt.n || len(ws) > maxWindows {
			t.Errorf("[%s, %s): got %d windows, want %d", tt.from, tt.to, len(ws), tt.n)
			continue
		}
		if !ws[0][0].Equal(tt.from) || !ws[len(ws)-1][1].Equal(tt.to) {
			t.Errorf("[%s, %s): windows do not cover the period: %v", tt.from, tt.to, ws)
		}
		for i := 1; i < len(ws); i++ {
			if !ws[i][0].Equal(ws[i-1][1]) {
				t.Errorf("gap or overlap between %v and %v", ws[i-1], ws[i])
			}
		}
	}
}

func TestNeutralise(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`=HYPERLINK("http://x","y")`: `'=HYPERLINK("http://x","y")`,
		"+1+2":                       "'+1+2",
		"-2+3":                       "'-2+3",
		"@SUM(A1)":                   "'@SUM(A1)",
		"\tx":                        "'\tx",
		"\rx":                        "'\rx",
		"  =1+1":                     "'  =1+1",
		"Ada Lovelace":               "Ada Lovelace",
		"R-7KQ4-M2XD":                "R-7KQ4-M2XD",
		"a=b":                        "a=b",
		"":                           "",
	} {
		if got := Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}
