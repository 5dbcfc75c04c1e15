package metrics

import (
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// CalibrationLevels are the nominal central-interval probabilities reported by default.
var CalibrationLevels = []float64{0.5, 0.9, 0.95}

// Calibration is how well per-pixel posterior uncertainty matches the errors on test data.
//
// For each pixel j of each test image, with posterior mean m_j, standard deviation s_j (over
// the K samples) and truth x_j, the Gaussian central interval at level p is
// m_j ± z_p s_j with z_p = Φ⁻¹((1+p)/2) (0.674, 1.645, 1.960 for 50/90/95%). Coverage[p] is the
// fraction of pixels whose truth lies inside: a calibrated posterior covers about p, an
// overconfident one (intervals too narrow) less. MeanZ2 is the mean of ((x_j-m_j)/s_j)², 1 for a
// calibrated Gaussian posterior, above 1 when the spread is too small. Pixels whose s_j is
// below StdFloor are counted as covered only when the truth equals the mean within StdFloor,
// and are left out of MeanZ2 (they are reported in Degenerate).
type Calibration struct {
	Levels     []float64
	Coverage   []float64 // per level
	MeanZ2     float64
	Pixels     int
	Degenerate int // pixels with s_j < StdFloor
}

// StdFloor is the standard deviation below which a pixel's interval is treated as a point.
const StdFloor = 1e-6

// Calibrate measures the calibration of mean ± z·std intervals for the truth at levels (each
// in (0,1); CalibrationLevels when nil). All three batches must have the same shape.
func Calibrate(truth, mean, std *batch.Batch, levels []float64) (Calibration, error) {
	if err := batch.SameShape(truth, mean); err != nil {
		return Calibration{}, fmt.Errorf("calibration: truth and mean: %w", err)
	}
	if err := batch.SameShape(truth, std); err != nil {
		return Calibration{}, fmt.Errorf("calibration: truth and std: %w", err)
	}
	if levels == nil {
		levels = CalibrationLevels
	}
	z := make([]float64, len(levels))
	for i, p := range levels {
		if !(p > 0 && p < 1) {
			return Calibration{}, fmt.Errorf("calibration: level %v outside (0, 1)", p)
		}
		z[i] = math.Sqrt2 * math.Erfinv(p) // Φ⁻¹((1+p)/2)
	}
	c := Calibration{Levels: levels, Coverage: make([]float64, len(levels)), Pixels: len(truth.Data)}
	inside := make([]int, len(levels))
	var z2 float64
	for j, x := range truth.Data {
		d := math.Abs(float64(x) - float64(mean.Data[j]))
		s := float64(std.Data[j])
		if s < StdFloor {
			c.Degenerate++
			if d <= StdFloor {
				for i := range inside {
					inside[i]++
				}
			}
			continue
		}
		r := d / s
		z2 += r * r
		for i, zi := range z {
			if r <= zi {
				inside[i]++
			}
		}
	}
	for i := range inside {
		c.Coverage[i] = float64(inside[i]) / float64(max(1, c.Pixels))
	}
	c.MeanZ2 = math.NaN()
	if n := c.Pixels - c.Degenerate; n > 0 {
		c.MeanZ2 = z2 / float64(n)
	}
	return c, nil
}
