// Package operators holds FlowDiff-Go's built-in forward operators A and noise models N, the
// two halves of the observation model
//
//	y = N(A(x))
//
// on batches of images in [batch, height, width, channels] (NHWC) layout, float32 (see
// core/batch). Every part registers itself in the registry at init under a namespaced ID
// (blur.gaussian, mask.random, noise.poisson, ...), with a config struct whose tags document
// unit, range and default (see core/schema); docs/operators.md states the maths of each.
//
// # The contract
//
// An Operator maps a batch x to A(x) and gives the vector-Jacobian product J_A(x)ᵀ v (the
// adjoint Aᵀ v for a linear operator), the two things the flow objective and DPS need. An
// operator may carry per-sample parameters (a mask per image, a mixture choice per image):
// SampleParams draws them from an explicit *rand.Rand (so equal seeds give equal parameters),
// and they travel with each observation as Params, a map from documented keys to batches whose
// leading axis is the sample axis. A NoiseModel samples y given A(x) and gives the per-sample
// negative log-likelihood -log p(y | A(x)) and its gradient in A(x).
//
// Optional abilities are small interfaces found by type assertion: LinearOperator (A is linear
// in x for fixed Params), GraphOperator and GraphNoise (an in-graph, differentiable GoMLX form
// of Apply and NLL, used inside training graphs).
//
// # Boundaries
//
// Blurs are "same"-size convolutions with zero padding: pixels outside the image are 0, in
// Apply and in VJP alike, so VJP is the exact adjoint of Apply. Convolution follows
// scipy.signal.convolve2d(mode="same"): y[i,j] = Σ_{a,b} k[a,b] x[i+cy-a, j+cx-b] with the
// kernel center (cy, cx) = ((kh-1)/2, (kw-1)/2) (integer division). Each channel is blurred
// with the same kernel, independently.
//
// # In-graph forms and the pure-Go backend
//
// SimpleGo (GoMLX's "go" backend) runs ConvGeneral slowly and cannot differentiate it, and it
// builds the gradient of DotGeneral as a materialized broadcast product. The in-graph forms are
// therefore written as matrix products and elementwise products, and every linear in-graph form
// carries its own adjoint: withAdjoint builds A(x) on a stop-gradient copy of x and routes the
// incoming gradient v through an explicitly built Aᵀ v (see graph.go), so autodiff never
// differentiates a DotGeneral or a Slice. A Gaussian blur is two banded matrix products
// ([H,H] and [W,W]: the exact zero-padded "same" convolution, since the kernel is separable);
// any other kernel is one dense [HW,HW] product or a sum of shifted windows of the zero-padded
// image, whichever is cheaper for the kernel's taps and the image size (useDense; never dense
// above DenseMaxPixels pixels); masks are products; downsampling is a reshape and a mean.
// docs/benchmarks-operators.md has the measured figures behind these choices.
package operators
