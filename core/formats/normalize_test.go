package formats

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
)

func npyOfShape(t *testing.T, shape []int) []byte {
	n := 1
	for _, d := range shape {
		n *= d
	}
	var b bytes.Buffer
	if err := npy.Write(&b, shape, make([]float32, n)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRangeInvertsExactly: every uint16 and uint8 value, normalized by Range and
// denormalized, quantizes back to itself; int16 maps -32768 to 0 and 32767 to 1.
func TestRangeInvertsExactly(t *testing.T) {
	for _, c := range []struct {
		t      dtype.Type
		lo, hi int
	}{{dtype.Uint16, 0, 65535}, {dtype.Uint8, 0, 255}, {dtype.Int16, -32768, 32767}} {
		img := &Image{W: c.hi - c.lo + 1, H: 1, C: 1, N: 1, SourceType: c.t, Data: ramp(c.hi-c.lo+1, float32(c.lo), 1)}
		s, err := Normalize(img, Auto)
		if err != nil || s.Mode != Range || img.Data[0] != 0 || img.Data[len(img.Data)-1] != 1 {
			t.Fatalf("%v: %+v, %v, ends %v %v", c.t, s, err, img.Data[0], img.Data[len(img.Data)-1])
		}
		Denormalize(img, s)
		for i, v := range img.Data {
			if q, _ := c.t.Quantize(v); q != float64(c.lo+i) {
				t.Fatalf("%v: %d came back as %v", c.t, c.lo+i, q)
			}
		}
	}
}

// TestMinMaxAndPercentile checks scalings computed by hand: min-max of (-2, 0, 6) is offset
// -2, scale 8; the 25th and 75th percentiles of 1..5 are 2 and 4 (numpy.percentile,
// linear); a constant image gets scale 1.
func TestMinMaxAndPercentile(t *testing.T) {
	img := &Image{W: 3, H: 1, C: 1, N: 1, SourceType: dtype.Float32, Data: []float32{-2, 0, 6}}
	s, err := Normalize(img, Auto)
	if err != nil || s.Mode != MinMax || s.Offset != -2 || s.Scale != 8 || img.Data[1] != 0.25 || img.Data[2] != 1 {
		t.Errorf("minmax: %+v, %v, %v", s, err, img.Data)
	}
	five := &Image{W: 5, H: 1, C: 1, N: 1, SourceType: dtype.Float32, Data: []float32{5, 1, 4, 2, 3}}
	p, err := ScalingFor(five, Percentile, 25, 75)
	if err != nil || p.Offset != 2 || p.Scale != 2 || p.Low != 25 || p.High != 75 {
		t.Errorf("percentile: %+v, %v", p, err)
	}
	if p, _ := ScalingFor(five, Percentile, 10, 90); math.Abs(p.Offset-1.4) > 1e-12 || math.Abs(p.Scale-3.2) > 1e-12 {
		t.Errorf("10th/90th percentiles: offset %v scale %v, want 1.4 and 3.2 (numpy.percentile)", p.Offset, p.Scale)
	}
	flat := &Image{W: 2, H: 1, C: 1, N: 1, SourceType: dtype.Float32, Data: []float32{3, 3}}
	if s, err := Normalize(flat, MinMax); err != nil || s.Scale != 1 || flat.Data[0] != 0 {
		t.Errorf("constant: %+v, %v, %v", s, err, flat.Data)
	}
	bad := []struct {
		img  *Image
		mode Mode
	}{
		{&Image{SourceType: dtype.Float32, Data: []float32{1}}, Range},
		{&Image{SourceType: dtype.Float32, Data: []float32{float32(math.NaN())}}, MinMax},
		{&Image{SourceType: dtype.Float32, Data: []float32{1}}, "zscore"},
	}
	for _, b := range bad {
		if _, err := Normalize(b.img, b.mode); err == nil {
			t.Errorf("mode %q on %v accepted", b.mode, b.img.Data)
		}
	}
	if _, err := ScalingFor(five, Percentile, 80, 20); err == nil {
		t.Error("percentiles 80, 20 accepted")
	}
}

// TestMinMaxInverts: float data normalized by MinMax and denormalized come back within two
// float32 roundings of the range (2 * 2^-24 * (max - min) plus one of the value).
func TestMinMaxInverts(t *testing.T) {
	data := ramp(1000, -7.6410613, 0.0118)
	img := &Image{W: 1000, H: 1, C: 1, N: 1, SourceType: dtype.Float32, Data: append([]float32(nil), data...)}
	s, err := Normalize(img, Auto)
	if err != nil {
		t.Fatal(err)
	}
	Denormalize(img, s)
	for i, v := range data {
		tol := 2*0x1p-24*s.Scale + 0x1p-24*math.Abs(float64(v))
		if d := math.Abs(float64(img.Data[i] - v)); d > tol {
			t.Fatalf("sample %d: %v came back as %v (tolerance %g)", i, v, img.Data[i], tol)
		}
	}
}

// TestScalingJSON: a Scaling survives JSON, its type by name.
func TestScalingJSON(t *testing.T) {
	s := Scaling{Mode: Percentile, Offset: -1.5, Scale: 3.25, SourceType: dtype.Uint16, Low: 2, High: 99.8}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Scaling
	if err := json.Unmarshal(b, &back); err != nil || back != s || !bytes.Contains(b, []byte(`"source_type":"uint16"`)) {
		t.Errorf("JSON %s read back as %+v, %v", b, back, err)
	}
}
