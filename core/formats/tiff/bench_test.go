package tiff

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// BenchmarkDecode decodes a 20-page 512x512 uint16 stack (10 MiB of samples), uncompressed
// and Deflate; figures are in docs/formats.md.
func BenchmarkDecode(b *testing.B) {
	s := randomStack(512, 512, 1, 20, dtype.Uint16, 1)
	for _, comp := range []int{None, Deflate} {
		var buf bytes.Buffer
		if _, err := Encode(&buf, s, dtype.Uint16, &EncodeOptions{Compression: comp}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("compression=%d", comp), func(b *testing.B) {
			b.SetBytes(int64(s.Len() * 2))
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(buf.Bytes())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode writes the same stack uncompressed.
func BenchmarkEncode(b *testing.B) {
	s := randomStack(512, 512, 1, 20, dtype.Uint16, 1)
	b.SetBytes(int64(s.Len() * 2))
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if _, err := Encode(&buf, s, dtype.Uint16, nil); err != nil {
			b.Fatal(err)
		}
	}
}
