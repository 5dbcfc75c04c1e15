package observe

import (
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/formats"
)

// Fixed is the normalization mode with a given offset and scale, the same for every file; the
// other modes are core/formats' (formats.Auto, Range, MinMax, Percentile).
const Fixed formats.Mode = "fixed"

// Normalization says how a file's stored values become model units, x' = (x - Offset) / Scale.
type Normalization struct {
	// Mode is auto, range, minmax, percentile or fixed (see the package doc); "" is auto.
	Mode formats.Mode `json:"mode"`
	// Offset and Scale are the map of Fixed (Scale > 0), in file units.
	Offset float64 `json:"offset,omitempty"`
	Scale  float64 `json:"scale,omitempty"`
	// Low and High are Percentile's percentiles in percent; 0 and 0 mean formats.PercentileLow
	// and formats.PercentileHigh (2 and 99.8).
	Low  float64 `json:"low,omitempty"`
	High float64 `json:"high,omitempty"`
}

// Check reports a normalization that cannot be applied to any file.
func (n Normalization) Check() error {
	switch n.Mode {
	case "", formats.Auto, formats.Range, formats.MinMax, formats.Percentile:
	case Fixed:
		if !(n.Scale > 0) || math.IsInf(n.Scale, 0) || math.IsNaN(n.Offset) || math.IsInf(n.Offset, 0) {
			return fmt.Errorf("normalization fixed needs a finite offset and a scale > 0, got offset %v, scale %v", n.Offset, n.Scale)
		}
	default:
		return fmt.Errorf("normalization %q unknown: want auto, range, minmax, percentile or fixed", n.Mode)
	}
	return nil
}

// ScalingFor returns the Scaling of img (computed from its values for minmax and percentile).
// range on a float file is an error that says what to use instead.
func (n Normalization) ScalingFor(img *formats.Image) (formats.Scaling, error) {
	if err := n.Check(); err != nil {
		return formats.Scaling{}, err
	}
	if n.Mode == Fixed {
		return formats.Scaling{Mode: Fixed, Offset: n.Offset, Scale: n.Scale, SourceType: img.SourceType}, nil
	}
	lo, hi := n.Low, n.High
	if lo == 0 && hi == 0 {
		lo, hi = formats.PercentileLow, formats.PercentileHigh
	}
	return formats.ScalingFor(img, n.Mode, lo, hi)
}

// Normalize computes img's Scaling and applies it to img.Data in place.
func (n Normalization) Normalize(img *formats.Image) (formats.Scaling, error) {
	s, err := n.ScalingFor(img)
	if err != nil {
		return s, err
	}
	s.Apply(img.Data)
	return s, nil
}
