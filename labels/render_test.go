package labels

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/labelscan"
)

var update = flag.Bool("update", false, "rewrite the golden label PDFs in testdata")

var formats = []Format{Format4x6, FormatLetter, FormatA4}

// maxLabelBytes bounds a label PDF: one is served or stored for every
// parcel.
const maxLabelBytes = 40_000

// sample is a plain, valid label.
func sample(f Format) Label {
	return Label{
		Format:         f,
		Carrier:        "Acme Courier",
		Service:        "Standard return · 2–4 days",
		TrackingNumber: "RR123456785GB",
		RMA:            "R-7KQ4-M2XD",
		StatusURL:      "https://returns.example.com/r/R-7KQ4-M2XD",
		From: Address{
			Name: "Zoë Ångström-Müller", Line1: "12 Rue de la Paix", Line2: "Apt 4B",
			City: "Paris", PostalCode: "75002", Country: "FR",
		},
		To: Address{
			Name: "Returns Department", Company: "Northwind Outfitters Ltd",
			Line1: "Unit 7, Meridian Trading Estate", Line2: "Bugsby's Way",
			City: "London", PostalCode: "SE10 0QJ", Country: "GB",
		},
		Parcel:       1,
		Parcels:      2,
		ItemCount:    3,
		IssuedAt:     time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC),
		ValidUntil:   time.Date(2026, 12, 22, 0, 0, 0, 0, time.UTC),
		MerchantName: "Northwind Outfitters",
	}
}

func renderBytes(t testing.TB, l Label) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, l); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return buf.Bytes()
}

// TestRenderGolden renders each format, and a label that needs the
// embedded fonts, twice and compares the bytes with each other and with
// testdata/label-<name>.pdf (go test -run Golden -update rewrites them). The
// golden files were written by another process, so map order or the clock
// leaking into the PDF shows up here.
func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name  string
		label Label
	}{
		{"4x6", sample(Format4x6)},
		{"letter", sample(FormatLetter)},
		{"a4", sample(FormatA4)},
		{"4x6-embedded-fonts", polish(Format4x6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := renderBytes(t, tc.label)
			if again := renderBytes(t, tc.label); !bytes.Equal(got, again) {
				t.Fatalf("two renders of the same label differ (%d and %d bytes)", len(got), len(again))
			}
			golden := filepath.Join("testdata", "label-"+tc.name+".pdf")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./labels -run Golden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("render differs from %s (%d bytes, want %d); if the change is intended, rerun with -update and look at the PDF",
					golden, len(got), len(want))
			}
		})
	}
}

// TestRenderDatesFromIssuedAt checks that the PDF is dated by IssuedAt, not
// by the clock.
func TestRenderDatesFromIssuedAt(t *testing.T) {
	pdf := renderBytes(t, sample(Format4x6))
	for _, want := range []string{"/CreationDate (D:20261122103000Z)", "/ModDate (D:20261122103000Z)"} {
		if !bytes.Contains(pdf, []byte(want)) {
			t.Errorf("PDF lacks %s", want)
		}
	}
}

