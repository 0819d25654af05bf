package labels

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// FormatZPL is a 4x6 inch label in ZPL II for Zebra (and compatible) thermal
// printers at 203 dpi.
const FormatZPL Format = "zpl"

// FormatQR is the drop-off QR code of a label: the carrier's own code (shown at
// the counter instead of a printed label) when the carrier gave one, else our QR
// code of the tracking number.
const FormatQR Format = "qr"

// RenderZPL writes l as a ZPL II label, 4x6 inch at 203 dpi (812 × 1218 dots): the
// same content as the PDF label (carrier, service, sender, returns address, the
// tracking number and RMA as Code 128 barcodes, the status page as a QR code).
// Free text is sent as UTF-8 (^CI28) with ZPL's control characters hex-escaped
// (^FH), so no field can inject a command. It checks l as Render does, and
// refuses barcode contents with ZPL's command characters (^ and ~).
func RenderZPL(w io.Writer, l Label) error {
	v := l
	v.Format = Format4x6
	if err := v.Validate(); err != nil {
		return err
	}
	for _, code := range []string{l.TrackingNumber, l.RMA, l.StatusURL} {
		if strings.ContainsAny(code, "^~") {
			return fmt.Errorf("%w: %q holds a ZPL command character", ErrInvalidLabel, code)
		}
	}
	var b strings.Builder
	field := func(x, y, h int, text string) {
		fmt.Fprintf(&b, "^FO%d,%d^A0N,%d,%d^FH^FD%s^FS\n", x, y, h, h, zplEscape(text))
	}
	block := func(x, y, h, lines int, text []string) {
		fmt.Fprintf(&b, "^FO%d,%d^A0N,%d,%d^FB730,%d,4,L^FH^FD%s^FS\n", x, y, h, h, lines, strings.Join(escapeAll(text), `\&`))
	}
	b.WriteString("^XA\n^CI28\n^PW812\n^LL1218\n^LH0,0\n")
	field(40, 40, 44, oneLine(l.Carrier))
	field(40, 92, 30, oneLine(l.Service))
	field(560, 40, 28, "PREPAID RETURN")
	block(40, 150, 24, 6, append([]string{"FROM"}, addressLines(l.From)...))
	to := l.To
	block(40, 330, 36, 6, append([]string{"RETURN TO"}, addressLines(to)...))
	b.WriteString("^FO40,585^GB732,4,4^FS\n")
	field(60, 610, 24, "TRACKING #")
	fmt.Fprintf(&b, "^FO60,645^BY3^BCN,190,Y,N,N^FD%s^FS\n", l.TrackingNumber)
	field(60, 890, 24, "RMA")
	fmt.Fprintf(&b, "^FO60,925^BY2^BCN,110,Y,N,N^FD%s^FS\n", l.RMA)
	fmt.Fprintf(&b, "^FO590,890^BQN,2,4^FDQA,%s^FS\n", l.StatusURL)
	parcel, parcels := l.Parcel, l.Parcels
	if parcel == 0 && parcels == 0 {
		parcel, parcels = 1, 1
	}
	foot := fmt.Sprintf("Parcel %d of %d", parcel, parcels)
	if !l.ValidUntil.IsZero() {
		foot += " · Send by " + l.ValidUntil.UTC().Format("2 Jan 2006")
	}
	field(40, 1150, 24, foot)
	b.WriteString("^XZ\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// zplEscape makes free text safe in a ^FH field: '_' (the ^FH escape), '^' and '~'
// (command prefixes) are hex-escaped; control characters become spaces.
func zplEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '_' || r == '^' || r == '~' || r == '\\':
			fmt.Fprintf(&b, "_%02X", r)
		case r < ' ' || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func escapeAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = zplEscape(oneLine(l))
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// addressLines is an address as printed, one line per part.
func addressLines(a Address) []string {
	var out []string
	for _, l := range []string{a.Name, a.Company, a.Line1, a.Line2} {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	city := strings.TrimSpace(strings.Join(strings.Fields(a.City+" "+a.Region+" "+a.PostalCode), " "))
	if city != "" {
		out = append(out, city)
	}
	if a.Country != "" {
		out = append(out, strings.ToUpper(a.Country))
	}
	return out
}

// TrackingQR draws our drop-off QR code: the tracking number, as a PNG of
// about 300 × 300 pixels, for counters that scan it to find the parcel.
func TrackingQR(tracking string) ([]byte, error) {
	code, err := qr.Encode(tracking, qr.M, qr.Auto)
	if err != nil {
		return nil, err
	}
	if code, err = barcode.Scale(code, 300, 300); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, code); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
