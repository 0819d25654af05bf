package labels

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkRender renders the sample label in each format, and one whose
// shopper needs the embedded fonts (on a 4x6 label and on a Letter page
// with its instructions), and reports the PDF size, labels per
// second of wall time and labels per CPU second (see perCPUSecond). Each
// rendering is of another return (its status URL differs), so that its QR code
// is made anew, as for a label rendered for the first time.
func BenchmarkRender(b *testing.B) {
	tests := []struct {
		name  string
		label Label
	}{
		{"4x6", sample(Format4x6)},
		{"letter", sample(FormatLetter)},
		{"a4", sample(FormatA4)},
		{"4x6-embedded-fonts", polish(Format4x6)},
		{"letter-embedded-fonts", polish(FormatLetter)},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			perCPU := perCPUSecond(b, "labels/cpu-s")
			l, url := tc.label, tc.label.StatusURL
			n := 0
			for b.Loop() {
				n++
				// the URL's last four characters, as many digits: the same length
				l.StatusURL = url[:len(url)-4] + fmt.Sprintf("%04d", n%10000)
				buf.Reset()
				if err := Render(&buf, l); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes/label")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "labels/s")
			perCPU()
		})
	}
}

// BenchmarkEncode encodes the sample label's barcodes: the QR code's
// encoder (boombuler/barcode's, with its mask selection) is most of what
// a label in core fonts costs.
func BenchmarkEncode(b *testing.B) {
	l := sample(Format4x6)
	b.Run("qr", func(b *testing.B) {
		b.ReportAllocs()
		perCPU := perCPUSecond(b, "codes/cpu-s")
		for b.Loop() {
			if _, err := encodeQR(l.StatusURL); err != nil {
				b.Fatal(err)
			}
		}
		perCPU()
	})
	b.Run("code128", func(b *testing.B) {
		b.ReportAllocs()
		perCPU := perCPUSecond(b, "codes/cpu-s")
		for b.Loop() {
			if _, err := encode128(l.TrackingNumber); err != nil {
				b.Fatal(err)
			}
		}
		perCPU()
	})
}

// perCPUSecond starts counting the process's CPU time; the function it
// returns reports b.N per CPU second as unit: what one core does, however
// busy the machine is, where wall-clock rates on a shared machine say more
// about the neighbours. It reports nothing where the platform does not
// give the process's CPU time.
func perCPUSecond(b *testing.B, unit string) func() {
	cpu0, ok := processCPU()
	return func() {
		cpu1, _ := processCPU()
		if ok && cpu1 > cpu0 {
			b.ReportMetric(float64(b.N)/(cpu1-cpu0).Seconds(), unit)
		}
	}
}