// hostile are labels whose free text is as awkward as shoppers and shops
// make it. Every one must render, scan, keep its text in its boxes and stay
// under maxLabelBytes.
var hostile = []struct {
	name string
	edit func(l *Label)
}{
	{"plain", func(l *Label) {}},
	{"accented latin", func(l *Label) {
		l.From.Name = "Zoë Ångström-Müller"
		l.From.Line1 = "Øvre Slottsgate 5, Ærø"
		l.To.Company = "Société Générale des Façades SàRL"
	}},
	{"polish", func(l *Label) {
		l.From = Address{Name: "Łukasz Żółć", Line1: "ul. Świętokrzyska 12 m. 4", City: "Łódź", PostalCode: "90-001", Country: "PL"}
	}},
	{"greek", func(l *Label) {
		l.From = Address{Name: "Αλέξανδρος Παπαδόπουλος", Line1: "Οδός Ερμού 25", City: "Αθήνα", PostalCode: "105 63", Country: "GR"}
	}},
	{"cyrillic", func(l *Label) {
		l.From = Address{Name: "Дмитрий Шостакович", Line1: "ул. Тверская, д. 7, кв. 12", City: "Москва", PostalCode: "125009", Country: "RU"}
		l.Carrier = "Почта"
	}},
	{"cjk", func(l *Label) {
		l.From = Address{Name: "山田太郎", Line1: "東京都千代田区丸の内1-1", City: "東京都", PostalCode: "100-0005", Country: "JP"}
		l.To.Company = "株式会社ノースウィンド"
	}},
	{"right to left", func(l *Label) {
		l.From = Address{Name: "דוד לוי", Company: "محمد عبد الله", Line1: "רחוב הרצל 10", City: "تل أبيب", Country: "IL"}
	}},
	{"emoji", func(l *Label) {
		l.From.Name = "Zoë 🎉👩‍👩‍👧 Müller ❤️"
		l.From.Line1 = "📦 Unit 5 🏠"
		l.MerchantName = "Shop 🛍️"
	}},
	{"200-character text", func(l *Label) {
		long := strings.Repeat("Bartholomew-Fitzgerald ", 9)[:200]
		l.From = Address{Name: long, Company: long, Line1: long, Line2: long, City: long, Region: long, PostalCode: long, Country: long}
		l.To = l.From
		l.To.Country = "US"
		l.Carrier, l.Service, l.MerchantName = long, long, long
	}},
	{"200 characters without spaces", func(l *Label) {
		long := strings.Repeat("W", 200)
		l.From = Address{Name: long, Line1: long, Line2: long, City: long, PostalCode: long, Country: "GB"}
		l.To = l.From
		l.Carrier, l.Service, l.MerchantName = long, long, long
	}},
	{"empty address lines", func(l *Label) {
		l.From = Address{Name: "Ann Lee"}
		l.To = Address{Company: "Northwind", Line1: "1 Dock Road"}
		l.Carrier, l.Service, l.MerchantName = "", "", ""
		l.ItemCount = 0
	}},
	{"blank shopper", func(l *Label) {
		l.From = Address{Name: " \t ", Line1: "\n", Line2: "   ", City: "\u00a0"}
	}},
	{"control characters", func(l *Label) {
		l.From.Name = "Zoë\x00Müller\tand\nfriends\r\x7f\u0085"
		l.From.Line1 = "\u202eniaM 21\u202c 12 Main\u200b Street\ufeff"
		l.To.Company = "North\x1bwind\x07 Ltd"
		l.Carrier = "Acme\x00Courier"
	}},
	{"invalid UTF-8", func(l *Label) {
		l.From.Name = "Zo\xc3 \xff\xfe Müller"
		l.To.Line1 = "\xed\xa0\x80 surrogate"
	}},
	{"many parcels and items", func(l *Label) {
		l.Parcel, l.Parcels, l.ItemCount = 999, 999, 99999
	}},
	{"UPS-style tracking number", func(l *Label) { l.TrackingNumber = "1Z999AA10123456784" }},
	{"USPS-style tracking number", func(l *Label) { l.TrackingNumber = "9400111899223100000000" }},
	{"longest codes", func(l *Label) {
		l.TrackingNumber = strings.Repeat("Ab", maxTrackingLen/2)
		l.RMA = strings.Repeat("R-", maxRMALen/2)
		l.StatusURL = "https://returns.example.com/status?token=" + strings.Repeat("x", maxStatusURLLen-41)
	}},
}

// hostileLabel is a hostile case in one format.
type hostileLabel struct {
	name  string
	label Label
}

// hostileLabels returns every hostile case in every format.
func hostileLabels() []hostileLabel {
	var all []hostileLabel
	for _, tc := range hostile {
		for _, f := range formats {
			l := sample(f)
			tc.edit(&l)
			all = append(all, hostileLabel{tc.name + "/" + string(f), l})
		}
	}
	return all
}

// forEachHostile runs test on every hostile label, in parallel.
func forEachHostile(t *testing.T, test func(t *testing.T, l Label)) {
	for _, h := range hostileLabels() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			test(t, h.label)
		})
	}
}

