package labels

import (
	"bytes"
	"fmt"
	"testing"
)

// TestRenderedLabelsRenderEachLabelOnce: a label fetched again is the bytes rendered
// the first time; anything printed that changes renders it again; the cache keeps
// only the labels used last.
func TestRenderedLabelsRenderEachLabelOnce(t *testing.T) {
	t.Parallel()
	c := newRenderedLabels()
	l := sample(Format4x6)
	first, err := c.pdf(l)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := Render(&want, l); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, want.Bytes()) {
		t.Fatal("the cached label differs from the label rendered")
	}
	again, err := c.pdf(l)
	if err != nil || &again[0] != &first[0] {
		t.Errorf("the label fetched again was rendered again (%v), want the first rendering", err)
	}
	moved := l
	moved.To.Line1 = "1 New Street"
	other, err := c.pdf(moved)
	if err != nil || bytes.Equal(other, first) {
		t.Errorf("a label with another address came from the cache (%v), want it rendered", err)
	}
	// Labels in core fonts, then in embedded fonts (four times the bytes):
	// the cache keeps as many as its bytes allow, fewer of the larger.
	for _, tc := range []struct {
		name string
		edit func(*Label)
	}{{"core fonts", func(*Label) {}}, {"embedded fonts", func(x *Label) { x.From = polish(Format4x6).From }}} {
		for i := range renderedCacheBytes / 4000 {
			x := l
			x.RMA = fmt.Sprintf("R-%04d", i)
			tc.edit(&x)
			if _, err := c.pdf(x); err != nil {
				t.Fatal(err)
			}
		}
		sum := 0
		for e := c.order.Front(); e != nil; e = e.Next() {
			sum += len(e.Value.(*renderedLabel).pdf)
		}
		if sum != c.bytes || sum > renderedCacheBytes || sum < renderedCacheBytes-maxLabelBytes {
			t.Errorf("%s: the cache holds %d labels of %d bytes (counted %d), want as many as %d bytes hold",
				tc.name, c.order.Len(), sum, c.bytes, renderedCacheBytes)
		}
	}
	if late, err := c.pdf(l); err != nil || &late[0] == &first[0] || !bytes.Equal(late, first) {
		t.Errorf("the label used longest ago: %v, want it rendered again, to the same bytes", err)
	}
}

// BenchmarkRenderedLabelFetchedAgain is what a repeat fetch of a label costs from the
// cache (hashing what is printed), next to BenchmarkRender's cost of rendering it.
func BenchmarkRenderedLabelFetchedAgain(b *testing.B) {
	c := newRenderedLabels()
	l := sample(Format4x6)
	if _, err := c.pdf(l); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.pdf(l); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQRCodesAreMadeOncePerContent: a label's QR code, the same on each of its
// formats, is encoded once and then shared; it is the code encodeQR makes, and the
// kept codes stay bounded.
func TestQRCodesAreMadeOncePerContent(t *testing.T) {
	url := "https://returns.example.com/portal/northwind/returns/R-QRQR-0001"
	first, err := qrOf(url)
	if err != nil {
		t.Fatal(err)
	}
	again, err := qrOf(url)
	if err != nil || again != first {
		t.Errorf("the same content was encoded again (%v), want the code made first", err)
	}
	fresh, err := encodeQR(url)
	if err != nil || fresh.w != first.w || fresh.h != first.h || fmt.Sprint(fresh.dark) != fmt.Sprint(first.dark) {
		t.Errorf("the kept code differs from a fresh one (%v)", err)
	}
	for i := range qrCodesMax + 10 {
		if _, err := qrOf(fmt.Sprintf("%s-%d", url, i)); err != nil {
			t.Fatal(err)
		}
	}
	qrCodes.Lock()
	n := len(qrCodes.m)
	qrCodes.Unlock()
	if n > qrCodesMax {
		t.Errorf("%d codes kept, want at most %d", n, qrCodesMax)
	}
}
