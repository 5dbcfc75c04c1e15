package flow

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// Generate maps z [N, H, W, C] to x = G(z; cond), same shape, and returns x and
// log|det ∂x/∂z| per sample, [N]. cond [N, H, W, Cc] is the conditioning image (the observation
// y, or Aᵀy), with z's batch and spatial sizes; nil makes the flow unconditional. Variables live
// under ctx.In(Scope); they are created on first use and reused afterwards, whatever the
// context's Reuse/Checked setting, so Generate and Inverse share them in one graph or across
// graphs. It panics (a programmer error) when cfg.Validate fails for z's size or cond does not
// match z.
//
// The multiscale mapping (see the package documentation) reads z at full resolution: level l
// (0-based) takes its factored half from SpaceToDepth^(l+1)(z) as Inverse produces it, so
// Inverse(Generate(z)) = z exactly (up to round-off).
func Generate(ctx *context.Context, cfg Config, z, cond *graph.Node) (x, logdet *graph.Node) {
	cfg, ctx, condIn := prepare(ctx, cfg, z, cond, "Generate")
	levels := cfg.Levels
	// Peel z into the factored halves of each level (split) and the input of the deepest level.
	parts := make([]*graph.Node, levels)
	h := z
	for l := range levels {
		h = nn.SpaceToDepth(h, 2)
		if cfg.Split && l < levels-1 {
			c := h.Shape().Dimensions[3]
			parts[l], h = channels(h, 0, c/2), channels(h, c/2, c)
		}
	}
	logdet = graph.Zeros(z.Graph(), logdetShape(z))
	for l := levels - 1; l >= 0; l-- {
		if l < levels-1 {
			h = nn.DepthToSpace(h, 2)
			if cfg.Split {
				h = graph.Concatenate([]*graph.Node{parts[l], h}, 3)
			}
		}
		for k := range cfg.StepsAt(l) {
			var ld *graph.Node
			h, ld = stepForward(stepCtx(ctx, l, k), cfg, h, condIn[l][k])
			logdet = graph.Add(logdet, ld)
		}
	}
	return nn.DepthToSpace(h, 2), logdet
}

// Inverse maps x [N, H, W, C] back to z = G⁻¹(x; cond) and returns z and log|det ∂z/∂x| per
// sample, [N] (= -logdet of Generate at z). It uses Generate's variables (creating them if
// Inverse is called first); arguments as in Generate.
func Inverse(ctx *context.Context, cfg Config, x, cond *graph.Node) (z, logdet *graph.Node) {
	cfg, ctx, condIn := prepare(ctx, cfg, x, cond, "Inverse")
	levels := cfg.Levels
	parts := make([]*graph.Node, levels)
	logdet = graph.Zeros(x.Graph(), logdetShape(x))
	h := x
	for l := range levels {
		h = nn.SpaceToDepth(h, 2)
		for k := cfg.StepsAt(l) - 1; k >= 0; k-- {
			var ld *graph.Node
			h, ld = stepInverse(stepCtx(ctx, l, k), cfg, h, condIn[l][k])
			logdet = graph.Add(logdet, ld)
		}
		if cfg.Split && l < levels-1 {
			c := h.Shape().Dimensions[3]
			parts[l], h = channels(h, 0, c/2), channels(h, c/2, c)
		}
	}
	for l := levels - 2; l >= 0; l-- {
		h = nn.DepthToSpace(h, 2)
		if cfg.Split {
			h = graph.Concatenate([]*graph.Node{parts[l], h}, 3)
		}
	}
	return nn.DepthToSpace(h, 2), logdet
}

// prepare validates the arguments of Generate/Inverse (panicking on a mistake), applies the
// defaults, scopes the context and computes the conditioning features.
func prepare(ctx *context.Context, cfg Config, x, cond *graph.Node, op string) (Config, *context.Context, [][]*graph.Node) {
	if x.Rank() != 4 || !x.DType().IsFloat() {
		panic(fmt.Sprintf("flow.%s: want a float tensor [batch, height, width, channels], got %s", op, x.Shape()))
	}
	d := x.Shape().Dimensions
	cfg = cfg.withDefaults()
	if err := cfg.Validate(d[1], d[2], d[3]); err != nil {
		panic(fmt.Sprintf("flow.%s: %v", op, err))
	}
	if cond != nil {
		cd := cond.Shape().Dimensions
		if cond.Rank() != 4 || cd[0] != d[0] || cd[1] != d[1] || cd[2] != d[2] {
			panic(fmt.Sprintf("flow.%s: cond must be [%d, %d, %d, channels] like the input %s, got %s",
				op, d[0], d[1], d[2], x.Shape(), cond.Shape()))
		}
		if cond.DType() != x.DType() {
			cond = graph.ConvertDType(cond, x.DType())
		}
	}
	ctx = ctx.In(Scope).Checked(false)
	return cfg, ctx, condInputs(ctx, cfg, cond)
}

// stepCtx is the scope of step k of level l.
func stepCtx(ctx *context.Context, l, k int) *context.Context {
	return ctx.In(fmt.Sprintf("level%d", l)).In(fmt.Sprintf("step%d", k))
}

// logdetShape is the shape of the per-sample log-determinant of x: [N], x's dtype.
func logdetShape(x *graph.Node) shapes.Shape {
	return shapes.Make(x.DType(), x.Shape().Dimensions[0])
}
