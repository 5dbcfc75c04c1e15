// Package prior defines priors on clean images other than the learned diffusion model:
// hand-made regularizers of older computational-imaging work (total variation, sparsity) and
// priors served by plugins. A Prior named in train.priors adds w * E(x) / D (its weight w, per
// pixel) to the flow's loss (core/train) through gradient injection: the energy and its
// gradient are computed outside the GoMLX graph and the surrogate term <stopgrad(dE/dx), x>
// carries the gradient into the flow.
//
// Built-ins (registered as kind prior): prior.tv, the Charbonnier-smoothed isotropic total
// variation, and prior.l1, the smoothed l1 norm of the intensities (builtin.go).
// registry/conformance.CheckPrior checks any implementation (one energy per sample,
// independent of the batch; the gradient against finite differences).
//
// Images are float32 batches [N,H,W,C] with intensities in [0,1].
package prior
