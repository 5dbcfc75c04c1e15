package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

const (
	// GroupNormScope is the scope GroupNorm creates its variables under.
	GroupNormScope = "group_norm"
	// GroupNormEpsilon is added to the group variance before the square root.
	GroupNormEpsilon = 1e-5
	// DefaultGroupNormGroups is the number of groups DDPM uses (Wu & He 2018 default); NormGroups
	// lowers it to a divisor of the channel count.
	DefaultGroupNormGroups = 32

	// ActNormScope is the scope ActNorm and ActNormInverse use.
	ActNormScope = "act_norm"
)

// NormGroups returns the largest divisor of channels that is at most DefaultGroupNormGroups and
// leaves at least MinGroupChannels channels in each group (1 when channels < 2*MinGroupChannels).
// MinGroupChannels is the fewest channels NormGroups puts in one group.
const MinGroupChannels = 4

func NormGroups(channels int) int {
	// At least MinGroupChannels channels per group: with one channel per group GroupNorm
	// becomes instance norm and removes any per-channel shift added before it (ResBlock's time
	// embedding vanished that way for 32 or fewer channels).
	for g := min(DefaultGroupNormGroups, channels/MinGroupChannels); g > 1; g-- {
		if channels%g == 0 {
			return g
		}
	}
	return 1
}

// GroupNorm normalizes x, shaped [batch, ..., channels] (NHWC for images), over each group of
// channels/groups consecutive channels and all the axes between batch and channels (Wu & He
// 2018, "Group Normalization"):
//
//	y = (x - μ_{n,g}) / sqrt(σ²_{n,g} + GroupNormEpsilon) · γ_c + β_c
//
// with μ and σ² the mean and biased variance over the group. Variables, under
// ctx.In(GroupNormScope): scale γ [channels] (ones) and offset β [channels] (zeros).
//
// It is computed as one per-sample, per-channel affine map y = x·a_{n,c} + b_{n,c}, with
// a = γ_c/sqrt(σ² + ε) and b = β_c - μ·a, and σ² = E[x²] - μ² (clamped at 0) from the two
// sums Σx and Σx² over each group: the full-size work is two reductions, a square, and one
// multiply and one add against a and b broadcast explicitly. SimpleGo broadcasts operands of a
// binary op with an index iterator per element and per operand, so this takes half the passes
// of the textbook form (centre, scale, then γ and β), each of them a broadcast. The variance
// from the two sums loses float32 precision when |μ| is much larger than σ (relative error about
// 1e-7·μ²/σ²), which the activations of a network in training do not reach. It uses only
// Reshape, ReduceSum, BroadcastInDim, elementwise ops and Rsqrt (whose gradient this package
// registers).
func GroupNorm(ctx *context.Context, x *graph.Node, groups int) *graph.Node {
	d := x.Shape().Dimensions
	if x.Rank() < 2 || groups < 1 || d[x.Rank()-1]%groups != 0 {
		panic(fmt.Sprintf("nn.GroupNorm: need x [batch, ..., channels] with channels divisible by groups, got %s, %d groups",
			x.Shape(), groups))
	}
	ctx = ctx.In(GroupNormScope)
	g := x.Graph()
	n, c := d[0], d[x.Rank()-1]
	cg := c / groups
	spatial := x.Shape().Size() / (n * c)
	count := float64(spatial * cg)
	xr := graph.Reshape(x, n, spatial, groups, cg)
	mean := graph.DivScalar(graph.ReduceSum(xr, 1, 3), count)                 // [n, groups]
	meanSq := graph.DivScalar(graph.ReduceSum(graph.Square(xr), 1, 3), count) // [n, groups]
	variance := graph.Max(graph.Sub(meanSq, graph.Square(mean)), graph.ZerosLike(mean))
	rstd := graph.Reshape(graph.Rsqrt(graph.AddScalar(variance, GroupNormEpsilon)), n, groups, 1)
	scale := ctx.WithInitializer(initializers.One).VariableWithShape("scale", shapeOf(x, c)).ValueGraph(g)
	offset := ctx.WithInitializer(initializers.Zero).VariableWithShape("offset", shapeOf(x, c)).ValueGraph(g)
	a := graph.Mul(rstd, graph.Reshape(scale, 1, groups, cg))                                             // [n, groups, cg]
	b := graph.Sub(graph.Reshape(offset, 1, groups, cg), graph.Mul(graph.Reshape(mean, n, groups, 1), a)) // [n, groups, cg]
	full := func(v *graph.Node) *graph.Node {
		return graph.BroadcastToDims(graph.Reshape(v, n, 1, groups, cg), n, spatial, groups, cg)
	}
	y := graph.Add(graph.Mul(xr, full(a)), full(b))
	return graph.Reshape(y, d...)
}

