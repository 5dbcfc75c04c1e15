package conformance

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// plant is a small error planted in a gradient or adjoint: a scale (1.001: 0.1% too large)
// and/or a shift of the result by one pixel along W (zero filled).
type plant struct {
	scale float32
	shift bool
}

// plants are the errors every gradient check must catch (issue 15: a VJP scaled by 1.003
// passed the adjoint test).
var plants = []struct {
	name string
	p    plant
}{
	{"exact", plant{1, false}},
	{"1.001x", plant{1.001, false}},
	{"0.999x", plant{0.999, false}},
	{"one-pixel shift", plant{1, true}},
}

func (p plant) apply(g *batch.Batch) *batch.Batch {
	out := g.Clone()
	for i := range out.Data {
		out.Data[i] *= p.scale
	}
	if !p.shift {
		return out
	}
	shifted := batch.New(g.N, g.H, g.W, g.C)
	for n := range g.N {
		for y := range g.H {
			for x := 1; x < g.W; x++ {
				for c := range g.C {
					shifted.Set(n, y, x, c, out.At(n, y, x-1, c))
				}
			}
		}
	}
	return shifted
}

// convOp is a linear, non-symmetric 3-tap convolution along W (zero padded), y = k * x, with
// its exact adjoint (correlation), optionally wrapped in tanh (a nonlinear operator), and a
// planted error in the VJP.
type convOp struct {
	nonlinear bool
	err       plant
}

var convTaps = [3]float64{0.2, 0.5, 0.3} // y[x] = Σ_j k[j] x[x+j-1]

func (convOp) OutShape(_ context.Context, in batch.Shape) (batch.Shape, error) { return in, nil }
func (convOp) SampleParams(context.Context, *rand.Rand, batch.Shape) (part.Params, error) {
	return nil, nil
}

func conv(x *batch.Batch, adjoint bool) *batch.Batch {
	y := batch.New(x.N, x.H, x.W, x.C)
	for n := range x.N {
		for r := range x.H {
			for c := range x.C {
				for w := range x.W {
					s := 0.0
					for j, k := range convTaps {
						src := w + j - 1
						if adjoint {
							src = w - j + 1
						}
						if src >= 0 && src < x.W {
							s += k * float64(x.At(n, r, src, c))
						}
					}
					y.Set(n, r, w, c, float32(s))
				}
			}
		}
	}
	return y
}

func (o convOp) Apply(_ context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	y := conv(x, false)
	if o.nonlinear {
		for i, v := range y.Data {
			y.Data[i] = float32(math.Tanh(float64(v)))
		}
	}
	return y, nil
}

func (o convOp) VJP(_ context.Context, x, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	u := v.Clone()
	if o.nonlinear {
		y := conv(x, false)
		for i, a := range y.Data {
			t := math.Tanh(float64(a))
			u.Data[i] = float32(float64(v.Data[i]) * (1 - t*t))
		}
	}
	return o.err.apply(conv(u, true)), nil
}

func (o convOp) IsLinear() bool { return !o.nonlinear }

// plantedNoise is Gaussian noise (sigma 0.1) with a planted error in NLLGrad.
type plantedNoise struct {
	*operators.GaussianNoise
	err plant
}

func (p plantedNoise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	g, err := p.GaussianNoise.NLLGrad(ctx, y, ax)
	if err != nil {
		return nil, err
	}
	return p.err.apply(g), nil
}

// plantedPrior is quadPrior with a planted error in its gradient.
type plantedPrior struct{ err plant }

func (p plantedPrior) Energy(ctx context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	e, g, err := quadPrior{1, 0}.Energy(ctx, x)
	return e, p.err.apply(g), err
}

// TestSmallErrorsCaught plants 0.1% scale errors and one-pixel shifts in the adjoint of a
// linear operator, the VJP of a nonlinear one, a noise model's NLL gradient and a prior's
// gradient: each must fail its check, and the exact versions must pass.
func TestSmallErrorsCaught(t *testing.T) {
	base, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	type subject struct {
		name, check string
		run         func(plant) Report
	}
	subjects := []subject{
		{"linear operator", "adjoint", func(p plant) Report {
			return CheckOperator(ctx, convOp{err: p}, Options{NoGraph: true})
		}},
		{"nonlinear operator", "vjp", func(p plant) Report {
			return CheckOperator(ctx, convOp{nonlinear: true, err: p}, Options{NoGraph: true})
		}},
		{"noise model", "nll gradient", func(p plant) Report {
			return CheckNoise(ctx, plantedNoise{base, p}, Options{NoGraph: true, Samples: 2000})
		}},
		{"prior", "gradient", func(p plant) Report {
			return CheckPrior(ctx, plantedPrior{p}, Options{})
		}},
	}
	for _, s := range subjects {
		for _, pl := range plants {
			t.Run(s.name+"/"+pl.name, func(t *testing.T) {
				r := s.run(pl.p)
				c, ok := r.Find(s.check)
				if !ok {
					t.Fatalf("no %q check in:\n%s", s.check, r)
				}
				t.Logf("%s", c)
				if exact := pl.name == "exact"; exact == c.Failed() {
					t.Errorf("%s: the %q check %s, want it to %s", pl.name, s.check,
						map[bool]string{true: "failed", false: "passed"}[c.Failed()], map[bool]string{true: "pass", false: "fail"}[exact])
				}
			})
		}
	}
}

// TestExactAdjointMeasured: an operator whose adjoint is exact in float arithmetic (2x, a mask)
// measures 0 and passes; it is not skipped as if A(x) were zero.
func TestExactAdjointMeasured(t *testing.T) {
	r := CheckOperator(ctx, &scaleOp{s: 2, t: 2}, Options{NoGraph: true})
	if c, ok := r.Find("adjoint"); !ok || !c.Pass || c.Skip != "" || c.Value != 0 {
		t.Errorf("adjoint of 2x: %v", c)
	}
}
