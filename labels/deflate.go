package labels

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/adler32"
	"sync"
)

// PDF streams are zlib streams (FlateDecode), built here from raw deflate
// blocks so that a part every label shares (an embedded font's fixed
// tables) is deflated once and copied, and the rest is deflated after it.
// A decoder sees one stream: blocks that end on a byte boundary may be
// followed by any other blocks.

// flateWriters are the compressors of every label. A new one allocates
// about a megabyte of tables, more than the rest of a label: one pool,
// without dictionaries, keeps a replica to a few of them.
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // a valid level: no error
	return w
}}

// appendDeflate appends b as deflate blocks to out: ending with the final
// block when final is set, else on a byte boundary with more to follow.
func appendDeflate(out, b []byte, final bool) []byte {
	buf := bytes.NewBuffer(out)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(b) // into a bytes.Buffer: cannot fail
	if final {
		_ = w.Close()
	} else {
		_ = w.Flush()
	}
	flateWriters.Put(w)
	return buf.Bytes()
}

// zlibHeader starts a zlib stream: deflate, a 32 KB window, fastest.
var zlibHeader = []byte{0x78, 0x01}

// appendStored appends b as one stored (uncompressed) block, not final; b
// is at most 65,535 bytes.
func appendStored(out, b []byte) []byte {
	n := len(b)
	out = append(out, 0, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	return append(out, b...)
}

// appendAdler32 ends a zlib stream with the checksum of its data, parts
// in order.
func appendAdler32(out []byte, parts ...[]byte) []byte {
	sum := adler32.New()
	for _, p := range parts {
		sum.Write(p)
	}
	return binary.BigEndian.AppendUint32(out, sum.Sum32())
}

// compress returns b as a zlib stream.
func compress(b []byte) []byte {
	out := make([]byte, 0, len(b)/2+64)
	out = append(out, zlibHeader...)
	out = appendDeflate(out, b, true)
	return appendAdler32(out, b)
}
