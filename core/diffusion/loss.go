package diffusion

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TimeSampling says how LossInputs draws the step of each sample.
type TimeSampling int

const (
	// Uniform draws t uniformly from 1..T; the ELBO weight of step t is then T·w_t.
	Uniform TimeSampling = iota
	// Importance draws t with probability w_t / Σw (Schedule.SampleImportance); the ELBO weight is
	// then the constant ELBOTotal = Σw, a lower-variance estimator (w_t spans orders of magnitude).
	Importance
)

// String names the sampling scheme.
func (s TimeSampling) String() string {
	switch s {
	case Uniform:
		return "uniform"
	case Importance:
		return "importance"
	}
	return fmt.Sprintf("TimeSampling(%d)", int(s))
}

// LossInputs are the random inputs of one evaluation of DenoiseLoss or PriorTerm for a batch of
// N samples, drawn on the host (so a run is reproducible from its seed).
type LossInputs struct {
	Steps []int // step index 0..T-1 per sample (index i is step t = i+1)
	// T is Steps as float32, EpsModel's t input; SqrtAbar and SqrtOneMinusAbar are
	// sqrt(abar_t) and sqrt(1-abar_t); Weight is the ELBO weight of the step under the sampling
	// used (T·w_t for Uniform, ELBOTotal for Importance). All [N].
	T, SqrtAbar, SqrtOneMinusAbar, Weight []float32
	Eps                                   *batch.Batch // eps ~ N(0, I), shaped like x0
}

// LossInputs draws, for a batch of the given shape, one step per sample (uniform or
// importance-sampled) and the Gaussian noise eps. It is deterministic given rng: the steps are
// drawn first, then eps in the batch's row-major order.
func (s *Schedule) LossInputs(rng *rand.Rand, shape batch.Shape, how TimeSampling) LossInputs {
	var steps []int
	var weight func(i int) float64
	switch how {
	case Importance:
		steps = s.SampleImportance(rng, shape.N)
		weight = func(int) float64 { return s.ELBOTotal }
	default:
		steps = s.SampleUniform(rng, shape.N)
		weight = func(i int) float64 { return float64(s.Steps()) * s.ELBOWeight[i] }
	}
	in := LossInputs{Steps: steps, T: make([]float32, shape.N), Weight: make([]float32, shape.N)}
	in.SqrtAbar, in.SqrtOneMinusAbar = s.Coefficients(steps)
	for k, i := range steps {
		in.T[k] = float32(i)
		in.Weight[k] = float32(weight(i))
	}
	in.Eps = batch.New(shape.N, shape.H, shape.W, shape.C)
	for i := range in.Eps.Data {
		in.Eps.Data[i] = float32(rng.NormFloat64())
	}
	return in
}

// Noised returns x_t = sqrt(abar_t)·x0 + sqrt(1-abar_t)·eps for x0 and eps [N, H, W, C] and the
// per-sample coefficients sqrtAbar, sqrtOneMinusAbar [N].
func Noised(x0, eps, sqrtAbar, sqrtOneMinusAbar *graph.Node) *graph.Node {
	return graph.Add(graph.Mul(perSample(sqrtAbar, x0), x0), graph.Mul(perSample(sqrtOneMinusAbar, eps), eps))
}

// residualSquares returns Σ_pixels (eps - eps_theta(x_t, t))² per sample, [N].
func residualSquares(ctx *context.Context, cfg UNetConfig, x0, eps, t, sqrtAbar, sqrtOneMinusAbar *graph.Node) *graph.Node {
	checkLossArgs(x0, eps, t, sqrtAbar, sqrtOneMinusAbar)
	pred := EpsModel(ctx, cfg, Noised(x0, eps, sqrtAbar, sqrtOneMinusAbar), t)
	return graph.ReduceSum(graph.Square(graph.Sub(eps, pred)), 1, 2, 3)
}

// DenoiseLoss is the unweighted denoising loss L_dm the diffusion model trains on (Ho et al.
// 2020, eq. 14, "L_simple"), as a scalar:
//
//	L_dm = 1/(N·D) Σ_n || eps_n - eps_theta(sqrt(abar_{t_n}) x0_n + sqrt(1-abar_{t_n}) eps_n, t_n) ||²
//
// the mean over the batch and the D = H·W·C pixels of each image. x0 and eps are [N, H, W, C];
// t, sqrtAbar and sqrtOneMinusAbar are [N] (see Schedule.LossInputs), all of x0's dtype.
// Gradients flow to the U-Net's variables and to x0 (wrap x0 in graph.StopGradient for the
// diffusion step on flow samples, x0 = stopgrad(G_phi(z; y))).
func DenoiseLoss(ctx *context.Context, cfg UNetConfig, x0, eps, t, sqrtAbar, sqrtOneMinusAbar *graph.Node) *graph.Node {
	r := residualSquares(ctx, cfg, x0, eps, t, sqrtAbar, sqrtOneMinusAbar)
	return graph.DivScalar(graph.ReduceAllMean(r), float64(x0.Shape().Size()/x0.Shape().Dimensions[0]))
}

