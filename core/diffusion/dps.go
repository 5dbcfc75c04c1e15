package diffusion

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// DefaultDPSZeta is the default DPS step size zeta on the gradient of the residual norm. Chung
// et al. (2022) step zeta'/||y - A(x0_hat)|| along the gradient of the squared norm, that is
// 2·zeta' along the gradient of the norm; their zeta' = 0.5 gives this zeta = 1.
const DefaultDPSZeta = 1.0

// dpsNormFloor is added to the squared residual before its square root so that the norm's
// gradient stays finite (0) when a residual is exactly zero.
const dpsNormFloor = 1e-20

// DPSProblem is an inverse problem for diffusion posterior sampling: observations y of unknown
// images x through a forward operator, y ≈ A(x) (any noise model: DPS needs only A).
type DPSProblem struct {
	// Op is the forward operator A. One with an in-graph form (operators.HasGraph) is
	// differentiated inside the step graph; any other (a plugin's, or one hidden by
	// operators.Opaque) takes part by gradient injection (see DPS).
	Op part.Operator
	// Params are A's per-sample parameters for the batch (nil when A has none); each value's
	// leading axis is the batch's.
	Params part.Params
	// Y holds the observations, shaped like A(x) for the batch.
	Y *batch.Batch
	// Zeta is the step size zeta > 0 on the gradient of the residual norm; 0 means DefaultDPSZeta.
	Zeta float64
	// Weight, when set, weights the residual per observation pixel: the guidance norm becomes
	// sqrt(Σ_j w_j r_j²), Chung et al.'s ||y - A(x0_hat)||_Λ with Λ = diag(w). They use
	// Λ_jj ∝ 1/y_j for Poisson noise (their Algorithm 2); nil is the plain norm of Gaussian
	// noise (Algorithm 1). Shaped like Y. DPSWeights derives it from a noise model.
	Weight *batch.Batch
	// Steps, when 0 or the schedule's T, runs DDPM's T ancestral steps (Algorithm 1). A smaller
	// count visits Schedule.DDIMSteps(Steps) with DDIM's eta = 1 transitions (the DDPM
	// posterior between the visited steps), one guidance step each: fewer U-Net evaluations,
	// and each guidance step must then move farther, so the best zeta grows as Steps shrinks.
	Steps int
}

