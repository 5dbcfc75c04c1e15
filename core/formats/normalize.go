package formats

import (
	"fmt"
	"math"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// Mode selects how Normalize maps stored values to about [0, 1].
type Mode string

const (
	// Auto is Range for integer types and MinMax for float types.
	Auto Mode = "auto"
	// Range divides by the type's full range: (v - lo) / (hi - lo), i.e. v/255 for uint8 and
	// v/65535 for uint16 (as core/data loads clean images), (v + 32768)/65535 for int16.
	Range Mode = "range"
	// MinMax maps the file's smallest finite value to 0 and its largest to 1.
	MinMax Mode = "minmax"
	// Percentile maps the file's PercentileLow-th percentile to 0 and PercentileHigh-th to 1,
	// without clipping (values beyond them fall outside [0, 1], so Denormalize still inverts).
	Percentile Mode = "percentile"
)

// Percentile defaults, in percent (CSBDeep's normalize defaults, as core/data uses).
const (
	PercentileLow  = 2.0
	PercentileHigh = 99.8
)

// Scaling records one normalization, x' = (x - Offset) / Scale, so that a run can store it
// per file (it marshals to JSON) and invert it on output with Denormalize.
type Scaling struct {
	Mode   Mode    `json:"mode"`
	Offset float64 `json:"offset"`
	Scale  float64 `json:"scale"`
	// SourceType is the stored type the values came from.
	SourceType dtype.Type `json:"source_type"`
	// Low and High are the percentiles used by Percentile, in percent.
	Low  float64 `json:"low,omitempty"`
	High float64 `json:"high,omitempty"`
}

// Normalize rescales img.Data in place by mode (Auto, Range, MinMax or Percentile with the
// default percentiles) and returns the Scaling that Denormalize inverts. The scale is
// computed over the whole file (every image of a stack together), so images keep their
// relative intensities. A constant image gets Scale 1 (it becomes all zeros).
func Normalize(img *Image, mode Mode) (Scaling, error) {
	s, err := ScalingFor(img, mode, PercentileLow, PercentileHigh)
	if err != nil {
		return s, err
	}
	s.Apply(img.Data)
	return s, nil
}

// ScalingFor computes the Scaling of img for mode without applying it; low and high are the
// percentiles (in percent) for Percentile.
func ScalingFor(img *Image, mode Mode, low, high float64) (Scaling, error) {
	t := img.SourceType
	if mode == "" || mode == Auto {
		mode = MinMax
		if t.Integer() {
			mode = Range
		}
	}
	s := Scaling{Mode: mode, SourceType: t, Scale: 1}
	switch mode {
	case Range:
		if !t.Integer() {
			return s, fmt.Errorf("normalize: %v has no fixed range: use %q or %q", t, MinMax, Percentile)
		}
		lo, hi := t.Range()
		s.Offset, s.Scale = lo, hi-lo
	case MinMax:
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range img.Data {
			if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
				lo, hi = min(lo, f), max(hi, f)
			}
		}
		if lo > hi {
			return s, fmt.Errorf("normalize: no finite value among %d samples", len(img.Data))
		}
		s.Offset = lo
		if hi > lo {
			s.Scale = hi - lo
		}
	case Percentile:
		if !(low >= 0 && low < high && high <= 100) {
			return s, fmt.Errorf("normalize: percentiles %v and %v, want 0 <= low < high <= 100", low, high)
		}
		p, err := percentiles(img.Data, low, high)
		if err != nil {
			return s, err
		}
		s.Low, s.High, s.Offset = low, high, p[0]
		if p[1] > p[0] {
			s.Scale = p[1] - p[0]
		}
	default:
		return s, fmt.Errorf("normalize: mode %q unknown: want %q, %q, %q or %q", mode, Auto, Range, MinMax, Percentile)
	}
	return s, nil
}

// Apply maps stored values to normalized ones in place: x' = (x - Offset) / Scale.
func (s Scaling) Apply(v []float32) {
	for i, x := range v {
		v[i] = float32((float64(x) - s.Offset) / s.Scale)
	}
}

// Invert maps normalized values back in place: x = x' * Scale + Offset.
func (s Scaling) Invert(v []float32) {
	for i, x := range v {
		v[i] = float32(float64(x)*s.Scale + s.Offset)
	}
}

// Denormalize maps img.Data back to stored values with s (see Scaling.Invert); Write then
// rounds and clips them to img.SourceType.
func Denormalize(img *Image, s Scaling) {
	s.Invert(img.Data)
}

// percentiles returns the low-th and high-th percentiles of the finite values of v by linear
// interpolation between order statistics (NumPy's default method, as core/data uses).
func percentiles(v []float32, low, high float64) ([2]float64, error) {
	s := make([]float64, 0, len(v))
	for _, x := range v {
		if f := float64(x); !math.IsNaN(f) && !math.IsInf(f, 0) {
			s = append(s, f)
		}
	}
	if len(s) == 0 {
		return [2]float64{}, fmt.Errorf("normalize: no finite value among %d samples", len(v))
	}
	slices.Sort(s)
	at := func(p float64) float64 {
		pos := p / 100 * float64(len(s)-1)
		i := int(pos)
		if i >= len(s)-1 {
			return s[len(s)-1]
		}
		return s[i] + (pos-float64(i))*(s[i+1]-s[i])
	}
	return [2]float64{at(low), at(high)}, nil
}
