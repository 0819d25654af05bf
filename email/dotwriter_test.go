package email

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/textproto"
	"testing"
)

// TestDotWriterWritesWhatDotWriterWould: the content DATA carries is byte for byte what
// net/textproto's DotWriter (go-mail's, before pipelining) makes of it, whatever the
// bytes and however they are split across writes: dots at line starts doubled, bare
// line feeds and carriage returns as DotWriter treats them, the end of data after.
func TestDotWriterWritesWhatDotWriterWould(t *testing.T) {
	t.Parallel()
	cases := []string{"", ".", "..", "a", "a\r\n", ".a\r\n.b\r\n", "a\n.b\n", "a\r", "a\r.b", "a\r\r\n.x", "\r\n.\r\n", "\n\n.", "x\r\n\r\n..\r\n", ".\r"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = ".\r\na "[rng.IntN(5)]
		}
		cases = append(cases, string(b))
	}
	for _, in := range cases {
		var want bytes.Buffer
		bw := bufio.NewWriter(&want)
		tw := textproto.NewWriter(bw).DotWriter()
		if _, err := tw.Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		// the same bytes in random pieces
		var got bytes.Buffer
		d := dotWriter{out: &got}
		for rest := []byte(in); len(rest) > 0; {
			n := 1 + rng.IntN(len(rest))
			if _, err := d.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		d.close()
		if got.String() != want.String() {
			t.Fatalf("%q: got %q, want %q", in, got.String(), want.String())
		}
	}
}