// PriorTerm is the per-sample ELBO estimate of -log p_theta(x0) up to a constant, the flow's
// prior term L_prior (Ho et al. 2020, eq. 12; docs/design.md), shaped [N]:
//
//	L_prior(x0_n) ≈ weight_n · || eps_n - eps_theta(x_t, t_n) ||²     (sum over the pixels)
//
// an unbiased one-sample estimate of Σ_t w_t E_eps||eps - eps_theta(x_t, t)||² when
//   - t_n is uniform over 1..T and weight_n = T·w_{t_n} (Uniform), or
//   - t_n is drawn with probability w_t/Σw and weight_n = Σw = ELBOTotal (Importance, lower
//     variance),
//
// with w_t = beta_t / (2 alpha_t (1-abar_t)) (Schedule.ELBOWeight). Schedule.LossInputs draws
// matching t and weights. Gradients flow to x0 (the flow's samples) and to the U-Net's
// variables (the flow step keeps them fixed by not updating them).
func PriorTerm(ctx *context.Context, cfg UNetConfig, x0, eps, t, sqrtAbar, sqrtOneMinusAbar, weight *graph.Node) *graph.Node {
	if weight.Rank() != 1 || weight.Shape().Dimensions[0] != x0.Shape().Dimensions[0] {
		panic(fmt.Sprintf("diffusion.PriorTerm: want weight [%d], got %s", x0.Shape().Dimensions[0], weight.Shape()))
	}
	r := residualSquares(ctx, cfg, x0, eps, t, sqrtAbar, sqrtOneMinusAbar)
	return graph.Mul(matchDType(weight, r), r)
}

// PriorTermAndLoss returns PriorTerm and DenoiseLoss of the same x0, eps and t from one U-Net
// evaluation, for the joint step that trains the flow on the prior term and the U-Net on the
// denoising loss of the flow's samples in one graph (core/train): the two terms share the
// noised input and the U-Net's forward pass. Gradients of loss reach x0 too; the caller takes
// only the U-Net's (the diffusion step's stopgrad(x0) in effect), and the flow's from prior.
func PriorTermAndLoss(ctx *context.Context, cfg UNetConfig, x0, eps, t, sqrtAbar, sqrtOneMinusAbar, weight *graph.Node) (prior, loss *graph.Node) {
	if weight.Rank() != 1 || weight.Shape().Dimensions[0] != x0.Shape().Dimensions[0] {
		panic(fmt.Sprintf("diffusion.PriorTermAndLoss: want weight [%d], got %s", x0.Shape().Dimensions[0], weight.Shape()))
	}
	r := residualSquares(ctx, cfg, x0, eps, t, sqrtAbar, sqrtOneMinusAbar)
	prior = graph.Mul(matchDType(weight, r), r)
	loss = graph.DivScalar(graph.ReduceAllMean(r), float64(x0.Shape().Size()/x0.Shape().Dimensions[0]))
	return prior, loss
}

// checkLossArgs panics unless x0 and eps are [N, H, W, C] alike and the rest are [N].
func checkLossArgs(x0, eps *graph.Node, perSampleArgs ...*graph.Node) {
	if x0.Rank() != 4 || !x0.Shape().Equal(eps.Shape()) {
		panic(fmt.Sprintf("diffusion: want x0 and eps [N, H, W, C] of one shape, got %s and %s", x0.Shape(), eps.Shape()))
	}
	n := x0.Shape().Dimensions[0]
	for _, a := range perSampleArgs {
		if a.Rank() != 1 || a.Shape().Dimensions[0] != n {
			panic(fmt.Sprintf("diffusion: want per-sample inputs shaped [%d], got %s", n, a.Shape()))
		}
	}
}

// perSample reshapes the per-sample values s [N] to [N, 1, 1, 1] in x's dtype, to broadcast
// against x [N, H, W, C].
func perSample(s, x *graph.Node) *graph.Node {
	return graph.Reshape(matchDType(s, x), s.Shape().Dimensions[0], 1, 1, 1)
}

// matchDType converts a to b's dtype if they differ.
func matchDType(a, b *graph.Node) *graph.Node {
	if a.DType() != b.DType() {
		return graph.ConvertDType(a, b.DType())
	}
	return a
}
