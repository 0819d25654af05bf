package labels

// All lengths are in millimetres from the page's top-left corner.

const (
	labelW = 101.6 // 4 in
	labelH = 152.4 // 6 in
	margin = 3.0   // inside the label

	// dot is one dot of a 203 dpi thermal printer. Barcode modules are whole
	// dots and start on the dot grid, so that the printer reproduces every
	// bar at the same width.
	dot = 25.4 / 203
)

type rect struct{ X, Y, W, H float64 }

func (r rect) right() float64  { return r.X + r.W }
func (r rect) bottom() float64 { return r.Y + r.H }

// contains reports whether o lies inside r, allowing eps for rounding.
func (r rect) contains(o rect, eps float64) bool {
	return o.X >= r.X-eps && o.Y >= r.Y-eps && o.right() <= r.right()+eps && o.bottom() <= r.bottom()+eps
}

// intersects reports whether r and o share any area.
func (r rect) intersects(o rect) bool {
	return r.X < o.right() && o.X < r.right() && r.Y < o.bottom() && o.Y < r.bottom()
}

func (r rect) inset(d float64) rect { return rect{r.X + d, r.Y + d, r.W - 2*d, r.H - 2*d} }

// labelLayout is the fixed set of boxes of one Format. Text is fitted into
// its text box and never leaves it; barcodes, including their quiet zones,
// are drawn inside their barcode boxes; no text box or rule touches a
// barcode box.
type labelLayout struct {
	page  rect
	label rect // the 4x6 label; on page formats it is surrounded by a cut line

	// Text boxes.
	carrier      rect // carrier, service, "Return to <merchant>"
	parcel       rect // parcel n of m, item count
	band         rect // black band with "POSTAGE PAID — RETURN" (text box inside it)
	from         rect
	dates        rect // valid until, issued
	to           rect
	trackCaption rect
	trackText    rect
	rmaCaption   rect
	rmaText      rect
	qrCaption    rect
	cutCaption   rect // page formats only
	instructions rect // page formats only

	// Barcode boxes.
	track rect // Code 128 tracking number
	rma   rect // Code 128 RMA
	qr    rect // QR status URL

	rules []rect // filled separators
}

// namedBox is a layout box with its name and whether it holds a barcode.
type namedBox struct {
	name    string
	r       rect
	barcode bool
}

// boxes lists every box of l that is in use.
func (l labelLayout) boxes() []namedBox {
	all := []namedBox{
		{"carrier", l.carrier, false},
		{"parcel", l.parcel, false},
		{"band", l.band, false},
		{"from", l.from, false},
		{"dates", l.dates, false},
		{"to", l.to, false},
		{"trackCaption", l.trackCaption, false},
		{"trackText", l.trackText, false},
		{"rmaCaption", l.rmaCaption, false},
		{"rmaText", l.rmaText, false},
		{"qrCaption", l.qrCaption, false},
		{"cutCaption", l.cutCaption, false},
		{"instructions", l.instructions, false},
		{"track", l.track, true},
		{"rma", l.rma, true},
		{"qr", l.qr, true},
	}
	out := all[:0]
	for _, b := range all {
		if b.r.W > 0 && b.r.H > 0 {
			out = append(out, b)
		}
	}
	return out
}

// layout returns the boxes for format f (which must be valid; "" is 4x6).
func layout(f Format) labelLayout {
	var l labelLayout
	var ox, oy float64 // label origin on the page
	switch f {
	case FormatLetter, FormatA4:
		l.page = rect{0, 0, 215.9, 279.4}
		if f == FormatA4 {
			l.page = rect{0, 0, 210, 297}
		}
		ox, oy = (l.page.W-labelW)/2, 20
		l.cutCaption = rect{ox, oy - 6, labelW, 4.5}
		top := oy + labelH + 10
		l.instructions = rect{25, top, l.page.W - 50, l.page.H - 15 - top}
	default:
		l.page = rect{0, 0, labelW, labelH}
	}
	l.label = rect{ox, oy, labelW, labelH}
	at := func(x, y, w, h float64) rect { return rect{ox + x, oy + y, w, h} }
	const inner = labelW - 2*margin // 95.6

	l.carrier = at(margin, 3, 61, 13)
	l.parcel = at(66, 3, inner+margin-66, 13)
	l.band = at(margin, 17, inner, 6.5)

	l.from = at(margin, 24.5, 61, 23.5)
	l.dates = at(67.5, 24.5, inner+margin-67.5, 23.5)
	l.rules = append(l.rules, at(65.5, 24.5, 0.3, 23.5))

	l.rules = append(l.rules, at(margin, 49, inner, 0.6))
	l.to = at(margin, 50.6, inner, 35.4)

	l.rules = append(l.rules, at(margin, 87, inner, 0.6))
	l.trackCaption = at(margin, 88.6, inner, 3)
	l.track = at(margin, 92, inner, 22)
	l.trackText = at(margin, 114.4, inner, 5.6)

	l.rules = append(l.rules, at(margin, 121, inner, 0.6))
	const rmaW = 66.4
	l.rmaCaption = at(margin, 122.6, rmaW, 3)
	l.rma = at(margin, 126, rmaW, 16)
	l.rmaText = at(margin, 142.4, rmaW, 5)
	qrX := margin + rmaW + 1
	l.qr = at(qrX, 122.6, inner+margin-qrX, 24)
	l.qrCaption = at(qrX, 146.6, inner+margin-qrX, 2.8)
	return l
}
