package npy

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// FuzzNPY feeds arbitrary bytes to Read: it must return an error, or an array whose data
// length is the product of its shape and whose type is valid; such an array must then survive
// a round trip through WriteAs in its own type bit for bit (NaN payloads aside), and Read must
// never panic or allocate beyond what the input holds. The seed corpus in
// testdata/fuzz/FuzzNPY holds small valid files of every dtype, both byte orders, versions
// 1.0 and 2.0, and a few broken headers.
func FuzzNPY(f *testing.F) {
	f.Add(npyBytes("<u2", "2, 2", []byte{1, 0, 2, 0, 3, 0, 4, 0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(a.Data) || !a.DType.Valid() {
			t.Fatalf("shape %v, %d values, type %v", a.Shape, len(a.Data), a.DType)
		}
		var b bytes.Buffer
		if _, err := WriteAs(&b, a.Shape, a.Data, a.DType); err != nil {
			t.Fatalf("re-encode as %v: %v", a.DType, err)
		}
		back, err := Read(&b)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		same := func(x, y float32) bool { return x == y || (math.IsNaN(float64(x)) && math.IsNaN(float64(y))) }
		if !slices.Equal(back.Shape, a.Shape) || !slices.EqualFunc(back.Data, a.Data, same) || back.DType != a.DType {
			t.Fatalf("round trip changed %v %v into %v %v", a.Shape, a.DType, back.Shape, back.DType)
		}
	})
}
