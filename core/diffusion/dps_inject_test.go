package diffusion

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// tolDPSInject bounds max|x_injected - x_graph| / max|x_graph| after a whole DPS run. The two
// paths differ by float32 roundings only (the host's operator loops and float64 norm against
// the graph's matrix products and float32 norm, about 1e-7 relative per step), which 20
// steps carry forward; the measured difference is logged.
const tolDPSInject = 1e-4

// TestDPSInjectedMatchesGraph runs DPS on a small U-Net with random weights (every weight
// matters, the guidance passes through the whole network) with 20 steps, for a blur and a
// random mask, once with the in-graph operator and once through operators.Opaque, which forces
// gradient injection, the path of a plugin operator. The results agree to tolDPSInject, and
// the guidance is not negligible: DPS moves the samples away from unguided ancestral sampling
// by far more than that tolerance.
func TestDPSInjectedMatchesGraph(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	rng := rand.New(rand.NewPCG(5, 5))
	shape := batch.Shape{N: 3, H: 8, W: 8, C: 1}
	sched, _ := NewLinear(20, 1e-3, 0.2)
	ctx := seededContext(t, 5)
	cfg := UNetConfig{Channels: 4, Multipliers: []int{1, 2}, Patch: 1, TimeEmbed: 8}
	if err := InitUNet(b, ctx, cfg, shape); err != nil {
		t.Fatal(err)
	}
	for _, v := range trainableVars(ctx, "/"+UNetScope) { // move off the zero last conv
		r := randomBatch(rng, batch.Shape{N: v.Shape().Size(), H: 1, W: 1, C: 1})
		for i := range r.Data {
			r.Data[i] *= 0.3
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(r.Data, v.Shape().Dimensions...))
	}
	s, err := NewSampler(b, ctx, cfg, sched)
	if err != nil {
		t.Fatal(err)
	}
	blur, _ := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 5, Sigma: 1})
	mask, _ := operators.NewRandomMask(operators.RandomMaskConfig{Fraction: 0.5})
	opt := SampleOptions{Seed: 6}
	plain, err := s.Ancestral(context.Background(), shape, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		op       part.Operator
		weighted bool // per-pixel residual weights (DPSProblem.Weight)
		steps    int  // DPSProblem.Steps (0: all T)
	}{{"blur.gaussian", blur, false, 0}, {"mask.random", mask, false, 0},
		{"blur.gaussian weighted, 5 strided steps", blur, true, 5}} {
		op, c := c.op, c
		t.Run(c.name, func(t *testing.T) {
			p, err := op.SampleParams(context.Background(), rng, shape)
			if err != nil {
				t.Fatal(err)
			}
			truth := randomBatch(rng, shape)
			y, err := op.Apply(context.Background(), truth, p)
			if err != nil {
				t.Fatal(err)
			}
			prob := DPSProblem{Op: op, Params: p, Y: y, Zeta: 0.5, Steps: c.steps}
			if c.weighted {
				prob.Weight = randomBatch(rng, y.Shape)
				for i, v := range prob.Weight.Data {
					prob.Weight.Data[i] = 0.5 + float32(math.Abs(float64(v)))
				}
			}
			xg, err := s.DPS(context.Background(), shape, prob, opt)
			if err != nil {
				t.Fatal(err)
			}
			prob.Op = operators.Opaque(op)
			xi, err := s.DPS(context.Background(), shape, prob, opt)
			if err != nil {
				t.Fatal(err)
			}
			scale := maxAbs(xg.Data)
			d := maxAbsDiff(xi.Data, xg.Data) / scale
			guidance := maxAbsDiff(xg.Data, plain.Data) / scale
			t.Logf("injected vs graph: max rel difference %.2g; guidance moved samples by %.2g", d, guidance)
			if !(d <= tolDPSInject) {
				t.Errorf("injected DPS differs from the graph path by %.3g (tol %g)", d, tolDPSInject)
			}
			if !(guidance > 100*tolDPSInject) {
				t.Errorf("guidance changed the samples by only %.3g: the comparison is vacuous", guidance)
			}
		})
	}
}

func maxAbs(a []float32) float64 {
	m := 0.0
	for _, v := range a {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}
