package mrc

import (
	"bytes"
	"testing"
)

// BenchmarkDecode decodes a float32 stack of 17 images of 200x200 (the size of the shared
// ASPIRE sample); figures are in docs/formats.md.
func BenchmarkDecode(b *testing.B) {
	data := make([]float32, 200*200*17)
	for i := range data {
		data[i] = float32(i%977) * 0.01
	}
	var buf bytes.Buffer
	if _, err := Encode(&buf, &Header{NX: 200, NY: 200, NZ: 17, Mode: 2}, data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data) * 4))
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
