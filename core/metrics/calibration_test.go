package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestCalibrateGaussian draws truths from the stated Gaussian posterior (calibrated), from
// one twice as wide as stated (overconfident), and checks coverages and mean z² against
// theory. 100,000 pixels: a coverage's binomial standard error is at most 0.0016, so 0.01
// is over 6 standard errors.
func TestCalibrateGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	mean, std := batch.New(n, 10, 10, 1), batch.New(n, 10, 10, 1)
	for i := range mean.Data {
		mean.Data[i] = float32(rng.Float64())
		std.Data[i] = float32(0.05 + 0.1*rng.Float64())
	}
	for _, tc := range []struct {
		name  string
		scale float64 // truth spread / stated std
		cov   []float64
		z2    float64
	}{
		// Central coverages erf(z/(scale·√2)) for z = 0.674, 1.645, 1.960 (Python math.erf).
		{"calibrated", 1, []float64{0.5, 0.9, 0.95}, 1},
		{"overconfident", 2, []float64{0.2641, 0.5892, 0.6729}, 4},
	} {
		truth := batch.New(n, 10, 10, 1)
		for i := range truth.Data {
			truth.Data[i] = mean.Data[i] + float32(tc.scale*float64(std.Data[i])*rng.NormFloat64())
		}
		c, err := Calibrate(truth, mean, std, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range tc.cov {
			if math.Abs(c.Coverage[i]-want) > 0.01 {
				t.Errorf("%s: coverage at %v = %.4f, want %.4f", tc.name, c.Levels[i], c.Coverage[i], want)
			}
		}
		// The mean of n chi²(1)·scale² values: standard error scale²·sqrt(2/1e5) < 0.02.
		if math.Abs(c.MeanZ2-tc.z2) > 0.05*tc.z2 {
			t.Errorf("%s: mean z² = %.4f, want %.1f", tc.name, c.MeanZ2, tc.z2)
		}
	}
}

func TestCalibrateDegenerateAndErrors(t *testing.T) {
	truth := batch.New(1, 1, 2, 1)
	truth.Data[0], truth.Data[1] = 0.5, 0.7
	mean := batch.New(1, 1, 2, 1)
	mean.Data[0], mean.Data[1] = 0.5, 0.5
	std := batch.New(1, 1, 2, 1) // both zero: one exact, one missed
	c, err := Calibrate(truth, mean, std, []float64{0.9})
	if err != nil {
		t.Fatal(err)
	}
	if c.Coverage[0] != 0.5 || c.Degenerate != 2 || !math.IsNaN(c.MeanZ2) {
		t.Errorf("degenerate pixels: %+v", c)
	}
	if _, err := Calibrate(truth, mean, batch.New(1, 2, 2, 1), nil); err == nil {
		t.Error("shape mismatch accepted")
	}
	if _, err := Calibrate(truth, mean, std, []float64{1}); err == nil {
		t.Error("level 1 accepted")
	}
}
