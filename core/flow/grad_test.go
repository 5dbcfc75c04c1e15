package flow

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// flowLoss is a scalar training loss of the flow:
//   - reverse (Generate, the FlowDiff objective's shape): mean(logdet) + mean(x²);
//   - forward (Inverse, maximum likelihood): mean(z²)/2 - mean(logdet).
func flowLoss(ctx *context.Context, cfg Config, in, cond *graph.Node, inverse bool) *graph.Node {
	if inverse {
		z, ld := Inverse(ctx, cfg, in, cond)
		return graph.Sub(graph.MulScalar(graph.ReduceAllMean(graph.Square(z)), 0.5), graph.ReduceAllMean(ld))
	}
	x, ld := Generate(ctx, cfg, in, cond)
	return graph.Add(graph.ReduceAllMean(ld), graph.ReduceAllMean(graph.Square(x)))
}

// gradExecs returns executables for the loss and for [loss, ∂loss/∂v for v in vars].
func gradExecs(t testing.TB, ctx *context.Context, cfg Config, vars []*context.Variable, inverse bool) (lossExec, gradExec *context.Exec) {
	b := gomlxtest.Backend(t, testGoConfig)
	lossExec = context.MustNewExec(b, ctx, func(ctx *context.Context, in, cond *graph.Node) *graph.Node {
		return flowLoss(ctx, cfg, in, cond, inverse)
	})
	gradExec = context.MustNewExec(b, ctx, func(ctx *context.Context, in, cond *graph.Node) []*graph.Node {
		loss := flowLoss(ctx, cfg, in, cond, inverse)
		wrt := make([]*graph.Node, len(vars))
		for i, v := range vars {
			wrt[i] = v.ValueGraph(loss.Graph())
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, wrt...)...)
	})
	return lossExec, gradExec
}

// TestGradients checks, in float64 with perturbed weights, the gradient of the reverse (Generate)
// and forward (Inverse) losses of flowLoss with respect to every trainable variable: every
// gradient is finite, every variable gets a non-zero gradient (nothing is disconnected, the
// conditioning network included), and for 8 seeded random variables, 3 coordinates each, the
// gradient matches central finite differences with step 1e-6 within 1e-6 + 1e-5·|grad|
// (truncation O(h²) and round-off O(ε·|loss|/h) are both below 1e-8 here).
func TestGradients(t *testing.T) {
	const (
		h, atol, rtol  = 1e-6, 1e-6, 1e-5
		nVars, nCoords = 8, 3
		n, hh, ww      = 2, 8, 8
	)
	for ci, tc := range []struct {
		name  string
		cfg   Config
		c, cc int
	}{
		{"L2/split/C1", Config{Levels: 2, Steps: 2, Hidden: 8, CondHidden: 4, Split: true}, 1, 1},
		{"L1/C3", Config{Levels: 1, Steps: 2, Hidden: 8, CondHidden: 4}, 3, 2},
	} {
		cfg, c, cc := tc.cfg, tc.c, tc.cc
		for _, inverse := range []bool{false, true} {
			t.Run(tc.name+"/"+map[bool]string{false: "Generate", true: "Inverse"}[inverse], func(t *testing.T) {
				rng := rand.New(rand.NewPCG(41, uint64(ci)))
				in := normalTensor(rng, dtypes.Float64, n, hh, ww, c)
				cond := gomlxtest.RandTensor(rng, dtypes.Float64, 1, n, hh, ww, cc)
				f := newTestFlow(t, cfg, 42, perturbAmp, in, cond)
				vars := flowVars(f.ctx)
				lossExec, gradExec := gradExecs(t, f.ctx, cfg, vars, inverse)
				res := gradExec.MustExec(in, cond)
				grads := make([][]float64, len(vars))
				for i, v := range vars {
					grads[i] = gomlxtest.Flat64(res[i+1])
					if !allFinite(grads[i]) {
						t.Errorf("gradient of %s is not finite", v.ScopeAndName())
					}
					if slices.Max(absAll(grads[i])) == 0 {
						t.Errorf("gradient of %s is zero: variable disconnected from the loss", v.ScopeAndName())
					}
				}
				loss := func() float64 {
					r := lossExec.MustExec(in, cond)[0]
					defer r.FinalizeAll()
					return gomlxtest.Flat64(r)[0]
				}
				for _, vi := range rng.Perm(len(vars))[:nVars] {
					v := vars[vi]
					// Copy now: setting a variable finalizes its previous value tensor.
					dims, vals := slices.Clone(v.Shape().Dimensions), gomlxtest.Flat64(v.MustValue())
					set := func(vals []float64) { v.MustSetValue(gomlxtest.FromFlat64(dtypes.Float64, vals, dims...)) }
					for _, k := range rng.Perm(len(vals))[:min(nCoords, len(vals))] {
						pert := slices.Clone(vals)
						pert[k] = vals[k] + h
						set(pert)
						lp := loss()
						pert[k] = vals[k] - h
						set(pert)
						lm := loss()
						fd, g := (lp-lm)/(2*h), grads[vi][k]
						if math.Abs(fd-g) > atol+rtol*math.Abs(g) {
							t.Errorf("%s[%d]: gradient %.10g, finite differences %.10g", v.ScopeAndName(), k, g, fd)
						}
					}
					set(vals)
				}
			})
		}
	}
}

// TestGradientsFiniteAtExtremes checks that the reverse loss's gradient with respect to every
// flow variable is finite in float32, default config, for |z| and cond up to 1e3.
func TestGradientsFiniteAtExtremes(t *testing.T) {
	if testing.Short() {
		t.Skip("slow case skipped under -short")
	}
	const n, h, w, c = 2, 16, 16, 3
	rng := rand.New(rand.NewPCG(51, 1))
	z := gomlxtest.RandTensor(rng, dtypes.Float32, 1e3, n, h, w, c)
	cond := gomlxtest.RandTensor(rng, dtypes.Float32, 1e3, n, h, w, c)
	cfg := DefaultConfig()
	f := newTestFlow(t, cfg, 52, perturbAmp, z, cond)
	vars := flowVars(f.ctx)
	_, gradExec := gradExecs(t, f.ctx, cfg, vars, false)
	res := gradExec.MustExec(z, cond)
	if l := gomlxtest.Flat64(res[0])[0]; math.IsNaN(l) || math.IsInf(l, 0) {
		t.Fatalf("loss %v is not finite", l)
	}
	for i, v := range vars {
		if !allFinite(gomlxtest.Flat64(res[i+1])) {
			t.Errorf("gradient of %s is not finite", v.ScopeAndName())
		}
	}
}

// absAll returns |v| elementwise.
func absAll(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Abs(x)
	}
	return out
}
