package conformance

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Options tune the checks; the zero value means the documented defaults.
type Options struct {
	// Shape is the operator input shape; default [3,16,20,2] (non-square, several channels,
	// so transposed axes and mixed channels show).
	Shape batch.Shape
	// Seed seeds every random stream of the checks; default 1.
	Seed uint64
	// Samples is the number of noise draws per intensity level in the moment check; default
	// 20000.
	Samples int
	// Backend runs the in-graph checks; nil means a process-wide "go" (SimpleGo) backend.
	Backend backends.Backend
	// NoGraph skips the in-graph checks.
	NoGraph bool
}

// Tolerances of the operator checks (relative, dimensionless).
const (
	// TolAdjoint bounds |<Ax,y> - <x,Aᵀy>| / (|Ax|·|y|) over the pairs of checkAdjoint, one
	// of which has <Ax,y> close to |Ax|·|y|: a VJP scaled by 1.001 measures 1e-3.
	TolAdjoint = 1e-5
	// TolVJP bounds |Richardson central difference - <VJP,d>| / (|VJP|·|d|) over the
	// directions of checkVJP, one of which is the VJP itself: a VJP scaled by 1.001
	// measures 1e-3.
	TolVJP = 1e-4
	// TolLinear bounds |A(ax+by) - aA(x) - bA(y)| / (|a||Ax| + |b||Ay|).
	TolLinear = 1e-5
	// TolGraph bounds max|in-graph - plain| / max|plain| for Apply and VJP.
	TolGraph = 1e-5
	// MinTaylorOrder is the least convergence order of the first-order Taylor remainder
	// |f(x+hd) - f(x) - h<∇f,d>| (2 for a correct gradient, 1 for a wrong one).
	MinTaylorOrder = 1.8
)

func (o Options) withDefaults() Options {
	if !o.Shape.Valid() {
		o.Shape = batch.Shape{N: 3, H: 16, W: 20, C: 2}
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Samples <= 0 {
		o.Samples = 20000
	}
	return o
}

// rng returns a fresh stream for the given purpose.
func (o Options) rng(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(o.Seed, stream)) }

