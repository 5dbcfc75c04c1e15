package flow

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// Variable names of the invertible 1x1 mixing, under ctx.In(mixScope) of each step.
const (
	mixScope        = "mix"
	mixPermName     = "perm"      // [C, C] permutation matrix P, not trainable
	mixSignName     = "sign"      // [C] signs of U's diagonal, not trainable
	mixLowerName    = "lower"     // [C, C]; only the strictly lower part is used
	mixUpperName    = "upper"     // [C, C]; only the strictly upper part is used
	mixLogScaleName = "log_scale" // [C] log|U's diagonal|

	couplingScope = "coupling"
)

// stepForward is one flow step in the generative direction on h [N, h, w, C]: actnorm, then the
// 1x1 mixing, then the affine coupling conditioned on condIn [N, h, w, Hidden] (this step's share
// of the conditioning, see condInputs; nil: unconditional). It returns the output and log|det|
// per sample, [N].
func stepForward(ctx *context.Context, cfg Config, h, condIn *graph.Node) (*graph.Node, *graph.Node) {
	h, ldAct := nn.ActNorm(ctx, h)
	w, ldMix := mixMatrix(ctx, h)
	h = nn.MatMul(h, w)
	h, ldCoup := coupling(ctx, cfg, h, condIn, false)
	n := h.Shape().Dimensions[0]
	return h, graph.Add(graph.Add(ldAct, graph.BroadcastToDims(ldMix, n)), ldCoup)
}

// stepInverse inverts stepForward: the coupling, the mixing, then actnorm, undone in that order.
// It returns the input and log|det| of the inverse map per sample (= -log|det| of stepForward).
func stepInverse(ctx *context.Context, cfg Config, y, condIn *graph.Node) (*graph.Node, *graph.Node) {
	y, ldCoup := coupling(ctx, cfg, y, condIn, true)
	wInv, ldMix := mixInverse(ctx, y)
	y = nn.MatMul(y, wInv)
	x := nn.ActNormInverse(ctx, y)
	// ActNorm's log-determinant is P·Σ log_scale (documented variable of nn.ActNorm).
	logScale := ctx.In(nn.ActNormScope).GetVariable("log_scale").ValueGraph(y.Graph())
	ldAct := positionsTimes(y, graph.ReduceAllSum(logScale))
	n := y.Shape().Dimensions[0]
	return x, graph.Add(ldCoup, graph.BroadcastToDims(graph.Sub(ldMix, ldAct), n))
}

// mixVars returns the pieces of the mixing W = P·L·(U + diag(sign·e^logScale)) for h's channel
// count C: P, L (unit diagonal), the strictly upper part of U, sign, logScale (Kingma & Dhariwal
// 2018, LU-decomposed 1x1 convolution). P and sign stay fixed; L's strictly lower part, U's
// strictly upper part and logScale are trained. The mixing starts at W = P, a random permutation
// seeded by the variable scope (log|det W| = 0). Glow starts from the LU factors of a random
// rotation instead, but those factors are ill-conditioned (condition numbers ~400 each at 48
// channels, ~10⁴ at 192, measured), which costs float32 round trips 1e-4 and more; the
// permutation's factors are the identity.
func mixVars(ctx *context.Context, h *graph.Node) (p, l, uStrict, sign, logScale *graph.Node) {
	ctx = ctx.In(mixScope)
	g, dtype := h.Graph(), h.DType()
	c := h.Shape().Dimensions[h.Rank()-1]
	var init *mixInit
	initOf := func(pick func(*mixInit) []float64) context.VariableInitializer {
		return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
			if init == nil {
				init = newMixInit(c, seedOf(ctx.Scope()))
			}
			return graph.Reshape(graph.ConstAsDType(g, shape.DType, pick(init)), shape.Dimensions...)
		}
	}
	variable := func(name string, trainable bool, pick func(*mixInit) []float64, dims ...int) *graph.Node {
		v := ctx.WithInitializer(initOf(pick)).VariableWithShape(name, shapes.Make(dtype, dims...))
		v.SetTrainable(trainable) // also after a checkpoint load, which marks variables trainable
		return v.ValueGraph(g)
	}
	p = variable(mixPermName, false, func(i *mixInit) []float64 { return i.perm }, c, c)
	sign = variable(mixSignName, false, func(i *mixInit) []float64 { return i.sign }, c)
	lower := variable(mixLowerName, true, func(i *mixInit) []float64 { return i.lower }, c, c)
	upper := variable(mixUpperName, true, func(i *mixInit) []float64 { return i.upper }, c, c)
	logScale = variable(mixLogScaleName, true, func(i *mixInit) []float64 { return i.logScale }, c)
	lowerMask, upperMask := triangularMasks(g, dtype, c)
	l = graph.Add(graph.Mul(lower, lowerMask), eye(g, dtype, c))
	uStrict = graph.Mul(upper, upperMask)
	return p, l, uStrict, sign, logScale
}