// DPS draws shape.N images from the approximate posterior p(x | y) by diffusion posterior
// sampling (Chung et al. 2022, "Diffusion Posterior Sampling for General Noisy Inverse
// Problems", Algorithm 1): after each ancestral step x_t -> x'_{t-1} (as Ancestral),
//
//	x0_hat  = (x_t - sqrt(1-abar_t) eps_theta(x_t, t)) / sqrt(abar_t)
//	x_{t-1} = x'_{t-1} - zeta · grad_{x_t} Σ_n || y_n - A(x0_hat)_n ||
//
// with the norm taken per sample n: the sum over the batch gives each sample the gradient of its
// own norm, so a sample's result does not depend on its batch. x0_hat is unclipped in the
// guidance term (SampleOptions.Clip acts on the ancestral step only: a clipped estimate passes
// no gradient). The gradient runs through the U-Net and A inside one compiled step graph,
// reused for every t (compiled once per call). Image n uses sample n of Y and Params; the noise
// follows opt as for Ancestral. Deterministic given opt.Seed.
//
// An operator without in-graph form enters by gradient injection, two graph executions per
// step: the first computes x0_hat(x_t); the host computes r_n = A(x0_hat)_n - y_n and
// g = J_A(x0_hat)ᵀ (w ⊙ r_n / ||r_n||_w), the gradient of Σ_n ||y_n - A(x0_hat)_n||_w in x0_hat
// (the norm floored as in the graph: sqrt(Σ_j w_j r_j² + 1e-20); w = 1 without Weight); the
// second runs the step again and takes the gradient of <stopgrad(g), x0_hat> in x_t through
// the U-Net, which is the same gradient by the chain rule.
func (s *Sampler) DPS(ctx context.Context, shape batch.Shape, p DPSProblem, opt SampleOptions) (*batch.Batch, error) {
	if p.Op == nil || p.Y == nil {
		return nil, fmt.Errorf("dps: an operator and observations are required")
	}
	if p.Y.N != shape.N {
		return nil, fmt.Errorf("dps: %d observations for a batch of %d", p.Y.N, shape.N)
	}
	keys := p.Params.Keys()
	for _, k := range keys {
		if v := p.Params[k]; v == nil || v.N != shape.N {
			return nil, fmt.Errorf("dps: operator parameter %q must hold %d samples", k, shape.N)
		}
	}
	zeta := p.Zeta
	if zeta == 0 {
		zeta = DefaultDPSZeta
	}
	if zeta < 0 {
		return nil, fmt.Errorf("dps: zeta must be > 0, got %v", zeta)
	}
	if p.Steps < 0 {
		return nil, fmt.Errorf("dps: steps must be >= 0 (0: all %d), got %d", s.sched.Steps(), p.Steps)
	}
	if p.Weight != nil && p.Weight.Shape != p.Y.Shape {
		return nil, fmt.Errorf("dps: weights of shape %s for observations of shape %s", p.Weight.Shape, p.Y.Shape)
	}
	weighted := p.Weight != nil
	gop, ok := p.Op.(operators.GraphOperator)
	if !ok || !operators.HasGraph(p.Op) {
		return s.dpsInjected(ctx, shape, p, zeta, opt)
	}
	exec, err := mlctx.NewExec(s.backend, s.model, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
		xt, y := in[0], in[numStepInputs]
		off := numStepInputs + 1
		if weighted {
			off++
		}
		params := make(map[string]*graph.Node, len(keys))
		for i, k := range keys {
			params[k] = in[off+i]
		}
		prev, x0 := reverseStep(ctx, s.eps, in)
		r2 := graph.Square(graph.Sub(y, gop.ApplyGraph(x0, params)))
		if weighted {
			r2 = graph.Mul(r2, in[numStepInputs+1])
		}
		norm := graph.Sqrt(graph.AddScalar(graph.ReduceSum(r2, 1, 2, 3), dpsNormFloor))
		grad := graph.Gradient(graph.ReduceAllSum(norm), xt)[0]
		return graph.Sub(prev, graph.MulScalar(grad, zeta))
	})
	if err != nil {
		return nil, fmt.Errorf("dps: %w", err)
	}
	defer exec.Finalize()
	step := func(x, z *batch.Batch, c stepCoef, clip [2]float64) (*batch.Batch, error) {
		args := append(c.args(x, z, clip), p.Y)
		if weighted {
			args = append(args, p.Weight)
		}
		for _, k := range keys {
			args = append(args, p.Params[k])
		}
		out, err := execImages(exec, args...)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	return s.run(ctx, shape, opt, s.dpsCoefs(p), step)
}

// dpsCoefs returns the step coefficients of DPS: DDPM's T ancestral steps, or DDIM's eta = 1
// transitions over p.Steps visited steps when 0 < p.Steps < T.
func (s *Sampler) dpsCoefs(p DPSProblem) []stepCoef {
	if p.Steps > 0 && p.Steps < s.sched.Steps() {
		return s.ddimCoefs(p.Steps, 1)
	}
	return s.ancestralCoefs()
}

// DPSWeights returns the per-pixel residual weights (DPSProblem.Weight) of DPS for noise model
// nm at observations y: nil (the plain residual norm, Chung et al. 2022 Algorithm 1) for
// Gaussian noise, for a nil nm and for models that do not state their variance
// (part.NoiseMoments); otherwise w_j = mean(v)/v_j with v_j the noise variance at y_j (floored
// at 1% of the mean variance), which is Algorithm 2's Λ_jj ∝ 1/y_j for Poisson noise, scaled
// so that the mean weight is 1 and zeta keeps its meaning. Shaped like y.
func DPSWeights(ctx context.Context, nm part.NoiseModel, y *batch.Batch) (*batch.Batch, error) {
	if _, gaussian := nm.(*operators.GaussianNoise); gaussian || nm == nil {
		return nil, nil
	}
	mom, ok := nm.(part.NoiseMoments)
	if !ok {
		return nil, nil
	}
	_, v, err := mom.Moments(ctx, y)
	if err != nil {
		return nil, fmt.Errorf("dps weights: %w", err)
	}
	var mean float64
	for _, x := range v.Data {
		mean += float64(x) / float64(len(v.Data))
	}
	if !(mean > 0) {
		return nil, nil
	}
	w := batch.New(y.N, y.H, y.W, y.C)
	for i, x := range v.Data {
		w.Data[i] = float32(mean / max(float64(x), 0.01*mean))
	}
	return w, nil
}
