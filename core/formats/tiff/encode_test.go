package tiff

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// randomStack returns a seeded stack whose values span t's range, with some outside it
// for the integer types (so that clipping happens).
func randomStack(w, h, c, pages int, t dtype.Type, seed uint64) *Stack {
	rng := rand.New(rand.NewPCG(seed, 1))
	lo, hi := t.Range()
	if !t.Integer() {
		lo, hi = -1000, 1000
	}
	s := &Stack{W: w, H: h, C: c, Pages: pages, Type: t, Data: make([]float32, w*h*c*pages)}
	for i := range s.Data {
		s.Data[i] = float32(lo - 2 + rng.Float64()*(hi-lo+4))
	}
	return s
}

// TestEncodeRoundTrip writes every type, gray and RGB, one and several pages, uncompressed
// and Deflate, and reads back exactly the quantized values, with the clip count Encode
// reported and the metadata it was given.
func TestEncodeRoundTrip(t *testing.T) {
	types := []dtype.Type{dtype.Uint8, dtype.Int8, dtype.Uint16, dtype.Int16, dtype.Float16, dtype.Float32, dtype.Float64}
	for _, typ := range types {
		for _, c := range []int{1, 3} {
			for _, comp := range []int{None, Deflate} {
				// 300 x 70 x 3 uint16 rows are 1800 bytes: several strips per page.
				s := randomStack(300, 70, c, 3, typ, uint64(typ)*10+uint64(c))
				s.Meta = Meta{Description: "ImageJ=1.53t\nimages=3\n", XResolution: [2]uint32{10000, 3}, YResolution: [2]uint32{10000, 3}, ResolutionUnit: 3}
				var b bytes.Buffer
				clipped, err := Encode(&b, s, typ, &EncodeOptions{Compression: comp})
				if err != nil {
					t.Fatalf("%v c=%d comp=%d: %v", typ, c, comp, err)
				}
				want := make([]float32, len(s.Data))
				wantClipped := 0
				for i, v := range s.Data {
					q, cl := typ.Quantize(v)
					want[i] = float32(q)
					if cl {
						wantClipped++
					}
				}
				if clipped != wantClipped || (typ.Integer() && clipped == 0) {
					t.Errorf("%v c=%d comp=%d: clipped %d, want %d (>0 for integers)", typ, c, comp, clipped, wantClipped)
				}
				got, err := Decode(bytes.NewReader(b.Bytes()))
				if err != nil {
					t.Fatalf("%v c=%d comp=%d: decode: %v", typ, c, comp, err)
				}
				if got.W != s.W || got.H != s.H || got.C != c || got.Pages != 3 || got.Type != typ || !slices.Equal(got.Data, want) {
					t.Errorf("%v c=%d comp=%d: read back %dx%dx%d x%d %v, values equal %v", typ, c, comp, got.W, got.H, got.C, got.Pages, got.Type, slices.Equal(got.Data, want))
				}
				m := got.Meta
				if m.Description != s.Meta.Description || m.XResolution != s.Meta.XResolution || m.ResolutionUnit != 3 || m.Software != "FlowDiff-Go" || m.ByteOrder != "II" {
					t.Errorf("%v c=%d comp=%d: meta %+v", typ, c, comp, m)
				}
			}
		}
	}
}

// TestEncodeWhiteIsZero keeps the photometric interpretation of a gray WhiteIsZero file.
func TestEncodeWhiteIsZero(t *testing.T) {
	s := &Stack{W: 1, H: 1, C: 1, Pages: 1, Data: []float32{3}, Meta: Meta{WhiteIsZero: true}}
	var b bytes.Buffer
	if _, err := Encode(&b, s, dtype.Uint8, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := DecodeConfig(bytes.NewReader(b.Bytes()))
	if err != nil || cfg.Photometric != 0 {
		t.Errorf("photometric %d, %v; want 0", cfg.Photometric, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		s    *Stack
		t    dtype.Type
		opt  *EncodeOptions
		want string
	}{
		{"short data", &Stack{W: 2, H: 2, C: 1, Pages: 1, Data: []float32{1}}, dtype.Uint8, nil, "needs 4 samples, has 1"},
		{"two channels", &Stack{W: 1, H: 1, C: 2, Pages: 1, Data: []float32{1, 2}}, dtype.Uint8, nil, "2 samples per pixel"},
		{"no pages", &Stack{W: 1, H: 1, C: 1}, dtype.Uint8, nil, "0 pages"},
		{"invalid type", &Stack{W: 1, H: 1, C: 1, Pages: 1, Data: []float32{1}}, dtype.Invalid, nil, "sample type"},
		{"LZW", &Stack{W: 1, H: 1, C: 1, Pages: 1, Data: []float32{1}}, dtype.Uint8, &EncodeOptions{Compression: LZW}, "compression 5"},
	}
	for _, c := range cases {
		_, err := Encode(&bytes.Buffer{}, c.s, c.t, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// TestEncodeNaN: NaN written to an integer type becomes 0 and counts as clipped; float
// types keep it.
func TestEncodeNaN(t *testing.T) {
	nan := float32(math.NaN())
	s := &Stack{W: 2, H: 1, C: 1, Pages: 1, Data: []float32{nan, 5}}
	for _, c := range []struct {
		t       dtype.Type
		clipped int
	}{{dtype.Uint16, 1}, {dtype.Float32, 0}} {
		var b bytes.Buffer
		n, err := Encode(&b, s, c.t, nil)
		got, err2 := Decode(&b)
		if err != nil || err2 != nil || n != c.clipped || got.Data[1] != 5 || (c.t.Integer() != (got.Data[0] == 0)) {
			t.Errorf("%v: clipped %d (%v, %v), read %v", c.t, n, err, err2, got)
		}
	}
}