// mixMatrix returns W = P·L·(U + diag(sign·e^logScale)), [C, C], acting on rows (y = h·W), and
// log|det| of h -> h·W per sample before broadcasting: (positions per sample)·Σ logScale.
func mixMatrix(ctx *context.Context, h *graph.Node) (w, logDet *graph.Node) {
	p, l, uStrict, sign, logScale := mixVars(ctx, h)
	c := sign.Shape().Dimensions[0]
	u := graph.Add(uStrict, graph.Mul(eye(h.Graph(), h.DType(), c), graph.Reshape(graph.Mul(sign, graph.Exp(logScale)), 1, c)))
	w = nn.MatMul(nn.MatMul(p, l), u)
	return w, positionsTimes(h, graph.ReduceAllSum(logScale))
}

// mixInverse returns W⁻¹ = U⁻¹·L⁻¹·Pᵀ and log|det| of y -> y·W⁻¹ per sample before broadcasting.
// The triangular inverses are exact finite Neumann series of nilpotent matrices (see invUnitTri).
func mixInverse(ctx *context.Context, y *graph.Node) (wInv, logDet *graph.Node) {
	p, l, uStrict, sign, logScale := mixVars(ctx, y)
	c := sign.Shape().Dimensions[0]
	g, dtype := y.Graph(), y.DType()
	// U = D·(I + D⁻¹·Us), D = diag(sign·e^logScale): U⁻¹ = (I + D⁻¹·Us)⁻¹·D⁻¹.
	dInv := graph.Mul(sign, graph.Exp(graph.Neg(logScale))) // 1/(sign·e^s) = sign·e^-s
	scaledRows := graph.Mul(uStrict, graph.Reshape(dInv, c, 1))
	uInv := graph.Mul(invUnitTri(graph.Add(eye(g, dtype, c), scaledRows)), graph.Reshape(dInv, 1, c))
	lInv := invUnitTri(l)
	wInv = nn.MatMul(nn.MatMul(uInv, lInv), graph.Transpose(p, 0, 1))
	// One Newton-Schulz step, X <- X·(2I - W·X), makes W⁻¹ the inverse of W as Generate computes
	// it (its residual I - W·X is squared), whatever round-off the triangular factors carry.
	w, _ := mixMatrix(ctx, y)
	two := graph.MulScalar(eye(g, dtype, c), 2)
	wInv = nn.MatMul(wInv, graph.Sub(two, nn.MatMul(w, wInv)))
	return wInv, graph.Neg(positionsTimes(y, graph.ReduceAllSum(logScale)))
}

// invUnitTri inverts a unit triangular matrix T = I + N (N strictly triangular, so Nᶜ = 0):
// T⁻¹ = Σ_{k<C} (-N)ᵏ = (I - N)(I + N²)(I + N⁴)···, ⌈log₂ C⌉ factors, exact in exact arithmetic.
func invUnitTri(t *graph.Node) *graph.Node {
	c := t.Shape().Dimensions[0]
	id := eye(t.Graph(), t.DType(), c)
	m := graph.Sub(id, t) // -N
	acc := graph.Add(id, m)
	for covered := 2; covered < c; covered *= 2 {
		m = nn.MatMul(m, m)
		acc = nn.MatMul(acc, graph.Add(id, m))
	}
	return acc
}