// randBatch fills a batch with uniform values in [lo, hi).
func randBatch(rng *rand.Rand, s batch.Shape, lo, hi float64) *batch.Batch {
	b := batch.New(s.N, s.H, s.W, s.C)
	for i := range b.Data {
		b.Data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return b
}

func dot(a, b *batch.Batch) float64 {
	s := 0.0
	for i, v := range a.Data {
		s += float64(v) * float64(b.Data[i])
	}
	return s
}

func norm(a *batch.Batch) float64 { return math.Sqrt(dot(a, a)) }

// CheckOperator runs the operator checks on op: shape, determinism, finiteness; adjoint and
// linearity for a linear operator, the Taylor test and the directional derivatives of VJP for
// a nonlinear one; and, when op has an in-graph form, the in-graph Apply and gradient against
// the plain ones.
func CheckOperator(ctx context.Context, op part.Operator, opt Options) Report {
	opt = opt.withDefaults()
	r := Report{Subject: fmt.Sprintf("%T", op)}
	in := opt.Shape
	out, err := op.OutShape(ctx, in)
	if err != nil {
		r.fail("shape", "OutShape(%s): %v", in, err)
		return r
	}
	p, err := op.SampleParams(ctx, opt.rng(1), in)
	if err != nil {
		r.fail("shape", "SampleParams(%s): %v", in, err)
		return r
	}
	for k, v := range p {
		if v == nil || v.N != in.N {
			r.fail("shape", "parameter %q has no sample axis of length %d", k, in.N)
			return r
		}
	}
	x := randBatch(opt.rng(2), in, 0, 1)
	y, err := op.Apply(ctx, x, p)
	if err != nil {
		r.fail("shape", "Apply: %v", err)
		return r
	}
	if y.Shape != out || len(y.Data) != out.Size() {
		r.fail("shape", "Apply gave %s, OutShape said %s", y.Shape, out)
		return r
	}
	r.pass("shape", fmt.Sprintf("%s -> %s, params %v", in, out, p.Keys()))
	if err := y.CheckFinite(); err != nil {
		r.fail("finite", "Apply: %v", err)
	} else {
		r.pass("finite", "Apply of uniform [0,1) input")
	}
	checkDeterminism(ctx, &r, op, opt, x, y)

	v := randBatch(opt.rng(3), out, -1, 1)
	g, err := op.VJP(ctx, x, v, p)
	switch {
	case err != nil:
		r.fail("vjp", "VJP: %v", err)
		return r
	case g.Shape != in:
		r.fail("vjp", "VJP gave %s, want the input shape %s", g.Shape, in)
		return r
	}
	if part.IsLinear(op) {
		checkAdjoint(ctx, &r, op, opt, p, x, y, v, g)
		checkLinearity(ctx, &r, op, opt, p, x, y)
	} else {
		checkTaylor(ctx, &r, op, opt, p, x, v, g)
		checkVJP(ctx, &r, op, opt, p, x, v, g)
	}
	if opt.NoGraph {
		r.skip("graph", "in-graph checks turned off")
	} else {
		checkGraphOperator(ctx, &r, op, opt, p, x, v, y, g)
	}
	return r
}

// checkDeterminism draws the parameters and applies op twice from equal seeds.
func checkDeterminism(ctx context.Context, r *Report, op part.Operator, opt Options, x, y *batch.Batch) {
	p1, err1 := op.SampleParams(ctx, opt.rng(1), opt.Shape)
	y1, err2 := op.Apply(ctx, x, p1)
	if err1 != nil || err2 != nil {
		r.fail("determinism", "second draw: %v %v", err1, err2)
		return
	}
	diff := 0
	p0, _ := op.SampleParams(ctx, opt.rng(1), opt.Shape)
	if !slices.Equal(p0.Keys(), p1.Keys()) {
		r.fail("determinism", "parameter keys differ between equal seeds: %v vs %v", p0.Keys(), p1.Keys())
		return
	}
	for k := range p0 {
		diff += countDiff(p0[k], p1[k])
	}
	diff += countDiff(y, y1)
	r.measure("determinism", float64(diff), 0, false, "values differing between two runs from the same seed (params and Apply)")
}

func countDiff(a, b *batch.Batch) int {
	if a.Shape != b.Shape {
		return a.Size() + b.Size()
	}
	n := 0
	for i, v := range a.Data {
		if math.Float32bits(v) != math.Float32bits(b.Data[i]) {
			n++
		}
	}
	return n
}

// checkLinearity compares A(a x + b z) with a A(x) + b A(z) for fixed parameters.
func checkLinearity(ctx context.Context, r *Report, op part.Operator, opt Options, p part.Params, x, ax *batch.Batch) {
	const a, b = 0.7, -1.3
	z := randBatch(opt.rng(4), opt.Shape, -1, 1)
	az, err := op.Apply(ctx, z, p)
	if err != nil {
		r.fail("linearity", "Apply: %v", err)
		return
	}
	comb := batch.New(x.N, x.H, x.W, x.C)
	for i := range comb.Data {
		comb.Data[i] = float32(a*float64(x.Data[i]) + b*float64(z.Data[i]))
	}
	ac, err := op.Apply(ctx, comb, p)
	if err != nil {
		r.fail("linearity", "Apply: %v", err)
		return
	}
	num := 0.0
	for i, v := range ac.Data {
		d := float64(v) - a*float64(ax.Data[i]) - b*float64(az.Data[i])
		num += d * d
	}
	den := math.Abs(a)*norm(ax) + math.Abs(b)*norm(az)
	if den == 0 {
		r.skip("linearity", "A is zero on the random inputs")
		return
	}
	r.measure("linearity", math.Sqrt(num)/den, TolLinear, false, "|A(ax+bz) - aAx - bAz| / (|a||Ax| + |b||Az|)")
}

// checkTaylor estimates the convergence order of the first-order Taylor remainder of
// f(x) = <v, A(x)> along a random direction d: r(h) = |f(x+hd) - f(x) - h<VJP(x,v), d>| is
// O(h²) for a correct VJP and O(h) for a wrong one. The order is the median of
// log2(r(h)/r(h/2)) over h = 2^-3 ... 2^-7 (d scaled to the RMS of x). When the remainder stays
// at rounding level (A linear along d) the check passes as such.
func checkTaylor(ctx context.Context, r *Report, op part.Operator, opt Options, p part.Params, x, v, g *batch.Batch) {
	d := randBatch(opt.rng(5), opt.Shape, -1, 1)
	scale := norm(x) / math.Max(norm(d), 1e-30)
	if scale == 0 {
		scale = 1
	}
	f := func(h float64) (float64, float64, error) {
		xh := batch.New(x.N, x.H, x.W, x.C)
		for i := range xh.Data {
			xh.Data[i] = float32(float64(x.Data[i]) + h*scale*float64(d.Data[i]))
		}
		y, err := op.Apply(ctx, xh, p)
		if err != nil {
			return 0, 0, err
		}
		return dot(v, y), norm(y), nil
	}
	f0, y0, err := f(0)
	if err != nil {
		r.fail("taylor", "Apply: %v", err)
		return
	}
	slope := scale * dot(g, d)
	var rem, first []float64
	for k := 3; k <= 7; k++ {
		h := math.Ldexp(1, -k)
		fh, _, err := f(h)
		if err != nil {
			r.fail("taylor", "Apply: %v", err)
			return
		}
		rem = append(rem, math.Abs(fh-f0-h*slope))
		first = append(first, math.Abs(fh-f0))
	}
	// Rounding level of f: float32 outputs (relative 6e-8 each) in a dot product, with margin.
	noise := 1e-6*norm(v)*y0 + 1e-300
	if slices.Max(rem) <= noise {
		r.measure("taylor", 2, MinTaylorOrder, true, "remainder at rounding level: A is linear along the test direction")
		return
	}
	var orders []float64
	for i := 0; i+1 < len(rem); i++ {
		if rem[i+1] > noise {
			orders = append(orders, math.Log2(rem[i]/rem[i+1]))
		}
	}
	if len(orders) == 0 {
		r.measure("taylor", 2, MinTaylorOrder, true, "remainder reaches rounding level at small h")
		return
	}
	slices.Sort(orders)
	order := orders[len(orders)/2]
	r.measure("taylor", order, MinTaylorOrder, true, fmt.Sprintf(
		"order of |f(x+hd)-f(x)-h<VJP,d>| over h=1/8..1/128 (remainder %.2g -> %.2g; first-order term %.2g)",
		rem[0], rem[len(rem)-1], first[0]))
}
