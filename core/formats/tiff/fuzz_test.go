package tiff

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// fuzzMaxPixels keeps fuzzed stacks small; the limit is checked before any pixel is read.
const fuzzMaxPixels = 1 << 20

// FuzzTIFF feeds arbitrary bytes to the decoder (with a limit of 2^20 samples): it must
// return an error, or a stack whose dimensions match its data and whose configuration
// DecodeConfig reports alike; that stack must survive Encode in its own type and Decode bit
// for bit (NaN payloads aside). It must never panic. The seed corpus in
// testdata/fuzz/FuzzTIFF holds small valid files of each type, byte order, compression and
// predictor, multi-page and RGB files, and broken ones.
func FuzzTIFF(f *testing.F) {
	f.Add(build(le, tpage{gray(3, 2, 8, 1), [][]byte{{0, 1, 2, 253, 254, 255}}}))
	f.Add(build(be, tpage{gray(8, 3, 8, 1, short(tCompression, PackBits)), [][]byte{packBitsSpec}}))
	f.Add(build(le, tpage{gray(5, 1, 8, 1, short(tCompression, LZW)), [][]byte{lzwLiteral([]byte{10, 20, 30, 40, 250})}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decode(bytes.NewReader(data), fuzzMaxPixels)
		if err != nil {
			return
		}
		if s.Len() != len(s.Data) || s.Len() > fuzzMaxPixels || !s.Type.Valid() {
			t.Fatalf("stack %dx%dx%d x%d %v with %d samples", s.W, s.H, s.C, s.Pages, s.Type, len(s.Data))
		}
		cfg, err := DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != s.W || cfg.Height != s.H || cfg.Pages != s.Pages || cfg.Type != s.Type {
			t.Fatalf("DecodeConfig %+v, %v disagrees with Decode", cfg, err)
		}
		var b bytes.Buffer
		if _, err := Encode(&b, s, s.Type, nil); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := Decode(&b)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		same := func(x, y float32) bool { return x == y || (math.IsNaN(float64(x)) && math.IsNaN(float64(y))) }
		if back.Type != s.Type || back.Pages != s.Pages || !slices.EqualFunc(back.Data, s.Data, same) {
			t.Fatalf("round trip changed the stack (%v x%d)", s.Type, s.Pages)
		}
	})
}