// coupling is the affine coupling on h [N, h, w, C]: with ha, hb the first ⌊C/2⌋ and the other
// channels and (sRaw, t) = NN(ha; condIn),
//
//	s = clamp·tanh(sRaw/clamp),  forward: yb = hb·eˢ + t,  inverse: hb = (yb - t)·e⁻ˢ,
//
// ya = ha; log|det| = ±Σ s per sample (+ forward, - inverse). NN is
//
//	r₁ = ReLU(conv3x3(ha) + condIn),  r₂ = ReLU(conv1x1(r₁)),  (sRaw, t) = conv3x3(r₂)
//
// all Hidden wide, the last layer zero-initialized so the coupling starts as the identity; condIn
// is this step's projection of the conditioning features (condInputs), which is the first layer
// acting on [ha, features] concatenated, with a 1x1 kernel on the features.
func coupling(ctx *context.Context, cfg Config, h, condIn *graph.Node, inverse bool) (*graph.Node, *graph.Node) {
	ctx = ctx.In(couplingScope)
	d := h.Shape().Dimensions
	ca := d[3] / 2
	cb := d[3] - ca
	ha := channels(h, 0, ca)
	hb := channels(h, ca, d[3])
	r := nn.Conv2D(ctx.In("in"), ha, cfg.Hidden, 3, 1, true)
	if condIn != nil {
		r = graph.Add(r, condIn)
	}
	r = relu(r)
	r = relu(nn.Conv2D(ctx.In("mid"), r, cfg.Hidden, 1, 1, true))
	r = nn.Conv2D(ctx.In("out").WithInitializer(initializers.Zero), r, 2*cb, 3, 1, true)
	s := graph.MulScalar(graph.Tanh(graph.MulScalar(channels(r, 0, cb), 1/cfg.Clamp)), cfg.Clamp)
	t := channels(r, cb, 2*cb)
	var yb, logDet *graph.Node
	if inverse {
		yb = graph.Mul(graph.Sub(hb, t), graph.Exp(graph.Neg(s)))
		logDet = graph.Neg(graph.ReduceSum(s, 1, 2, 3))
	} else {
		yb = graph.Add(graph.Mul(hb, graph.Exp(s)), t)
		logDet = graph.ReduceSum(s, 1, 2, 3)
	}
	return graph.Concatenate([]*graph.Node{ha, yb}, 3), logDet
}

// relu is max(x, 0).
func relu(x *graph.Node) *graph.Node { return graph.Max(x, graph.ZerosLike(x)) }

// channels returns x[..., from:to] of an NHWC tensor, with nn.Slice (whose gradient SimpleGo can
// run).
func channels(x *graph.Node, from, to int) *graph.Node {
	d := x.Shape().Dimensions
	return nn.Slice(x, []int{0, 0, 0, from}, []int{d[0], d[1], d[2], to}, nil)
}

// positionsTimes returns v (a scalar) times the number of positions per sample of x [N, h, w, C].
func positionsTimes(x, v *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	return graph.MulScalar(v, float64(d[1]*d[2]))
}

// eye is the c x c identity matrix.
func eye(g *graph.Graph, dtype dtypes.DType, c int) *graph.Node {
	data := make([]float64, c*c)
	for i := range c {
		data[i*c+i] = 1
	}
	return graph.Reshape(graph.ConstAsDType(g, dtype, data), c, c)
}

// triangularMasks returns the 0/1 masks of the strictly lower and strictly upper parts of a
// c x c matrix.
func triangularMasks(g *graph.Graph, dtype dtypes.DType, c int) (lower, upper *graph.Node) {
	lo, up := make([]float64, c*c), make([]float64, c*c)
	for i := range c {
		for j := range c {
			if j < i {
				lo[i*c+j] = 1
			} else if j > i {
				up[i*c+j] = 1
			}
		}
	}
	return graph.Reshape(graph.ConstAsDType(g, dtype, lo), c, c), graph.Reshape(graph.ConstAsDType(g, dtype, up), c, c)
}
