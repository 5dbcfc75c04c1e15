package mrc

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// FuzzMRC feeds arbitrary bytes to Decode: it must return an error, or a header whose
// dimensions match the data; the result must survive Encode with its own header and Decode
// with the same values (NaN aside) and the kept fields. It must never panic nor allocate
// beyond what the input holds. The seed corpus in testdata/fuzz/FuzzMRC holds small files of
// every mode in both byte orders, with and without 'MAP ', extended header and labels, and
// broken ones.
func FuzzMRC(f *testing.F) {
	f.Add(newHB(le, 2, 2, 1, 2).file(nil, samples(le, modes[2], 1, 2, 3, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, v, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		if int64(len(v)) != int64(h.NX)*int64(h.NY)*int64(h.NZ) {
			t.Fatalf("%d x %d x %d header with %d samples", h.NX, h.NY, h.NZ, len(v))
		}
		if len(h.Labels) > 10 {
			t.Fatalf("%d labels", len(h.Labels))
		}
		var b bytes.Buffer
		if _, err := Encode(&b, h, v); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		h2, v2, err := Decode(&b)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		same := func(x, y float32) bool { return x == y || (math.IsNaN(float64(x)) && math.IsNaN(float64(y))) }
		bits := func(a [3]float32) [3]uint32 {
			return [3]uint32{math.Float32bits(a[0]), math.Float32bits(a[1]), math.Float32bits(a[2])}
		}
		if !slices.EqualFunc(v, v2, same) || h2.Mode != h.Mode || bits(h2.CellA) != bits(h.CellA) || bits(h2.Origin) != bits(h.Origin) ||
			!bytes.Equal(h2.ExtHeader, h.ExtHeader) || len(h2.Labels) != len(h.Labels) {
			t.Fatalf("round trip changed the file: %+v -> %+v", h, h2)
		}
	})
}
