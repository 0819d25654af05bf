package labels

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Module widths in dots at most: the tracking number is scanned from a
// distance at every hub, the RMA only at the returns desk.
const (
	trackMaxDots = 4 // 0.50 mm
	rmaMaxDots   = 3 // 0.375 mm
)

// Render writes l as a one-page PDF to w: a 4x6 inch return label, or that
// label with a cut line and packing instructions on a Letter or A4 page
// (l.Format). The same Label always gives the same bytes.
//
// It returns an error wrapping ErrInvalidLabel (made of *FieldError values)
// when l fails Validate or a barcode cannot be encoded or does not fit;
// free text never makes it fail (see Label). Nothing is written to w then.
func Render(w io.Writer, l Label) error {
	return render(w, l, nil)
}

// drawKind says what a drawn item is, for the test hook.
type drawKind int

const (
	drawText drawKind = iota
	drawBarcode
	drawFill // rules, the band, anything else filled
)

// drawn is one item put on the page, reported to the test hook.
type drawn struct {
	kind drawKind
	box  string   // name of the layout box it was fitted into
	r    rect     // what it covers, in mm (a barcode: symbol plus quiet zone)
	text string   // text drawn, or barcode content
	fs   *fontSet // font set of a text
	dots int      // barcode module width in dots
}

type renderer struct {
	page  *pdfPage
	fs    *fontSet
	trace func(drawn) // nil outside tests
}

func render(w io.Writer, l Label, trace func(drawn)) error {
	page, err := draw(l, trace)
	if err != nil {
		return err
	}
	if err := page.write(w, pdfInfo{title: "Return label " + l.RMA, created: l.IssuedAt}); err != nil {
		return fmt.Errorf("labels: render %s: %w", l.RMA, err)
	}
	return nil
}

// draw lays out and draws l's page.
func draw(l Label, trace func(drawn)) (*pdfPage, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	lay := layout(l.Format)
	track, trackAt, err := code128At(l.TrackingNumber, lay.track, trackMaxDots, "TrackingNumber")
	if err != nil {
		return nil, err
	}
	rma, rmaAt, err := code128At(l.RMA, lay.rma, rmaMaxDots, "RMA")
	if err != nil {
		return nil, err
	}
	qrm, err := qrOf(l.StatusURL)
	if err != nil {
		return nil, &FieldError{Field: "StatusURL", Reason: "cannot be encoded as a QR code: " + err.Error()}
	}
	qrAt, err := placeSquare(qrm, lay.qr)
	if err != nil {
		return nil, &FieldError{Field: "StatusURL", Reason: "too long for the QR code: " + err.Error()}
	}

	// All text first: which font set draws it depends on all of it.
	blocks := labelText(l, lay)
	if lay.instructions.W > 0 {
		blocks = append(blocks, pageText(l, lay)...)
	}
	fs := fontsFor(blocks)
	r := &renderer{page: newPDFPage(lay.page, fs), fs: fs, trace: trace}

	r.fill("band", lay.band)
	for _, rule := range lay.rules {
		r.fill("rule", rule)
	}
	if lay.instructions.W > 0 {
		r.cutLine(lay.label)
	}
	for _, b := range blocks {
		r.block(b)
	}
	r.barcode("track", track, trackAt)
	r.barcode("rma", rma, rmaAt)
	r.barcode("qr", qrm, qrAt)
	return r.page, nil
}

func code128At(content string, box rect, maxDots int, field string) (*matrix, placement, error) {
	m, err := encode128(content)
	if err != nil {
		return nil, placement{}, &FieldError{Field: field, Reason: "cannot be encoded as Code 128: " + err.Error()}
	}
	p, err := place1D(m, box, maxDots)
	if err != nil {
		return nil, placement{}, &FieldError{Field: field, Reason: "too long for the label: " + err.Error()}
	}
	return m, p, nil
}

// block is one text block: spans fitted into a layout box.
type block struct {
	name   string // the layout box, for the test hook
	box    rect
	align  align
	middle bool  // centre the lines vertically in the box
	gray   uint8 // text colour, 0 black to 255 white
	spans  []span
}

