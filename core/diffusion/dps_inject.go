package diffusion

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// dpsInjected is DPS for an operator without in-graph form (see DPS): per step, x0_hat from
// one graph, the residual-norm gradient g in x0_hat from the operator on the host
// (dpsResidualGrad), and the step with the guidance J_{x0_hat}(x_t)ᵀ g from a second graph.
func (s *Sampler) dpsInjected(ctx context.Context, shape batch.Shape, p DPSProblem, zeta float64, opt SampleOptions) (*batch.Batch, error) {
	x0Exec, err := mlctx.NewExec(s.backend, s.model, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
		_, x0 := reverseStep(ctx, s.eps, in)
		return x0
	})
	if err != nil {
		return nil, fmt.Errorf("dps: %w", err)
	}
	defer x0Exec.Finalize()
	guided, err := mlctx.NewExec(s.backend, s.model, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
		xt, g := in[0], in[numStepInputs]
		prev, x0 := reverseStep(ctx, s.eps, in)
		surrogate := graph.ReduceAllSum(graph.Mul(graph.StopGradient(g), x0))
		grad := graph.Gradient(surrogate, xt)[0]
		return graph.Sub(prev, graph.MulScalar(grad, zeta))
	})
	if err != nil {
		return nil, fmt.Errorf("dps: %w", err)
	}
	defer guided.Finalize()
	step := func(x, z *batch.Batch, c stepCoef, clip [2]float64) (*batch.Batch, error) {
		args := c.args(x, z, clip)
		x0, err := execImages(x0Exec, args...)
		if err != nil {
			return nil, err
		}
		g, err := dpsResidualGrad(ctx, p, x0[0])
		if err != nil {
			return nil, err
		}
		out, err := execImages(guided, append(args, g)...)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	return s.run(ctx, shape, opt, s.dpsCoefs(p), step)
}

// dpsResidualGrad returns the gradient in x0 of Σ_n sqrt(Σ_j w_j r_nj² + dpsNormFloor):
// J_A(x0)ᵀ v with v_n = w ⊙ r_n / sqrt(Σ_j w_j r_nj² + dpsNormFloor), r = A(x0) - y, and
// w = p.Weight (1 when nil).
func dpsResidualGrad(ctx context.Context, p DPSProblem, x0 *batch.Batch) (*batch.Batch, error) {
	ax, err := p.Op.Apply(ctx, x0, p.Params)
	if err != nil {
		return nil, fmt.Errorf("dps: forward operator: %w", err)
	}
	if ax.Shape != p.Y.Shape {
		return nil, fmt.Errorf("dps: A(x) has shape %s, the observations %s", ax.Shape, p.Y.Shape)
	}
	v := batch.New(ax.N, ax.H, ax.W, ax.C)
	sz := ax.ImageSize()
	for n := range ax.N {
		w := func(i int) float64 {
			if p.Weight == nil {
				return 1
			}
			return float64(p.Weight.Data[i])
		}
		var sq float64
		for i := n * sz; i < (n+1)*sz; i++ {
			r := float64(ax.Data[i]) - float64(p.Y.Data[i])
			sq += w(i) * r * r
		}
		inv := 1 / math.Sqrt(sq+dpsNormFloor)
		for i := n * sz; i < (n+1)*sz; i++ {
			v.Data[i] = float32(w(i) * (float64(ax.Data[i]) - float64(p.Y.Data[i])) * inv)
		}
	}
	g, err := p.Op.VJP(ctx, x0, v, p.Params)
	if err != nil {
		return nil, fmt.Errorf("dps: operator VJP: %w", err)
	}
	if g.Shape != x0.Shape {
		return nil, fmt.Errorf("dps: operator VJP has shape %s, want %s", g.Shape, x0.Shape)
	}
	return g, nil
}