func TestRenderHostileInputScans(t *testing.T) {
	requireTools(t)
	forEachHostile(t, func(t *testing.T, l Label) {
		var items []drawn
		var buf bytes.Buffer
		if err := render(&buf, l, func(d drawn) { items = append(items, d) }); err != nil {
			t.Fatalf("render: %v", err)
		}
		checkDrawn(t, layout(l.Format), items)
		if n := buf.Len(); n > maxLabelBytes {
			t.Errorf("%d bytes, want at most %d", n, maxLabelBytes)
		}
		got := scan(t, buf.Bytes())
		want := []string{l.TrackingNumber, l.RMA, l.StatusURL}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("scanned %q, want exactly %q", got, want)
		}
	})
}

// checkDrawn asserts what the test hook saw: every text line inside its
// text box, every barcode inside its barcode box with whole-dot modules of
// at least 2 dots on the dot grid, and nothing but its barcode touching a
// barcode box.
func checkDrawn(t *testing.T, lay labelLayout, items []drawn) {
	t.Helper()
	const eps = 1e-6
	boxes := map[string]namedBox{}
	var barcodes []namedBox
	for _, b := range lay.boxes() {
		boxes[b.name] = b
		if b.barcode {
			barcodes = append(barcodes, b)
		}
	}
	var seen []string
	for _, d := range items {
		switch d.kind {
		case drawText:
			b, ok := boxes[d.box]
			if !ok || b.barcode {
				t.Errorf("text %q drawn into %q, not a text box", d.text, d.box)
				continue
			}
			if !b.r.contains(d.r, eps) {
				t.Errorf("text %q at %+v leaves its box %s %+v", d.text, d.r, d.box, b.r)
			}
			for _, r := range d.text {
				if !d.fs.printable(r) {
					t.Errorf("text %q drawn with %U, which %s lacks", d.text, r, d.fs.family)
				}
			}
		case drawBarcode:
			seen = append(seen, d.box)
			b, ok := boxes[d.box]
			if !ok || !b.barcode {
				t.Errorf("barcode %q drawn into %q, not a barcode box", d.text, d.box)
				continue
			}
			if !b.r.contains(d.r, eps) {
				t.Errorf("barcode %q at %+v leaves its box %+v", d.text, d.r, b.r)
			}
			if d.dots < minDots {
				t.Errorf("barcode %q has %d-dot modules, want at least %d", d.text, d.dots, minDots)
			}
			for _, v := range []float64{d.r.X, d.r.Y} {
				if off := math.Abs(v/dot - math.Round(v/dot)); off > 1e-6 {
					t.Errorf("barcode %q starts %.4f dots off the 203 dpi grid", d.text, off)
				}
			}
		case drawFill:
			if !lay.label.contains(d.r, eps) {
				t.Errorf("%s fill %+v leaves the label", d.box, d.r)
			}
		}
		if d.kind != drawBarcode {
			for _, bc := range barcodes {
				if d.r.intersects(bc.r) {
					t.Errorf("%s %q at %+v overlaps barcode box %s %+v", d.box, d.text, d.r, bc.name, bc.r)
				}
			}
		}
	}
	slices.Sort(seen)
	if want := []string{"qr", "rma", "track"}; !slices.Equal(seen, want) {
		t.Errorf("barcodes drawn: %v, want %v", seen, want)
	}
}

// TestLayoutBoxes checks the fixed boxes of every format: inside the label
// (page text inside the page, outside the label), no two boxes or a rule
// and a box overlapping.
func TestLayoutBoxes(t *testing.T) {
	for _, f := range formats {
		lay := layout(f)
		all := lay.boxes()
		for i, a := range all {
			onPage := a.name == "cutCaption" || a.name == "instructions"
			switch {
			case onPage && (!lay.page.contains(a.r, 0) || a.r.intersects(lay.label)):
				t.Errorf("%s: %s %+v not on the page outside the label", f, a.name, a.r)
			case !onPage && !lay.label.inset(margin).contains(a.r, 1e-9):
				t.Errorf("%s: %s %+v not inside the label's margins", f, a.name, a.r)
			}
			for _, b := range all[i+1:] {
				if a.r.intersects(b.r) {
					t.Errorf("%s: boxes %s %+v and %s %+v overlap", f, a.name, a.r, b.name, b.r)
				}
			}
			for _, r := range lay.rules {
				if a.r.intersects(r) {
					t.Errorf("%s: rule %+v crosses box %s %+v", f, r, a.name, a.r)
				}
			}
		}
	}
}

