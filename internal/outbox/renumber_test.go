package outbox_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/roundtriphq/roundtrip/internal/outbox"
)

var param = regexp.MustCompile(`\$[0-9]+`)

// renumberByRegexp is the reference: every $n becomes $(n+k); a number too long
// for an int is left as written.
func renumberByRegexp(s string, k int) string {
	return param.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.Atoi(m[1:])
		if err != nil {
			return m
		}
		return "$" + strconv.Itoa(n+k)
	})
}

func TestRenumberShiftsEveryParameter(t *testing.T) {
	for _, c := range []struct {
		in   string
		k    int
		want string
	}{
		{`a AS (SELECT $1, $2::text[], $10)`, 3, `a AS (SELECT $4, $5::text[], $13)`},
		{`x = $1 AND y = '$' AND z = $$q$$ || $`, 7, `x = $8 AND y = '$' AND z = $$q$$ || $`},
		{`$9$9 $09`, 1, `$10$10 $10`},
		{`no parameters`, 5, `no parameters`},
		{`$1`, 0, `$1`},
		{`$99999999999999999999999 and $2`, 1, `$99999999999999999999999 and $3`},
	} {
		if got := outbox.Renumber(c.in, c.k); got != c.want {
			t.Errorf("renumber(%q, %d) = %q, want %q", c.in, c.k, got, c.want)
		}
	}
}

func FuzzRenumberIsTheRegexpReplacement(f *testing.F) {
	f.Add(`a AS (INSERT INTO t VALUES ($1, $2, $13))`, 4)
	f.Add(`$$ $1$ $`, 2)
	f.Add(`é$1€$22`, 9)
	f.Fuzz(func(t *testing.T, s string, k int) {
		if k < 1 || k > 1<<20 { // k = 0 leaves the text as written
			return
		}
		if got, want := outbox.Renumber(s, k), renumberByRegexp(s, k); got != want {
			t.Errorf("renumber(%q, %d) = %q, want %q", s, k, got, want)
		}
	})
}