// labelText returns the text of the 4x6 label.
func labelText(l Label, lay labelLayout) []block {
	parcel, parcels := l.parcels()
	merchant := clean(l.MerchantName)
	returnTo := ""
	if merchant != "" {
		returnTo = "Return to " + merchant
	}
	if t := clean(l.Text.ReturnTo); t != "" {
		returnTo = t
	}
	scan := "Scan to track your return"
	if t := clean(l.Text.ScanToTrack); t != "" {
		scan = t
	}
	items := ""
	switch {
	case l.ItemCount == 1:
		items = "1 item"
	case l.ItemCount > 1:
		items = strconv.Itoa(l.ItemCount) + " items"
	}
	return []block{
		{name: "carrier", box: lay.carrier, spans: []span{
			{text: clean(l.Carrier), bold: true, size: 15, min: 9},
			{text: clean(l.Service), size: 8.5, min: 6},
			{text: returnTo, size: 7.5, min: 6},
		}},
		{name: "parcel", box: lay.parcel, align: alignRight, spans: []span{
			{text: "PARCEL", bold: true, size: 6.5, min: 6},
			{text: strconv.Itoa(parcel) + " of " + strconv.Itoa(parcels), bold: true, size: 16, min: 9},
			{text: items, size: 8, min: 6},
		}},
		// White on the black band (see render).
		{name: "band", box: lay.band.inset(0.4), align: alignCenter, middle: true, gray: 255, spans: []span{
			{text: "POSTAGE PAID — RETURN", bold: true, size: 12, min: 8},
		}},
		{name: "from", box: lay.from, spans: addressSpans("FROM", l.From, 6.5, 9, 8, 6, false)},
		{name: "dates", box: lay.dates, spans: []span{
			{text: "VALID UNTIL", bold: true, size: 6.5, min: 6},
			{text: l.ValidUntil.Format(time.DateOnly), bold: true, size: 12, min: 8},
			{text: "ISSUED", bold: true, size: 6.5, min: 6, gap: 1},
			{text: l.IssuedAt.Format(time.DateOnly), size: 8, min: 6},
		}},
		{name: "to", box: lay.to, spans: addressSpans("TO", l.To, 7, 15, 12, 8, true)},
		{name: "trackCaption", box: lay.trackCaption, spans: []span{
			{text: "TRACKING NUMBER", bold: true, size: 6.5, min: 5},
		}},
		{name: "trackText", box: lay.trackText, align: alignCenter, spans: []span{
			{text: humanTracking(l.TrackingNumber), bold: true, size: 12, min: 7},
		}},
		{name: "rmaCaption", box: lay.rmaCaption, spans: []span{
			{text: "RETURN NUMBER (RMA)", bold: true, size: 6.5, min: 5},
		}},
		{name: "rmaText", box: lay.rmaText, align: alignCenter, spans: []span{
			{text: l.RMA, bold: true, size: 10, min: 6},
		}},
		{name: "qrCaption", box: lay.qrCaption, align: alignCenter, spans: []span{
			{text: scan, size: 6, min: 4.5},
		}},
	}
}

// addressSpans returns the spans of an address block: a caption, the name
// (bold, wrapping to two lines), company, street lines, the city line(s)
// as the country writes them, and the country code.
func addressSpans(caption string, a Address, capSize, nameSize, size, minSize float64, boldAll bool) []span {
	spans := []span{
		{text: caption, bold: true, size: capSize, min: capSize},
		{text: clean(a.Name), bold: true, size: nameSize, min: minSize + 1, maxLines: 2},
		{text: clean(a.Company), bold: boldAll, size: size + 0.5, min: minSize, maxLines: 2},
		{text: clean(a.Line1), size: size, min: minSize, maxLines: 2},
		{text: clean(a.Line2), size: size, min: minSize, maxLines: 2},
	}
	for _, t := range cityLines(a) {
		spans = append(spans, span{text: t, bold: boldAll, size: size, min: minSize})
	}
	return append(spans, span{text: clean(strings.ToUpper(a.Country)), bold: boldAll, size: size, min: minSize})
}

// cityLines formats city, region and postal code the way the address's
// country writes them: "City, Region 12345" (US, CA, AU), the postcode on
// its own line (GB, IE), else "12345 City" then the region.
func cityLines(a Address) []string {
	city, region, pc := clean(a.City), clean(a.Region), clean(a.PostalCode)
	join := func(parts ...string) string {
		var nonEmpty []string
		for _, p := range parts {
			if p != "" {
				nonEmpty = append(nonEmpty, p)
			}
		}
		return strings.Join(nonEmpty, " ")
	}
	switch strings.ToUpper(strings.TrimSpace(a.Country)) {
	case "US", "CA", "AU":
		if city != "" && (region != "" || pc != "") {
			city += ","
		}
		return []string{join(city, region, pc)}
	case "GB", "IE":
		return []string{city, region, pc}
	default:
		return []string{join(pc, city), region}
	}
}

