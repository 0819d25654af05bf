package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Colours and WCAG contrast: a merchant's brand colour becomes a palette whose
// text meets WCAG AA (4.5:1) whatever colour the merchant chose.

// DefaultBrand is the accent of merchants without a colour and of the staff pages;
// app.css declares the same value.
const DefaultBrand = "#24548a"

// rgb is an sRGB colour.
type rgb struct{ R, G, B uint8 }

var (
	white = rgb{255, 255, 255}
	black = rgb{0, 0, 0}
)

// parseHex reads #rgb or #rrggbb.
func parseHex(s string) (rgb, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	if len(s) != 6 {
		return rgb{}, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return rgb{}, false
	}
	return rgb{uint8(v >> 16), uint8(v >> 8), uint8(v)}, true
}

func (c rgb) hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// luminance is WCAG 2's relative luminance.
func luminance(c rgb) float64 {
	ch := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.R) + 0.7152*ch(c.G) + 0.0722*ch(c.B)
}

// contrast is WCAG 2's contrast ratio, 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// mix returns c moved toward t by f (0: c, 1: t).
func mix(c, t rgb, f float64) rgb {
	m := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*f)) }
	return rgb{m(c.R, t.R), m(c.G, t.G), m(c.B, t.B)}
}

// AA is the contrast WCAG 2 level AA asks of normal text.
const AA = 4.5

// palette is the brand's colours as the pages use them.
type palette struct {
	// Brand fills the header and primary buttons.
	Brand rgb
	// OnBrand is text on Brand: white or black, whichever contrasts more (one of
	// them always reaches 4.58:1).
	OnBrand rgb
	// Ink is the brand colour for links and focus rings on the white page,
	// darkened until it reaches AA.
	Ink rgb
}

// brandPalette makes the palette of a merchant's colour (#rrggbb); an empty or
// malformed colour gives the default.
func brandPalette(color string) palette {
	c, ok := parseHex(color)
	if !ok {
		c, _ = parseHex(DefaultBrand)
	}
	p := palette{Brand: c, OnBrand: white, Ink: c}
	if contrast(c, black) > contrast(c, white) {
		p.OnBrand = black
	}
	for f := 0.05; contrast(p.Ink, white) < AA && f <= 1; f += 0.05 {
		p.Ink = mix(c, black, f)
	}
	return p
}

// css is the palette as CSS custom properties overriding app.css's defaults.
func (p palette) css() template.CSS {
	return template.CSS(fmt.Sprintf(":root{--brand:%s;--on-brand:%s;--brand-ink:%s}", p.Brand.hex(), p.OnBrand.hex(), p.Ink.hex()))
}
