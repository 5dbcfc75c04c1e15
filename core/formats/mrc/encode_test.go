package mrc

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// TestEncodeRoundTrip writes a stack in every mode from a header with pixel size, origin,
// labels and an extended header, and reads back the quantized values, the kept fields and
// statistics of the stored values.
func TestEncodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 0))
	data := make([]float32, 7*5*3)
	for i := range data {
		data[i] = float32(rng.NormFloat64() * 20000)
	}
	for mode, typ := range modes {
		h := &Header{NX: 7, NY: 5, NZ: 3, Mode: mode, NXStart: 1, ISPG: 0, MX: 7, MY: 5, MZ: 1,
			CellA: [3]float32{7 * 1.31, 5 * 1.31, 1.31}, CellB: [3]float32{90, 90, 90}, MapC: 1, MapR: 2, MapS: 3,
			Origin: [3]float32{1, 2, 3}, ExtType: "SERI", Labels: []string{"restored by FlowDiff-Go", "second"},
			ExtHeader: bytes.Repeat([]byte{7}, 33), DMin: -99, RMS: -1}
		var b bytes.Buffer
		clipped, err := Encode(&b, h, data)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		if h.DMin != -99 || h.NSymBT != 0 {
			t.Errorf("mode %d: Encode modified its header", mode)
		}
		if b.Len() != HeaderSize+33+len(data)*typ.Size() {
			t.Errorf("mode %d: %d bytes", mode, b.Len())
		}
		got, back, err := Decode(&b)
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		want := make([]float32, len(data))
		wantClipped := 0
		for i, v := range data {
			q, c := typ.Quantize(v)
			want[i] = float32(q)
			if c {
				wantClipped++
			}
		}
		if !slices.Equal(back, want) || clipped != wantClipped || (typ != dtype.Float32 && clipped == 0) {
			t.Errorf("mode %d: values equal %v, clipped %d, want %d (> 0 but for float32)", mode, slices.Equal(back, want), clipped, wantClipped)
		}
		lo, hi, mean, rms := stats(want)
		if got.DMin != lo || got.DMax != hi || got.DMean != mean || got.RMS != rms || got.NSymBT != 33 || got.NVersion != 20141 ||
			got.MachST != [4]byte{0x44, 0x44} || got.ExtType != "SERI" || !slices.Equal(got.Labels, h.Labels) ||
			got.Origin != h.Origin || got.CellA != h.CellA || got.NXStart != 1 || len(got.Notes) != 0 {
			t.Errorf("mode %d: header read back %+v", mode, got)
		}
		if v := got.VoxelSize(); math.Abs(v[0]-1.31) > 1e-6 || math.Abs(v[2]-1.31) > 1e-6 {
			t.Errorf("mode %d: voxel size %v, want 1.31 within 1e-6", mode, v)
		}
	}
}

// TestStats checks the statistics against values computed by hand: for 1, 2, 3, 4 the mean
// is 2.5 and the population standard deviation sqrt(1.25).
func TestStats(t *testing.T) {
	lo, hi, mean, rms := stats([]float32{4, 1, 3, 2})
	if lo != 1 || hi != 4 || mean != 2.5 || math.Abs(float64(rms)-math.Sqrt(1.25)) > 1e-7 {
		t.Errorf("stats = %v %v %v %v", lo, hi, mean, rms)
	}
}

// TestEncodeFills: a bare header gets sampling from the dimensions, standard axes and a
// version; SetVoxelSize then gives the pixel size back.
func TestEncodeFills(t *testing.T) {
	h := &Header{NX: 4, NY: 2, NZ: 3, Mode: 2}
	h.SetVoxelSize([3]float64{2.5, 2.5, 2.5})
	var b bytes.Buffer
	if _, err := Encode(&b, h, make([]float32, 24)); err != nil {
		t.Fatal(err)
	}
	got, _, err := Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got.MX != 4 || got.MY != 2 || got.MZ != 1 || got.MapC != 1 || got.MapS != 3 || got.VoxelSize() != [3]float64{2.5, 2.5, 2.5} {
		t.Errorf("header %+v, voxel %v", got, got.VoxelSize())
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		h    *Header
		n    int
		want string
	}{
		{"mode", &Header{NX: 1, NY: 1, NZ: 1, Mode: 3}, 1, "mode 3 (complex int16)"},
		{"dims", &Header{NX: 0, NY: 1, NZ: 1, Mode: 2}, 0, "must be positive"},
		{"length", &Header{NX: 2, NY: 2, NZ: 1, Mode: 2}, 3, "need 4 samples, got 3"},
		{"labels", &Header{NX: 1, NY: 1, NZ: 1, Mode: 2, Labels: make([]string, 11)}, 1, "11 labels"},
	}
	for _, c := range cases {
		_, err := Encode(&bytes.Buffer{}, c.h, make([]float32, c.n))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestModeOf(t *testing.T) {
	for typ, want := range map[dtype.Type]int32{dtype.Int8: 0, dtype.Int16: 1, dtype.Float32: 2, dtype.Uint16: 6,
		dtype.Float16: 12, dtype.Uint8: 6, dtype.Float64: 2} {
		if m, err := ModeOf(typ); err != nil || m != want {
			t.Errorf("ModeOf(%v) = %d, %v; want %d", typ, m, err, want)
		}
	}
}
