// Package part is the contract every part of a FlowDiff-Go pipeline implements, built in or
// served by a plugin: forward operators A and noise models N (the observation model
// y = N(A(x))), priors on clean images, and image-quality metrics. It holds the interfaces and
// the per-sample parameters, nothing else, and imports no machine-learning engine: a plugin
// author links this package, core/batch and plugins/sdk, not GoMLX. The in-graph,
// differentiable forms that training uses (GraphOperator, GraphNoise) stay with the engine in
// core/operators.
//
// # Tensor layout and units
//
// Every image batch is a core/batch.Batch: dense float32 in [batch, height, width, channels]
// (NHWC) layout, row-major. Clean intensities are normalized to [0, 1] (core/data says how);
// observations may leave that range (noise is not clipped). Per-sample values ([]float64) are
// indexed by the batch axis.
//
// # The maths each interface states
//
//   - Operator: x ↦ A(x), and the vector-Jacobian product J_A(x)ᵀ v (the adjoint Aᵀ v for a
//     linear A), the two quantities the flow objective and DPS need. Params are the operator's
//     per-sample parameters (a mask per image, a defocus per particle), drawn by SampleParams
//     from an explicit random stream so equal seeds give equal observations.
//   - NoiseModel: draws y ~ p(y | A(x)) and gives NLL(y | a) = -log p(y | a) summed over each
//     image's pixels (up to constants in a that the model documents) and its gradient in a.
//   - Prior: an energy E(x) = -log p(x) + const per image and ∇_x Σ E.
//   - Metric: one value per (reference, image) pair; SetMetric: one value per pair of sets.
//
// # Lifecycle
//
// A part is built once per run from its registry entry (registry.Entry.New, which takes the
// run's context: a plugin part starts its process and is configured there) and used by every
// stage. A part that holds resources implements io.Closer; the run closes it at its end, on
// success and on failure alike (a plugin part then releases its handle in the plugin). Every
// call that can block takes a context.Context first; a part must return promptly once it is
// cancelled.
package part

import (
	"context"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Operator is a forward operator A acting on batches [N,H,W,C].
type Operator interface {
	// OutShape returns the shape of A(x) for an input of shape in, or an error if the operator
	// cannot act on it.
	OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error)
	// SampleParams draws the per-sample parameters for a batch of shape in (nil when the
	// operator has none). It is deterministic given rng (math/rand/v2).
	SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (Params, error)
	// Apply returns A(x) with the per-sample parameters p.
	Apply(ctx context.Context, x *batch.Batch, p Params) (*batch.Batch, error)
	// VJP returns J_A(x)ᵀ v, shaped like x, for v shaped like A(x) (Aᵀ v for a linear A).
	VJP(ctx context.Context, x, v *batch.Batch, p Params) (*batch.Batch, error)
}

// LinearOperator is an operator that says whether it is linear in x for fixed Params:
// A(αx + βx') = αA(x) + βA(x').
type LinearOperator interface {
	Operator
	IsLinear() bool
}

// IsLinear reports whether op declares itself linear.
func IsLinear(op Operator) bool {
	l, ok := op.(LinearOperator)
	return ok && l.IsLinear()
}

// NoiseModel is the noise N of y = N(A(x)), independent per element given a = A(x).
type NoiseModel interface {
	// Sample draws y given ax = A(x); deterministic given rng (math/rand/v2).
	Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error)
	// NLL returns the per-sample negative log-likelihood -log p(y | ax), summed over the pixels
	// of each image, up to constants in ax that each model documents.
	NLL(ctx context.Context, y, ax *batch.Batch) ([]float64, error)
	// NLLGrad returns d(Σ_samples NLL)/d(ax), shaped like ax.
	NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error)
}

// NoiseMoments is a noise model that states the elementwise mean E[y | a] and variance
// Var[y | a]; the conformance suite checks samples against them.
type NoiseMoments interface {
	Moments(ctx context.Context, ax *batch.Batch) (mean, variance *batch.Batch, err error)
}

// Prior is a differentiable energy E(x) = -log p(x) + const on clean images.
type Prior interface {
	// Energy returns the per-sample energies [N] and the gradient of their sum with respect
	// to x, shaped like x.
	Energy(ctx context.Context, x *batch.Batch) (energy []float64, grad *batch.Batch, err error)
}

// Metric compares images to references, image by image.
type Metric interface {
	// Compute returns one value per image pair. ref and img must have equal shapes.
	Compute(ctx context.Context, ref, img *batch.Batch) ([]float64, error)
	// HigherIsBetter tells readers and regression checks which direction is an improvement.
	HigherIsBetter() bool
}

// SetMetric compares two sets of images as distributions (FID, KID), not image by image: the
// sets need not be paired or of equal size.
type SetMetric interface {
	// CompareSets returns one value for the set img against the reference set ref. A set the
	// metric cannot read (for example not 28x28 grayscale for an MNIST classifier) is an
	// error, never a value.
	CompareSets(ctx context.Context, ref, img *batch.Batch) (float64, error)
	// HigherIsBetter tells readers and regression checks which direction is an improvement.
	HigherIsBetter() bool
	// MinSetSize is the smallest set the metric accepts.
	MinSetSize() int
}
