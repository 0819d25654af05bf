package labels

import (
	"bytes"
	"testing"
)

// BenchmarkRender renders the sample label in each format and reports
// labels per second (one core with -cpu 1) and the PDF size.
func BenchmarkRender(b *testing.B) {
	for _, f := range formats {
		b.Run(string(f), func(b *testing.B) {
			l := sample(f)
			var buf bytes.Buffer
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				buf.Reset()
				if err := Render(&buf, l); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(buf.Len()), "bytes/label")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "labels/s")
		})
	}
}
