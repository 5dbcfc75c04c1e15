// Package nn holds the neural-network layers of FlowDiff-Go, written so that they train on every
// GoMLX backend and train fast on the pure-Go one (SimpleGo, backend "go").
//
// # Why this package exists
//
// GoMLX v0.26.0 builds the gradient of DotGeneral (and of Dot) as a broadcast multiply followed by
// a reduce, materializing an [N,K,M] tensor; SimpleGo executes that literally, 20-100x slower than
// the forward product. SimpleGo also has no Pad, Reverse or SelectAndScatter, so the stock
// gradients of Slice, ConvGeneral and MaxPool fail there, and ConvGeneral itself runs at a
// twentieth of the matmul rate (see docs/benchmarks-nn.md for the figures on this project's
// machines).
//
// The package therefore:
//
//   - replaces entries of graph.VJPRegistration (Install, run once from init) with rules that
//     emit plain DotGenerals for matrix products (dA = v·Bᵀ, dB = Aᵀ·v, generalized to any
//     batch/contracting axes) and that scatter the adjoint of a Slice back by zero
//     Concatenation (with zero interleaving for strides) instead of Pad. A node's parameters are
//     not exported by GoMLX, so the rules apply to nodes built by this package's wrappers
//     (DotGeneral, MatMul, Slice), whose parameters are recorded in a table keyed by node;
//     every other node falls back to GoMLX's original rule. Dot nodes (graph.Dot, used by
//     layers.Dense) carry no parameters beyond their ranks and get the fast rule everywhere.
//     Rsqrt and Expm1, which have no gradient in GoMLX v0.26.0, get one.
//   - writes convolutions on the "go" backend as im2col: zero padding by Concatenate, k·k
//     shifted (optionally strided) windows by Slice, channel concatenation and one matmul, which
//     runs forward and backward at close to the matmul rate. On other backends (xla) it uses
//     graph.Convolve, the native op (see PortableOps). The formulation is planned per shape
//     (planConv): the bias is one more contraction term; at stride 1 the gradient in x is a
//     transposed convolution where that is cheaper than scattering k·k windows; a convolution
//     to fewer channels than it reads multiplies first and shifts the products after
//     (conv_shift.go), nine out-channel windows instead of nine in-channel ones.
//
// Create the pure-Go backend with PortableBackendConfig ("go:ops_parallel,parallelism=-1"):
// with GoMLX's default worker pool, SimpleGo v0.26.0 deadlocks on graphs with several
// concurrently ready batched matmuls (an attention block's gradient, a ResBlock's on 2 cores;
// see PortableBackendConfig). Measured figures are in docs/benchmarks-nn.md.
//
// Every layer scopes its variables with ctx.In(name), creates them with the input's dtype
// (float32 or float64) and works on NHWC tensors [batch, height, width, channels]; dense layers
// act on the last axis with any leading axes.
package nn
