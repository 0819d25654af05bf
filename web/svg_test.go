package web

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestQRSVGDrawsTheMatrix redraws the SVG path as modules and compares them with
// the encoder's matrix, module by module, quiet zone included.
func TestQRSVGDrawsTheMatrix(t *testing.T) {
	const content = "https://returns.example.com/portal/northwind/returns/R-7KQ4-M2XD"
	svg, err := qrSVG(content, `label with "quotes" & <tags>`)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if strings.Contains(s, `"quotes"`) || strings.Contains(s, "<tags>") {
		t.Errorf("the label is not escaped: %s", s[:200])
	}
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Bounds().Dx()
	size := n + 2*qrQuiet
	if !strings.Contains(s, `viewBox="0 0 `+strconv.Itoa(size)+" "+strconv.Itoa(size)+`"`) {
		t.Fatalf("viewBox is not %d modules: %.200s", size, s)
	}
	drawn := make([][]bool, size)
	for i := range drawn {
		drawn[i] = make([]bool, size)
	}
	runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllStringSubmatch(s, -1)
	if len(runs) == 0 {
		t.Fatal("no runs in the path")
	}
	for _, r := range runs {
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		for i := range w {
			if drawn[y][x+i] {
				t.Fatalf("module %d,%d drawn twice", x+i, y)
			}
			drawn[y][x+i] = true
		}
	}
	for y := range size {
		for x := range size {
			want := false
			if mx, my := x-qrQuiet, y-qrQuiet; mx >= 0 && my >= 0 && mx < n && my < n {
				r, _, _, _ := code.At(mx, my).RGBA()
				want = r < 0x8000
			}
			if drawn[y][x] != want {
				t.Fatalf("module %d,%d: drawn %v, want %v", x, y, drawn[y][x], want)
			}
		}
	}
}

func TestChartsEscapeAndScale(t *testing.T) {
	h := string(hbarChart("Reasons <b>", []bar{{Label: "Too <small>", Value: 4, Title: "4 & more"}, {Label: "Other", Value: 2}}))
	for _, bad := range []string{"<b>", "<small>", "4 & more"} {
		if strings.Contains(h, bad) {
			t.Errorf("hbarChart did not escape %q", bad)
		}
	}
	widths := regexp.MustCompile(`<rect class="bar" x="\d+" y="\d+" width="([\d.]+)"`).FindAllStringSubmatch(h, -1)
	if len(widths) != 2 {
		t.Fatalf("got %d bars, want 2", len(widths))
	}
	a, _ := strconv.ParseFloat(widths[0][1], 64)
	b, _ := strconv.ParseFloat(widths[1][1], 64)
	if a != 2*b {
		t.Errorf("bars of 4 and 2 are %.1f and %.1f wide, want the first twice the second", a, b)
	}
	if v := string(vbarChart("Days", nil, 7)); !strings.HasPrefix(v, "<svg") || !strings.HasSuffix(v, "</svg>") {
		t.Errorf("an empty vbarChart is not an SVG: %s", v)
	}
	if e := string(hbarChart("Nothing", nil)); !strings.Contains(e, "No data yet.") {
		t.Errorf("an empty hbarChart says nothing: %s", e)
	}
}

func TestRedirectsStayOnSite(t *testing.T) {
	for next, want := range map[string]string{
		"/portal/northwind/returns/R-1":           "/portal/northwind/returns/R-1",
		"/portal/northwind":                       "",
		"/portal/southwind/returns/R-1":           "",
		"//evil.example/portal/northwind/x":       "",
		"https://evil.example/portal/northwind/x": "",
		`/portal/northwind/\evil`:                 "",
		"/portal/northwind2/returns":              "",
	} {
		if got := safeNext(next, "northwind"); got != want {
			t.Errorf("safeNext(%q): got %q, want %q", next, got, want)
		}
	}
	for next, want := range map[string]string{
		"/warehouse":                 "/warehouse",
		"/finance?status=failed":     "/finance?status=failed",
		"/finance/reconciliations/3": "/finance/reconciliations/3",
		"/financex":                  "",
		"//evil.example/finance":     "",
		"/portal/northwind":          "",
		"":                           "",
	} {
		if got := safeStaffNext(next); got != want {
			t.Errorf("safeStaffNext(%q): got %q, want %q", next, got, want)
		}
	}
}

func TestCrossSite(t *testing.T) {
	for _, tc := range []struct {
		site, origin string
		cross        bool
	}{
		{"", "", false},
		{"same-origin", "http://shop.example", false},
		{"none", "", false},
		{"cross-site", "", true},
		{"same-site", "", true},
		{"", "http://evil.example", true},
		{"", "http://shop.example", false},
		{"", "null", false},
	} {
		r := httptest.NewRequest("POST", "http://shop.example/signin", nil)
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := crossSite(r); got != tc.cross {
			t.Errorf("Sec-Fetch-Site %q, Origin %q: got cross-site %v, want %v", tc.site, tc.origin, got, tc.cross)
		}
	}
}

func TestPasswordsAndNames(t *testing.T) {
	for _, p := range []string{"short", strings.Repeat("x", 73)} {
		if auth.ValidatePassword(p) == nil {
			t.Errorf("auth.ValidatePassword(%d characters) accepted it", len(p))
		}
	}
	if err := auth.ValidatePassword("ten chars!"); err != nil {
		t.Errorf("a 10-character password: %v", err)
	}
	for _, n := range []string{"", "-ana", "Ana", "an a", strings.Repeat("a", 64)} {
		if auth.ValidateUsername(n) == nil {
			t.Errorf("auth.ValidateUsername(%q) accepted it", n)
		}
	}
	if got := auth.NormalizeUsername("  Ana.Lopez@Shop "); got != "ana.lopez@shop" || auth.ValidateUsername(got) != nil {
		t.Errorf("NormalizeUsername: got %q", got)
	}
	if _, err := auth.ParseStaffRole("integration"); err == nil {
		t.Error("integration is not a role for a person")
	}
}

// TestRedirectsAreDecodedAndCleaned: a next path is judged after its escapes are
// decoded and its dot segments resolved, as the browser will resolve them.
func TestRedirectsAreDecodedAndCleaned(t *testing.T) {
	for next, want := range map[string]string{
		"/portal/northwind/../../%2f%2fevil.example": "",
		"/portal/northwind/%2e%2e/southwind/x":       "",
		"/portal/northwind/x/../returns/R-1":         "/portal/northwind/returns/R-1",
	} {
		if got := safeNext(next, "northwind"); got != want {
			t.Errorf("safeNext(%q): got %q, want %q", next, got, want)
		}
	}
	for next, want := range map[string]string{
		"/finance/../%2f%2fevil.example":         "",
		"/finance/..%2f..%2f%2fevil.example":     "",
		"/warehouse/%2e%2e/%2fevil.example":      "",
		"/finance/%0d%0aSet-Cookie:x":            "",
		"/finance/anything":                      "",
		"/warehouse/returns/12/../../../finance": "/finance",
		"/warehouse/returns/R-7KQ4-M2XD":         "/warehouse/returns/R-7KQ4-M2XD",
		"/finance/reconciliations/3/lines.csv":   "/finance/reconciliations/3/lines.csv",
		"/finance/refunds.csv?from=2026-03-01":   "/finance/refunds.csv?from=2026-03-01",
	} {
		if got := safeStaffNext(next); got != want {
			t.Errorf("safeStaffNext(%q): got %q, want %q", next, got, want)
		}
	}
}