// pageText returns the text around the label on the Letter and A4 formats:
// the cut line's caption and the instructions.
func pageText(l Label, lay labelLayout) []block {
	carrier := clean(l.Carrier)
	if carrier == "" {
		carrier = "carrier"
	}
	parcel, parcels := l.parcels()
	steps := []string{
		"Pack the items securely, in their original packaging if you still have it, with all accessories and tags.",
		"Cut out the label along the dashed line and attach this label flat on the largest side of the parcel with clear tape. Cover or remove any old labels and barcodes.",
		fmt.Sprintf("Drop off the parcel at any %s drop-off point on or before %s. Keep the receipt until your refund arrives.",
			carrier, l.ValidUntil.Format(time.DateOnly)),
	}
	if parcels > 1 {
		steps = append(steps, fmt.Sprintf("This return has %d parcels and this is the label for parcel %d of %d: give each parcel its own label.",
			parcels, parcel, parcels))
	}
	steps = append(steps, "Follow your return at "+l.StatusURL+" or scan the QR code on the label.")

	title := "How to send your return"
	if m := clean(l.MerchantName); m != "" {
		title = "How to send your return to " + m
	}
	if t := clean(l.Text.Title); t != "" {
		title = t
	}
	if len(l.Text.Steps) > 0 {
		steps = steps[:0]
		for _, st := range l.Text.Steps {
			steps = append(steps, clean(st))
		}
	}
	cut := "Cut along the dashed line"
	if t := clean(l.Text.CutCaption); t != "" {
		cut = t
	}
	spans := []span{{text: title, bold: true, size: 14, min: 10}}
	for i, s := range steps {
		spans = append(spans, span{text: strconv.Itoa(i+1) + ". " + s, size: 10.5, min: 8, maxLines: 4, gap: 2, wrapFirst: true})
	}
	return []block{
		{name: "cutCaption", box: lay.cutCaption, align: alignCenter, middle: true, gray: 110, spans: []span{
			{text: cut, size: 8, min: 6},
		}},
		{name: "instructions", box: lay.instructions, spans: spans},
	}
}

// cutLine draws the dashed line to cut the label out along.
func (r *renderer) cutLine(label rect) {
	r.page.strokeDashed(label, 0.3, 110, 3, 2)
}

// block fits b's spans into its box and draws them.
func (r *renderer) block(b block) {
	r.page.setFill(b.gray)
	for _, ln := range fitBlock(r.fs, b.box, b.spans, b.align, b.middle) {
		r.text(b.name, ln)
	}
}

func (r *renderer) text(box string, ln line) {
	// Explicit float64 conversions keep the compiler from fusing
	// multiply-adds (as it may on arm64), so every platform computes the
	// same coordinates and the PDF bytes match the golden files.
	em := ln.size * ptToMM
	glyphs := float64((r.fs.ascent + r.fs.descent) * em)
	baseline := ln.y + (ln.h()-glyphs)/2 + float64(r.fs.ascent*em)
	r.page.text(ln.x, baseline, ln.bold, ln.size, ln.text)
	if r.trace != nil {
		r.trace(drawn{kind: drawText, box: box, r: rect{ln.x, ln.y, ln.w, ln.h()}, text: ln.text, fs: r.fs})
	}
}

func (r *renderer) fill(name string, rc rect) {
	r.page.fillRect(rc)
	if r.trace != nil {
		r.trace(drawn{kind: drawFill, box: name, r: rc})
	}
}

// barcode draws m at p: the rectangles of m.rects, filled black as one
// path. The path is written in module coordinates, with a transformation
// (cm) that maps modules onto the page, so that each rectangle is four
// small integers. As rectangles of their own each would be four formatted
// floats in points: for the hundreds of rectangles of a QR code that was
// more than twice the bytes (the longest status URL made a Letter label
// 40.4 KB) and a good part of the render time.
func (r *renderer) barcode(name string, m *matrix, p placement) {
	// float64(a*b) + c: no fused multiply-add, the same bytes everywhere.
	x0 := p.outer.X + float64(float64(m.quiet)*p.module)
	y0 := p.outer.Y
	if m.h > 1 {
		y0 += float64(float64(m.quiet) * p.module)
	}
	k, pageH := ptPerMM, r.page.h
	// PDF space is in points from the bottom left: module (x, y) is at
	// x0 + x*module mm from the left and y0 + y*rowH mm from the top.
	b := make([]byte, 0, 1024)
	b = append(b, "q 0 g "...)
	for _, v := range []float64{p.module * k, 0, 0, -p.rowH * k, x0 * k, (pageH - y0) * k} {
		b = strconv.AppendFloat(b, v, 'f', 5, 64)
		b = append(b, ' ')
	}
	b = append(b, "cm\n"...)
	m.rects(func(x, y, w, h int) {
		for _, v := range []int{x, y, w, h} {
			b = strconv.AppendInt(b, int64(v), 10)
			b = append(b, ' ')
		}
		b = append(b, "re\n"...)
	})
	b = append(b, "f Q"...)
	r.page.raw(b)
	if r.trace != nil {
		r.trace(drawn{kind: drawBarcode, box: name, r: p.outer, text: m.content, dots: p.dots})
	}
}
