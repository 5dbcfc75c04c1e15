package diffusion

import (
	"context"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
)

// TestDPSWeightAndSteps checks the two DPS options on the trained toy model:
//   - a weight of 1 everywhere is the plain norm (bitwise: the residual is multiplied by 1);
//   - a weight of 4 everywhere doubles the norm, so it equals zeta doubled (to 1e-4, float32
//     rounding of the scaled gradient);
//   - Steps = 5 takes 5 U-Net steps (counted by Progress), and its guidance still pulls the
//     samples towards the observations: the mean residual is below the unconditional one.
func TestDPSWeightAndSteps(t *testing.T) {
	m := trainedToy(t)
	s := toySampler(t, m, true)
	_, op, p, y := dpsSetup(t, 4)
	ctx := context.Background()
	opt := SampleOptions{Seed: 6, Clip: toyClip}
	constant := func(v float32) *batch.Batch {
		w := batch.New(y.N, y.H, y.W, y.C)
		for i := range w.Data {
			w.Data[i] = v
		}
		return w
	}
	plain, err := s.DPS(ctx, y.Shape, DPSProblem{Op: op, Params: p, Y: y, Zeta: 0.5}, opt)
	if err != nil {
		t.Fatal(err)
	}
	ones, err := s.DPS(ctx, y.Shape, DPSProblem{Op: op, Params: p, Y: y, Zeta: 0.5, Weight: constant(1)}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(plain.Data, ones.Data); d != 0 {
		t.Errorf("weight 1 differs from the plain norm by %g", d)
	}
	fours, err := s.DPS(ctx, y.Shape, DPSProblem{Op: op, Params: p, Y: y, Zeta: 0.5, Weight: constant(4)}, opt)
	if err != nil {
		t.Fatal(err)
	}
	double, err := s.DPS(ctx, y.Shape, DPSProblem{Op: op, Params: p, Y: y, Zeta: 1}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(fours.Data, double.Data); d > 1e-4 {
		t.Errorf("weight 4 with zeta 0.5 differs from zeta 1 by %g", d)
	}
	if _, err := s.DPS(ctx, y.Shape, DPSProblem{Op: op, Params: p, Y: y, Weight: batch.New(1, 2, 2, 1)}, opt); err == nil {
		t.Error("weights of the wrong shape accepted")
	}

	steps := 0
	short := opt
	short.Progress = func(_, total int) { steps = total }
	xs, err := s.DPS(ctx, y.Shape, DPSProblem{Op: op, Params: p, Y: y, Zeta: 2, Steps: 5}, short)
	if err != nil {
		t.Fatal(err)
	}
	if steps != 5 {
		t.Errorf("Steps 5 ran %d steps", steps)
	}
	xu, err := s.DDIM(ctx, y.Shape, 5, 1, opt)
	if err != nil {
		t.Fatal(err)
	}
	rs, ru := residuals(t, op, p, xs, y), residuals(t, op, p, xu, y)
	var ms, mu float64
	for i := range rs {
		ms += rs[i] / float64(len(rs))
		mu += ru[i] / float64(len(ru))
	}
	t.Logf("5-step DPS mean residual %.3f vs unguided %.3f", ms, mu)
	if !(ms < mu) {
		t.Errorf("5-step DPS residual %.3f not below the unguided %.3f", ms, mu)
	}
}

// TestDPSWeights: Gaussian noise keeps the plain residual norm (nil weights); Poisson noise
// weights pixels by the inverse variance, mean-normalized, with the variance floored.
func TestDPSWeights(t *testing.T) {
	ctx := t.Context()
	y := batch.New(1, 1, 4, 1)
	copy(y.Data, []float32{0, 0.1, 0.5, 1})
	g, _ := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.1})
	if w, err := DPSWeights(ctx, g, y); err != nil || w != nil {
		t.Errorf("gaussian: weights %v, err %v; want none", w, err)
	}
	p, err := operators.NewPoissonNoise(operators.PoissonNoiseConfig{Photons: 10})
	if err != nil {
		t.Fatal(err)
	}
	w, err := DPSWeights(ctx, p, y)
	if err != nil || w == nil {
		t.Fatalf("poisson: weights %v, err %v", w, err)
	}
	// variances y/10 = 0, 0.01, 0.05, 0.1; mean 0.04; floor 0.0004.
	want := []float64{0.04 / 0.0004, 4, 0.8, 0.4}
	for i, v := range w.Data {
		if d := float64(v) - want[i]; d > 1e-4*want[i] || d < -1e-4*want[i] {
			t.Errorf("weight %d = %v, want %v", i, v, want[i])
		}
	}
}
