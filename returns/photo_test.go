package returns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 120, 255})
		}
	}
	return img
}

// withEXIF puts an APP1 EXIF segment holding marker right after a JPEG's SOI.
func withEXIF(t *testing.T, jpg []byte, marker string) []byte {
	t.Helper()
	payload := append([]byte("Exif\x00\x00"), []byte(marker)...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// withText puts a tEXt chunk holding marker after a PNG's IHDR (the CRC is not
// checked by the decoder for ancillary chunks, but it is written right anyway).
func withText(t *testing.T, p []byte, marker string) []byte {
	t.Helper()
	data := append([]byte("Comment\x00"), []byte(marker)...)
	var chunk bytes.Buffer
	binary.Write(&chunk, binary.BigEndian, uint32(len(data)))
	body := append([]byte("tEXt"), data...)
	chunk.Write(body)
	binary.Write(&chunk, binary.BigEndian, crc32IEEE(body))
	ihdrEnd := 8 + 8 + 13 + 4
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, chunk.Bytes()...)
	return append(out, p[ihdrEnd:]...)
}

func TestPreparePhotoStripsMetadata(t *testing.T) {
	var j, p bytes.Buffer
	if err := jpeg.Encode(&j, testImage(64, 48), nil); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&p, testImage(30, 20)); err != nil {
		t.Fatal(err)
	}
	const marker = "GPS 51.5072N 0.1276W Pixel 9"
	for _, tc := range []struct {
		name, ct string
		in       []byte
		w, h     int
	}{
		{"jpeg", "image/jpeg", withEXIF(t, j.Bytes(), marker), 64, 48},
		{"png", "image/png", withText(t, p.Bytes(), marker), 30, 20},
	} {
		if !bytes.Contains(tc.in, []byte(marker)) {
			t.Fatalf("%s: the test file lacks its metadata", tc.name)
		}
		if _, _, err := image.Decode(bytes.NewReader(tc.in)); err != nil {
			t.Fatalf("%s: the test file does not decode: %v", tc.name, err)
		}
		got, err := PreparePhoto("l1", tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if bytes.Contains(got.Data, []byte(marker)) || bytes.Contains(got.Data, []byte("Exif")) {
			t.Errorf("%s: the stored photo keeps the metadata", tc.name)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(got.Data))
		if err != nil || "image/"+format != tc.ct || cfg.Width != tc.w || cfg.Height != tc.h || got.ContentType != tc.ct ||
			got.Width != tc.w || got.Height != tc.h || got.LineID != "l1" {
			t.Errorf("%s: got %s %dx%d (%v), stored as %s %dx%d; want %s %dx%d", tc.name, format, cfg.Width, cfg.Height, err,
				got.ContentType, got.Width, got.Height, tc.ct, tc.w, tc.h)
		}
	}
}

func TestPreparePhotoRefuses(t *testing.T) {
	heic := append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	// a PNG header that claims 20000 × 20000 pixels
	var p bytes.Buffer
	png.Encode(&p, testImage(2, 2))
	huge := append([]byte{}, p.Bytes()...)
	binary.BigEndian.PutUint32(huge[16:], 20000)
	binary.BigEndian.PutUint32(huge[20:], 20000)
	binary.BigEndian.PutUint32(huge[29:], crc32IEEE(huge[12:29]))
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"heic", heic, ErrPhotoHEIC},
		{"over 8 MB", make([]byte, MaxPhotoBytes+1), ErrPhotoTooLarge},
		{"400 megapixels", huge, ErrPhotoTooLarge},
		{"gif", gif, ErrPhotoFormat},
		{"text", []byte("not a photo at all"), ErrPhotoFormat},
		{"truncated jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16}, ErrPhotoFormat},
	} {
		if _, err := PreparePhoto("l1", tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
