package flow

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// TestConvNarrow checks convNarrow against nn.Conv2D with the same variables (float64, random
// weights and bias), values within 1e-12, and the gradients of Σ y⊙R with respect to x and the
// weights within 1e-12 too, for out < in (the shifted-matmul path) and out >= in (nn.Convolve2D).
func TestConvNarrow(t *testing.T) {
	b := backendOf(t)
	for _, tc := range []struct{ n, h, w, in, out int }{{2, 5, 6, 8, 3}, {1, 4, 4, 3, 5}, {2, 1, 1, 6, 2}} {
		rng := rand.New(rand.NewPCG(uint64(tc.in), uint64(tc.out)))
		x := randTensor(rng, dtypes.Float64, 1, tc.n, tc.h, tc.w, tc.in)
		r := randTensor(rng, dtypes.Float64, 1, tc.n, tc.h, tc.w, tc.out)
		ctx := context.New()
		build := func(conv func(*context.Context, *graph.Node) *graph.Node) *context.Exec {
			return context.MustNewExec(b, ctx, func(ctx *context.Context, x, r *graph.Node) []*graph.Node {
				ctx = ctx.In("layer").Checked(false)
				y := conv(ctx, x)
				loss := graph.ReduceAllSum(graph.Mul(y, r))
				wv := ctx.In(nn.ConvScope).GetVariable("weights").ValueGraph(x.Graph())
				bv := ctx.In(nn.ConvScope).GetVariable("biases").ValueGraph(x.Graph())
				return append([]*graph.Node{y}, graph.Gradient(loss, x, wv, bv)...)
			})
		}
		ours := build(func(ctx *context.Context, x *graph.Node) *graph.Node { return convNarrow(ctx, x, tc.out) })
		ref := build(func(ctx *context.Context, x *graph.Node) *graph.Node { return nn.Conv2D(ctx, x, tc.out, 3, 1, true) })
		ours.MustExec(x, r)
		var vars []*context.Variable
		for v := range ctx.In("layer").IterVariablesInScope() {
			vars = append(vars, v)
		}
		if len(vars) != 2 {
			t.Fatalf("want 2 variables (weights, biases), got %d", len(vars))
		}
		perturbList(vars, 1, 1) // moves the zero bias too
		got, want := ours.MustExec(x, r), ref.MustExec(x, r)
		for i, what := range []string{"y", "dx", "dweights", "dbiases"} {
			if d := maxAbsDiff(flat64(got[i]), flat64(want[i])); d > 1e-12 {
				t.Errorf("%+v: %s differs from nn.Conv2D by %.3g", tc, what, d)
			}
		}
	}
}