// TestBarcodeModules pins the module widths of the sample label: the
// tracking number at 4 dots (0.5 mm), the RMA at 3, the QR code at 5, and
// Code 128 quiet zones of at least 10 modules.
func TestBarcodeModules(t *testing.T) {
	var items []drawn
	if err := render(&bytes.Buffer{}, sample(Format4x6), func(d drawn) { items = append(items, d) }); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"track": 4, "rma": 3, "qr": 5}
	for _, d := range items {
		if d.kind != drawBarcode {
			continue
		}
		if d.dots != want[d.box] {
			t.Errorf("%s: %d dots per module, want %d", d.box, d.dots, want[d.box])
		}
		if d.box == "qr" {
			continue
		}
		m, err := encode128(d.text)
		if err != nil {
			t.Fatal(err)
		}
		if quiet := (d.r.W/(float64(d.dots)*dot) - float64(m.w)) / 2; quiet < 10-1e-6 {
			t.Errorf("%s: quiet zone of %.1f modules, want at least 10", d.box, quiet)
		}
	}
}

func TestRenderRejectsInvalidLabels(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(l *Label)
		field string
	}{
		{"empty tracking number", func(l *Label) { l.TrackingNumber = "" }, "TrackingNumber"},
		{"empty RMA", func(l *Label) { l.RMA = "" }, "RMA"},
		{"empty status URL", func(l *Label) { l.StatusURL = "" }, "StatusURL"},
		{"non-ASCII tracking number", func(l *Label) { l.TrackingNumber = "RR12345678€GB" }, "TrackingNumber"},
		{"control character in RMA", func(l *Label) { l.RMA = "R-7KQ4\x00M2XD" }, "RMA"},
		{"newline in tracking number", func(l *Label) { l.TrackingNumber = "RR123456785GB\n" }, "TrackingNumber"},
		{"padded RMA", func(l *Label) { l.RMA = " R-7KQ4-M2XD" }, "RMA"},
		{"tracking number too long", func(l *Label) { l.TrackingNumber = strings.Repeat("9", maxTrackingLen+1) }, "TrackingNumber"},
		{"RMA too long", func(l *Label) { l.RMA = strings.Repeat("R", maxRMALen+1) }, "RMA"},
		{"non-ASCII status URL", func(l *Label) { l.StatusURL = "https://example.com/rücksendung" }, "StatusURL"},
		{"space in status URL", func(l *Label) { l.StatusURL = "https://example.com/a b" }, "StatusURL"},
		{"status URL too long", func(l *Label) { l.StatusURL = "https://example.com/" + strings.Repeat("a", maxStatusURLLen) }, "StatusURL"},
		{"no recipient", func(l *Label) { l.To = Address{} }, "To"},
		{"recipient without street", func(l *Label) { l.To = Address{Name: "Returns"} }, "To"},
		{"recipient of control characters", func(l *Label) { l.To = Address{Name: "\x00\t", Line1: "\u202e"} }, "To"},
		{"parcel beyond parcels", func(l *Label) { l.Parcel, l.Parcels = 3, 2 }, "Parcel"},
		{"negative parcels", func(l *Label) { l.Parcels = -1 }, "Parcels"},
		{"negative items", func(l *Label) { l.ItemCount = -1 }, "ItemCount"},
		{"unknown format", func(l *Label) { l.Format = "A5" }, "Format"},
		{"no issue date", func(l *Label) { l.IssuedAt = time.Time{} }, "IssuedAt"},
		{"no last valid date", func(l *Label) { l.ValidUntil = time.Time{} }, "ValidUntil"},
		{"valid until before issue", func(l *Label) { l.ValidUntil = l.IssuedAt.AddDate(0, 0, -1) }, "ValidUntil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := sample(Format4x6)
			tc.edit(&l)
			var buf bytes.Buffer
			err := Render(&buf, l)
			if !errors.Is(err, ErrInvalidLabel) {
				t.Fatalf("got %v, want an error wrapping ErrInvalidLabel", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("got %v, want a *FieldError for %s", err, tc.field)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes on error, want none", buf.Len())
			}
		})
	}
}