// ActNorm is the per-channel affine layer of Glow (Kingma & Dhariwal 2018) on x shaped
// [batch, ..., channels]:
//
//	y = (x + b_c) · exp(s_c),   log|det ∂y/∂x| = P · Σ_c s_c   per sample
//
// with P the number of positions per sample (product of the axes between batch and channels).
// Variables, under ctx.In(ActNormScope): "bias" b and "log_scale" s, both [channels], zeros (the
// identity). Glow's data-dependent initialization sets them from a first batch with
// ActNormDataInit. It returns y and the log-determinant shaped [batch].
func ActNorm(ctx *context.Context, x *graph.Node) (y, logDet *graph.Node) {
	b, s, positions := actNormVars(ctx, x)
	y = graph.Mul(graph.Add(x, b), graph.Exp(s))
	logDet = graph.MulScalar(graph.ReduceAllSum(s), float64(positions))
	return y, graph.BroadcastToDims(logDet, x.Shape().Dimensions[0])
}

// ActNormInverse inverts ActNorm with the same variables: x = y · exp(-s_c) - b_c.
func ActNormInverse(ctx *context.Context, y *graph.Node) *graph.Node {
	b, s, _ := actNormVars(ctx, y)
	return graph.Sub(graph.Mul(y, graph.Exp(graph.Neg(s))), b)
}

// ActNormDataInit returns the values Glow's data-dependent initialization gives ActNorm's
// variables for the batch x (so that y has zero mean and unit variance per channel):
// bias = -mean_c and logScale = -log(std_c + eps), eps = GroupNormEpsilon, both [channels].
// Set them with Variable.SetValue on ActNorm's "bias" and "log_scale".
func ActNormDataInit(x *graph.Node) (bias, logScale *graph.Node) {
	c := x.Shape().Dimensions[x.Rank()-1]
	flat := graph.Reshape(x, x.Shape().Size()/c, c)
	mean := graph.ReduceAndKeep(flat, graph.ReduceMean, 0)
	std := graph.Sqrt(graph.ReduceMean(graph.Square(graph.Sub(flat, mean)), 0))
	return graph.Neg(graph.Reshape(mean, c)), graph.Neg(graph.Log(graph.AddScalar(std, GroupNormEpsilon)))
}

// actNormVars returns ActNorm's bias and log-scale, broadcastable to x, and the number of
// positions per sample.
func actNormVars(ctx *context.Context, x *graph.Node) (b, s *graph.Node, positions int) {
	if x.Rank() < 2 {
		panic(fmt.Sprintf("nn.ActNorm: need x [batch, ..., channels], got %s", x.Shape()))
	}
	ctx = ctx.In(ActNormScope).WithInitializer(initializers.Zero)
	g := x.Graph()
	c := x.Shape().Dimensions[x.Rank()-1]
	b = graph.ExpandLeftToRank(ctx.VariableWithShape("bias", shapeOf(x, c)).ValueGraph(g), x.Rank())
	s = graph.ExpandLeftToRank(ctx.VariableWithShape("log_scale", shapeOf(x, c)).ValueGraph(g), x.Rank())
	return b, s, x.Shape().Size() / (x.Shape().Dimensions[0] * c)
}
