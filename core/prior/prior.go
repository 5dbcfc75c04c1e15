// Package prior defines priors on clean images other than the learned diffusion model:
// hand-made regularizers of older computational-imaging work (total variation, sparsity) and
// priors served by plugins. A Prior adds lambda_extra * E(x) to the flow's loss (core/train)
// through gradient injection: the energy and its gradient are computed outside the GoMLX graph
// and the surrogate term <stopgrad(dE/dx), x> carries the gradient into the flow.
//
// Images are float32 batches [N,H,W,C] with intensities in [0,1].
package prior

import (
	"context"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Prior is a differentiable energy E(x) = -log p(x) + const on clean images.
type Prior interface {
	// Energy returns the per-sample energies [N] and the gradient of their sum with respect
	// to x, shaped like x.
	Energy(ctx context.Context, x *batch.Batch) (energy []float64, grad *batch.Batch, err error)
}
