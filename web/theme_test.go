package web

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// cssVars reads the custom properties of app.css's :root rule.
func cssVars(t *testing.T) map[string]rgb {
	t.Helper()
	b, err := staticFS.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	root := regexp.MustCompile(`(?s):root\s*\{(.*?)\}`).FindSubmatch(b)
	if root == nil {
		t.Fatal("app.css has no :root rule")
	}
	vars := map[string]rgb{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})\s*;`).FindAllSubmatch(root[1], -1) {
		c, ok := parseHex(string(m[2]))
		if !ok {
			t.Fatalf("--%s: %s is not a colour", m[1], m[2])
		}
		vars[string(m[1])] = c
	}
	return vars
}

// TestDefaultThemeContrast checks every text colour of the default theme against
// the backgrounds it is drawn on: WCAG AA, 4.5:1 for text, 3:1 for the borders of
// form fields (non-text contrast).
func TestDefaultThemeContrast(t *testing.T) {
	v := cssVars(t)
	pairs := []struct {
		fg, bg string
		min    float64
	}{
		{"text", "bg", AA}, {"text", "surface", AA},
		{"muted", "bg", AA}, {"muted", "surface", AA},
		{"brand-ink", "bg", AA}, {"brand-ink", "surface", AA},
		{"on-brand", "brand", AA},
		{"ok-text", "ok-bg", AA}, {"err-text", "err-bg", AA}, {"warn-text", "warn-bg", AA},
		{"info-text", "info-bg", AA}, {"repeat-text", "repeat-bg", AA},
		{"err-text", "bg", AA}, // field errors
		{"border", "bg", 3},
	}
	for _, p := range pairs {
		fg, ok1 := v[p.fg]
		bg, ok2 := v[p.bg]
		if !ok1 || !ok2 {
			t.Errorf("app.css lacks --%s or --%s", p.fg, p.bg)
			continue
		}
		if c := contrast(fg, bg); c < p.min {
			t.Errorf("--%s %s on --%s %s: contrast %.2f, want at least %.1f", p.fg, fg.hex(), p.bg, bg.hex(), c, p.min)
		}
	}
	if got := v["brand"].hex(); got != DefaultBrand {
		t.Errorf("app.css's --brand is %s, DefaultBrand %s: keep them equal", got, DefaultBrand)
	}
	if def := brandPalette(""); def.Brand != v["brand"] || def.OnBrand != v["on-brand"] || def.Ink != v["brand-ink"] {
		t.Errorf("the default palette %+v differs from app.css", def)
	}
}

// TestBrandPaletteAlwaysReadable: whatever colour a merchant picks, text on it and
// links in it meet AA.
func TestBrandPaletteAlwaysReadable(t *testing.T) {
	colours := []string{"#1f6f5c", "#ffff00", "#ffffff", "#000000", "#777777", "#ff0000", "#00a0ff", "#7fff00", "#f0e68c", "#123", "nonsense", ""}
	for r := 0; r < 256; r += 51 {
		for g := 0; g < 256; g += 51 {
			for b := 0; b < 256; b += 51 {
				colours = append(colours, rgb{uint8(r), uint8(g), uint8(b)}.hex())
			}
		}
	}
	for _, c := range colours {
		p := brandPalette(c)
		if got := contrast(p.OnBrand, p.Brand); got < AA {
			t.Errorf("%q: text %s on %s has contrast %.2f", c, p.OnBrand.hex(), p.Brand.hex(), got)
		}
		if got := contrast(p.Ink, white); got < AA {
			t.Errorf("%q: links %s on white have contrast %.2f", c, p.Ink.hex(), got)
		}
		if strings.ContainsAny(string(p.css()), "<>\"'") {
			t.Errorf("%q: palette CSS %q", c, p.css())
		}
	}
	// a colour that is already dark enough is kept as the merchant chose it
	if p := brandPalette("#1f6f5c"); p.Ink.hex() != "#1f6f5c" || p.OnBrand != white {
		t.Errorf("#1f6f5c: got %+v, want it unchanged with white text", p)
	}
	// yellow gets black text and a darker yellow for links
	if p := brandPalette("#ffff00"); p.OnBrand != black || p.Ink.hex() == "#ffff00" {
		t.Errorf("#ffff00: got on-brand %s, ink %s", p.OnBrand.hex(), p.Ink.hex())
	}
}

func TestContrastKnownValues(t *testing.T) {
	for _, tc := range []struct {
		a, b rgb
		want string
	}{
		{white, black, "21.00"},
		{rgb{0x76, 0x76, 0x76}, white, "4.54"}, // the classic lightest AA grey
		{white, white, "1.00"},
	} {
		if got := fmt.Sprintf("%.2f", contrast(tc.a, tc.b)); got != tc.want {
			t.Errorf("contrast(%s, %s): got %s, want %s", tc.a.hex(), tc.b.hex(), got, tc.want)
		}
	}
}
