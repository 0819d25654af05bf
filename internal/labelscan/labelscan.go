// Package labelscan reads a label as a scanner would, for tests: it rasterises a PDF
// at a thermal printer's 203 dpi with pdftoppm and decodes its Code 128 and QR codes
// with zbarimg (poppler-utils and zbar-tools; make tools installs them). A barcode
// that does not scan fails the test that needed it.
package labelscan

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Scan returns the Code 128 and QR contents zbarimg reads from pdf, sorted; none is
// an empty slice (the caller's comparison reports it).
func Scan(t testing.TB, pdf []byte) []string {
	t.Helper()
	if _, err := exec.LookPath("zbarimg"); err != nil {
		t.Fatal("zbarimg not found: install zbar-tools (make test does this)")
	}
	img := rasterFile(t, pdf, 203)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("zbarimg", "--raw", "-q", "-Sdisable", "-Scode128.enable", "-Sqrcode.enable", img)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// zbarimg exits 4 when it finds nothing: the comparison reports that.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			t.Fatalf("zbarimg: %v\n%s", err, stderr.Bytes())
		}
	}
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(got) == 1 && got[0] == "" {
		got = nil
	}
	slices.Sort(got)
	return got
}

// Raster returns pdf's first page rasterised in gray at dpi, as a PGM image: two
// renderings that should look the same compare byte for byte.
func Raster(t testing.TB, pdf []byte, dpi int) []byte {
	t.Helper()
	img, err := os.ReadFile(rasterFile(t, pdf, dpi))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// rasterFile rasterises pdf's first page with pdftoppm into a PGM file in a
// temporary directory and returns its path.
func rasterFile(t testing.TB, pdf []byte, dpi int) string {
	t.Helper()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Fatal("pdftoppm not found: install poppler-utils (make test does this)")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "label.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "label")
	if b, err := exec.Command("pdftoppm", "-r", strconv.Itoa(dpi), "-gray", "-singlefile", in, out).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, b)
	}
	return out + ".pgm"
}
