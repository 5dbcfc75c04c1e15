package ambientflow

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/nn"
)

// Scopes of the two networks, under the context's root.
const (
	PriorScope = "prior"
	PostScope  = "post"
	splitScope = "split"
)

// The Glow prior. flow.Inverse maps c to z at full resolution, and z is peeled as flow.Generate
// reads it (core/flow's package doc): with S the 2x2 squeeze, S(z) = [z_0, r_0],
// S(r_0) = [z_1, r_1], ..., and the deepest level's input is h_top = S(r_{L-2}). The density is
//
//	log p_θ(c) = log|det ∂z/∂c| + log N(h_top; 0, I) + Σ_l log N(z_l; μ_l(r_l), e^{2 s_l(r_l)})
//
// with (μ_l, s_l) = conv3x3(r_l), zero-initialized (Glow's learned split priors), so the
// untrained prior is N(0, I) on z. Glow conditions z_l on the flow's activation at the split;
// here r_l is that activation mapped through the deeper levels, which are invertible, so it
// carries the same information, seen after the deeper levels' steps instead of before them.

// checkPrior panics unless cfg splits (the split priors need it); a programmer error, since
// Config.Prior validation refuses it first.
func checkPrior(cfg flow.Config) {
	if !cfg.Split || cfg.Levels < 2 {
		panic(fmt.Sprintf("ambientflow: the Glow prior needs split: true and levels >= 2, got %+v", cfg))
	}
}

// peel splits z [N,H,W,C] into the factored parts z_l, the rests r_l they are conditioned on,
// and the deepest level's input h_top.
func peel(cfg flow.Config, z *graph.Node) (parts, rests []*graph.Node, top *graph.Node) {
	h := z
	for l := range cfg.Levels {
		h = nn.SpaceToDepth(h, 2)
		if l < cfg.Levels-1 {
			c := h.Shape().Dimensions[3]
			parts = append(parts, channels(h, 0, c/2))
			h = channels(h, c/2, c)
			rests = append(rests, h)
		}
	}
	return parts, rests, h
}

// splitPrior returns the mean and log-scale of z_l given r_l.
func splitPrior(ctx *context.Context, l int, r *graph.Node, c int) (mu, logScale *graph.Node) {
	out := nn.Conv2D(ctx.In(splitScope).In(fmt.Sprintf("level%d", l)).WithInitializer(initializers.Zero), r, 2*c, 3, 1, true)
	return channels(out, 0, c), channels(out, c, 2*c)
}

// LogProb returns log p_θ(x) per sample, [N], in nats, of images x [N,H,W,C] in [0,1]
// intensities, under ctx.In(PriorScope) (variables created on first use).
func LogProb(ctx *context.Context, cfg flow.Config, x *graph.Node) *graph.Node {
	checkPrior(cfg)
	ctx = ctx.In(PriorScope).Checked(false)
	z, logdet := flow.Inverse(ctx, cfg, graph.AddScalar(x, -0.5), nil)
	parts, rests, top := peel(cfg, z)
	lp := graph.Add(logdet, logNormal(top, nil, nil))
	for l := range parts {
		mu, ls := splitPrior(ctx, l, rests[l], parts[l].Shape().Dimensions[3])
		lp = graph.Add(lp, logNormal(parts[l], mu, ls))
	}
	return lp
}

// Sample maps eps [N,H,W,C] ~ N(0, I) to samples of the Glow prior in [0,1] intensities (not
// clipped) at temperature temp (every latent's scale multiplied by temp; 1 is the model).
func Sample(ctx *context.Context, cfg flow.Config, eps *graph.Node, temp float64) *graph.Node {
	checkPrior(cfg)
	ctx = ctx.In(PriorScope).Checked(false)
	epsParts, _, epsTop := peel(cfg, eps)
	h := graph.MulScalar(epsTop, temp)
	for l := cfg.Levels - 2; l >= 0; l-- {
		r := nn.DepthToSpace(h, 2)
		mu, ls := splitPrior(ctx, l, r, epsParts[l].Shape().Dimensions[3])
		part := graph.Add(mu, graph.Mul(graph.Exp(ls), graph.MulScalar(epsParts[l], temp)))
		h = graph.Concatenate([]*graph.Node{part, r}, 3)
	}
	c, _ := flow.Generate(ctx, cfg, nn.DepthToSpace(h, 2), nil)
	return graph.AddScalar(c, 0.5)
}

// logNormal is Σ log N(v; mu, e^{2 logScale}) over the non-batch axes, [N]; nil mu and
// logScale are 0 (the standard normal).
func logNormal(v, mu, logScale *graph.Node) *graph.Node {
	d := v.Shape().Dimensions
	n := float64(d[1] * d[2] * d[3])
	if mu == nil {
		sq := graph.ReduceSum(graph.Square(v), 1, 2, 3)
		return graph.AddScalar(graph.MulScalar(sq, -0.5), -0.5*math.Log(2*math.Pi)*n)
	}
	e := graph.Mul(graph.Sub(v, mu), graph.Exp(graph.Neg(logScale)))
	s := graph.Add(graph.MulScalar(graph.Square(e), 0.5), logScale)
	return graph.AddScalar(graph.Neg(graph.ReduceSum(s, 1, 2, 3)), -0.5*math.Log(2*math.Pi)*n)
}

// channels returns x[..., from:to] (nn.Slice, whose gradient every backend runs).
func channels(x *graph.Node, from, to int) *graph.Node {
	d := x.Shape().Dimensions
	return nn.Slice(x, []int{0, 0, 0, from}, []int{d[0], d[1], d[2], to}, nil)
}