func TestRenderZeroParcelsMeansOneOfOne(t *testing.T) {
	l := sample(Format4x6)
	l.Parcel, l.Parcels = 0, 0
	var texts []string
	if err := render(&bytes.Buffer{}, l, func(d drawn) { texts = append(texts, d.text) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(texts, "1 of 1") {
		t.Errorf("drew %q, want a line \"1 of 1\"", texts)
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Zoë Ångström-Müller", "Zoë Ångström-Müller"},
		{"Łukasz Żółć", "Łukasz Żółć"},
		{"Αθήνα", "Αθήνα"},
		{"Москва", "Москва"},
		{"東京都", "???"},
		{"דוד", "???"},
		{"محمد", "????"},
		{"Zoë 🎉", "Zoë ?"},
		{"❤️", "?"},                 // U+FE0F, a variation selector (a mark), goes with it
		{"👩‍👧", "??"},               // the zero-width joiner is removed
		{"Zoe\u0308", "Zoe"},        // a combining mark the fonts lack is dropped
		{"a\x00b\tc\nd", "a b c d"}, // controls become spaces
		{"  a \t\n b  ", "a b"},     // runs collapse, ends are trimmed
		{"\u202eevil\u202c", "evil"},
		{"soft\u00adhyphen", "softhyphen"},
		{"no\u00a0break", "no break"},
		{"bad \xff byte", "bad ? byte"},
		{"\ufffd", "?"},
		{"", ""},
		{"\x00\x01", ""},
		{strings.Repeat("a", maxTextRunes+5), strings.Repeat("a", maxTextRunes) + "…"},
	}
	for _, tc := range tests {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFitBlockShrinksWrapsAndCuts(t *testing.T) {
	box := rect{0, 0, 60, 20}
	long := strings.Repeat("Bartholomew ", 30)
	lines := fitBlock(goFonts(), box, []span{
		{text: "FROM", bold: true, size: 7, min: 7},
		{text: clean(long), bold: true, size: 12, min: 8, maxLines: 2},
		{text: "Short line", size: 10, min: 8},
	}, alignLeft, false)
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.text)
		if !box.contains(rect{l.x, l.y, l.w, l.h()}, 1e-9) {
			t.Errorf("line %q leaves the box", l.text)
		}
	}
	if len(lines) != 4 {
		t.Fatalf("got lines %q, want caption, two name lines, short line", texts)
	}
	if lines[1].size != 8 || lines[2].size != 8 {
		t.Errorf("long name drawn at %v and %v pt, want the 8 pt minimum", lines[1].size, lines[2].size)
	}
	if !strings.HasSuffix(lines[2].text, "…") {
		t.Errorf("second name line %q does not end in an ellipsis", lines[2].text)
	}
	if lines[3].size != 10 {
		t.Errorf("short line shrunk to %v pt, want 10", lines[3].size)
	}

	// A block too tall at its sizes steps every span down, as far as each
	// one's min, before it loses anything.
	spans := []span{{text: "TO", bold: true, size: 7, min: 7}, {text: "Name", bold: true, size: 15, min: 9}}
	for range 4 {
		spans = append(spans, span{text: "Line", size: 12, min: 8})
	}
	atMins := (7 + 9 + 4*8) * lineFactor * ptToMM
	got := fitBlock(goFonts(), rect{0, 0, 60, atMins + 0.01}, spans, alignLeft, false)
	if len(got) != 6 || got[1].size != 9 || got[5].size != 8 {
		t.Errorf("squeezed block: %d lines, name at %v pt, last at %v pt; want 6 lines at 9 and 8 pt", len(got), got[1].size, got[len(got)-1].size)
	}

	// A block taller than its box loses lines, never leaves the box.
	tiny := rect{0, 0, 30, 6}
	for _, l := range fitBlock(goFonts(), tiny, []span{
		{text: long, size: 12, min: 8, maxLines: 5},
		{text: long, size: 12, min: 8, maxLines: 5},
	}, alignLeft, false) {
		if !tiny.contains(rect{l.x, l.y, l.w, l.h()}, 1e-9) {
			t.Errorf("line %q leaves the tiny box", l.text)
		}
	}
}

func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pdftoppm", "zbarimg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install poppler-utils and zbar-tools (make test does this)", tool)
		}
	}
}

// scan returns the Code 128 and QR contents a scanner reads from pdf, sorted.
func scan(t *testing.T, pdf []byte) []string { t.Helper(); return labelscan.Scan(t, pdf) }
