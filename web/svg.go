package web

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"sync"

	"github.com/boombuler/barcode/qr"
)

// Server-side SVG: the QR code of a return's status page and the finance charts.
// Both are drawn as plain shapes inline in the page: no script, no image request,
// crisp at any size, and readable by screen readers through their titles.

// qrQuiet is the quiet zone around a QR code, in modules (the standard asks for 4).
const qrQuiet = 4

// qrCache keeps drawn QR codes: encoding one takes about 2 ms (the encoder tries
// every mask), and a return's status page shows the same code every time. It is
// only a cache of a pure function, bounded, so replicas need not share it.
var qrCache struct {
	sync.Mutex
	m map[string]template.HTML
}

const qrCacheSize = 4096

// qrSVG draws content as a QR code (error correction M) of one path: one
// rectangle per run of dark modules in a row.
func qrSVG(content, label string) (template.HTML, error) {
	key := content + "\x00" + label
	qrCache.Lock()
	svg, ok := qrCache.m[key]
	qrCache.Unlock()
	if ok {
		return svg, nil
	}
	svg, err := drawQR(content, label)
	if err != nil {
		return "", err
	}
	qrCache.Lock()
	if qrCache.m == nil || len(qrCache.m) >= qrCacheSize {
		qrCache.m = make(map[string]template.HTML, 64)
	}
	qrCache.m[key] = svg
	qrCache.Unlock()
	return svg, nil
}

func drawQR(content, label string) (template.HTML, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("web: qr code: %w", err)
	}
	n := code.Bounds().Dx()
	size := n + 2*qrQuiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`,
		size, size, html.EscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	dark := func(x, y int) bool {
		r, _, _, _ := code.At(x, y).RGBA()
		return r < 0x8000
	}
	for y := range n {
		for x := 0; x < n; {
			if !dark(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < n && dark(x+run, y) {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+qrQuiet, y+qrQuiet, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// bar is one bar of a chart.
type bar struct {
	Label string // axis label
	Value int64
	Title string // tooltip and accessible text, e.g. "3 refunds, 120.00 EUR"
}

// hbarChart draws horizontal bars with their labels on the left and values on
// the right, one row each: for categories with long names (return reasons).
func hbarChart(title string, bars []bar) template.HTML {
	const (
		w      = 420
		row    = 26
		labelW = 150
		valueW = 40
	)
	h := max(len(bars), 1) * row
	var maxV int64 = 1
	for _, br := range bars {
		maxV = max(maxV, br.Value)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text x="0" y="18" class="muted">No data yet.</text>`)
	}
	span := float64(w - labelW - valueW)
	for i, br := range bars {
		y := i * row
		bw := max(float64(br.Value)/float64(maxV)*span, 1)
		fmt.Fprintf(&b, `<g><title>%s</title><text x="%d" y="%d" text-anchor="end">%s</text>`,
			html.EscapeString(br.Title), labelW-8, y+17, html.EscapeString(br.Label))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" rx="2"/>`, labelW, y+5, bw, row-10)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%d</text></g>`, float64(labelW)+bw+6, y+17, br.Value)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// vbarChart draws one vertical bar per entry (days) with a label under every
// labelEvery-th bar and the largest value on the axis.
func vbarChart(title string, bars []bar, labelEvery int) template.HTML {
	return vbarChartFmt(title, bars, labelEvery, func(v int64) string { return strconv.FormatInt(v, 10) })
}

// vbarChartFmt is vbarChart with the axis value written by format (money, say).
func vbarChartFmt(title string, bars []bar, labelEvery int, format func(int64) string) template.HTML {
	const (
		w      = 420
		h      = 170
		left   = 30
		bottom = 22
		top    = 20
	)
	var maxV int64 = 1
	for _, br := range bars {
		maxV = max(maxV, br.Value)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	plotH := float64(h - bottom - top)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="start">%s</text><text x="%d" y="%d" text-anchor="end">0</text>`,
		left, top-6, html.EscapeString(format(maxV)), left-6, h-bottom)
	if len(bars) > 0 {
		slot := float64(w-left) / float64(len(bars))
		for i, br := range bars {
			x := float64(left) + float64(i)*slot
			bh := float64(br.Value) / float64(maxV) * plotH
			fmt.Fprintf(&b, `<g><title>%s</title><rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></g>`,
				html.EscapeString(br.Title), x+slot*0.15, float64(h-bottom)-bh, slot*0.7, bh)
			if labelEvery > 0 && i%labelEvery == 0 {
				anchor, lx := "middle", x+slot/2
				if lx > w-24 { // keep the last label inside the picture
					anchor, lx = "end", w
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s">%s</text>`, lx, h-6, anchor, html.EscapeString(br.Label))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
