package conformance

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Gradient checks that catch small errors.
//
// A dot-product or finite-difference test along a random direction d measures an error
// relative to |g||d|, while a random d sees only the part of g along d: <g,d> is about
// |g||d|/√size. A gradient that is 0.1% too large then shows as 0.1%/√size of the
// normalization, below any tolerance that allows for float32 rounding (issue 15: a VJP scaled
// by 1.003 passed the adjoint test at 8.1e-6 < 1e-5). So every check here also uses a pair or
// direction correlated with what it tests, for which <g,d> is about |g||d| and a relative error
// ε in g measures ε:
//
//   - adjoint (linear A): pairs (x, y = A(x')) with x' = x + 0.1 z, and (z, y = A(z + 0.1 w)) for
//     zero-mean z, w, besides the random pair; <Ax,y> ≈ |Ax||y| for the first two;
//   - VJP (nonlinear A), NLL gradient, prior gradient: the direction d = g itself (scaled to
//     the RMS of a random direction), besides a random d. Along d = g a scale error ε measures
//     ε, and a one-pixel shift measures 1 - (the gradient's autocorrelation at lag 1).

// checkAdjoint is the dot-product test <Ax,y> = <x,Aᵀy> over three pairs: y = A(x') with x'
// close to x (x uniform in [0,1)), the same with zero-mean inputs, and the random pair (x, v)
// whose Aᵀv the caller computed (atv). Each is normalized by |Ax||y|; the largest is reported.
func checkAdjoint(ctx context.Context, r *Report, op part.Operator, opt Options, p part.Params, x, ax, v, atv *batch.Batch) {
	z := randBatch(opt.rng(6), opt.Shape, -1, 1)
	worst, where, cosine := 0.0, "", 0.0
	measure := func(name string, x, ax, y, aty *batch.Batch) {
		den := norm(ax) * norm(y)
		if den == 0 {
			return
		}
		if e := math.Abs(dot(ax, y)-dot(x, aty)) / den; e > worst || math.IsNaN(e) || where == "" {
			worst, where = e, name
		}
	}
	for k, in := range []*batch.Batch{x, z} {
		near := in.Clone()
		w := randBatch(opt.rng(7+uint64(k)), opt.Shape, -1, 1)
		for i := range near.Data {
			near.Data[i] += 0.1 * w.Data[i]
		}
		y, err := op.Apply(ctx, near, p)
		if err != nil {
			r.fail("adjoint", "Apply: %v", err)
			return
		}
		ain := ax
		if k == 1 {
			if ain, err = op.Apply(ctx, in, p); err != nil {
				r.fail("adjoint", "Apply: %v", err)
				return
			}
		}
		aty, err := op.VJP(ctx, in, y, p)
		if err != nil {
			r.fail("adjoint", "VJP: %v", err)
			return
		}
		if k == 0 && norm(ain)*norm(y) > 0 {
			cosine = dot(ain, y) / (norm(ain) * norm(y))
		}
		measure([]string{"y = A(x + 0.1w)", "zero-mean y = A(z + 0.1w)"}[k], in, ain, y, aty)
	}
	measure("random y", x, ax, v, atv)
	if where == "" {
		r.skip("adjoint", "A(x) is zero for the test inputs: the dot-product test says nothing")
		return
	}
	r.measure("adjoint", worst, TolAdjoint, false, fmt.Sprintf(
		"max over 3 pairs of |<Ax,y> - <x,Aᵀy>| / (|Ax||y|), worst %s; <Ax,y>/(|Ax||y|) = %.3f for the first", where, cosine))
}

// along returns g scaled to the RMS of a uniform [-1,1) direction (1/√3), or nil when g is zero.
func along(g *batch.Batch) *batch.Batch {
	rms := norm(g) / math.Sqrt(float64(len(g.Data)))
	if rms == 0 || math.IsNaN(rms) || math.IsInf(rms, 0) {
		return nil
	}
	d := g.Clone()
	for i, v := range d.Data {
		d.Data[i] = float32(float64(v) / rms / math.Sqrt(3))
	}
	return d
}

// checkVJP compares <VJP(x,v), d> with the derivative of f(x) = <v, A(x)> along d, for d = the
// VJP itself and a random d. The derivative is Richardson's extrapolation of central
// differences, (4D(h/2) - D(h))/3 with D(h) = (f(x+hd) - f(x-hd))/2h, whose error is O(h⁴);
// the steps actually taken are read back from the float32 inputs, and the smallest error over
// h = 2^-3 ... 2^-9 (times the RMS of x) is kept: a wrong VJP is wrong at every h, while a
// correct one meets rounding at small h and truncation at large h.
func checkVJP(ctx context.Context, r *Report, op part.Operator, opt Options, p part.Params, x, v, g *batch.Batch) {
	f := func(in *batch.Batch) (float64, error) {
		y, err := op.Apply(ctx, in, p)
		if err != nil {
			return 0, err
		}
		return dot(v, y), nil
	}
	scale := norm(x) / math.Sqrt(float64(len(x.Data)))
	if scale == 0 {
		scale = 1
	}
	worst, detail := 0.0, ""
	for k, d := range []*batch.Batch{along(g), randBatch(opt.rng(8), opt.Shape, -1, 1)} {
		if d == nil {
			continue
		}
		best := math.Inf(1)
		measured := false
		var prevD, prevA float64
		for j := 3; j <= 9; j++ {
			h := math.Ldexp(scale, -j)
			plus, minus := x.Clone(), x.Clone()
			step := batch.New(x.N, x.H, x.W, x.C)
			for i, a := range x.Data {
				plus.Data[i] = float32(float64(a) + h*float64(d.Data[i]))
				minus.Data[i] = float32(float64(a) - h*float64(d.Data[i]))
				step.Data[i] = float32((float64(plus.Data[i]) - float64(minus.Data[i])) / (2 * h))
			}
			fp, err1 := f(plus)
			fm, err2 := f(minus)
			if err1 != nil || err2 != nil {
				r.fail("vjp", "Apply: %v %v", err1, err2)
				return
			}
			dh, an := (fp-fm)/(2*h), dot(g, step)
			if j > 3 { // Richardson: h of the previous round is twice this one
				e := math.Abs((4*dh-prevD)/3-(4*an-prevA)/3) / (norm(g) * norm(d))
				best = math.Min(best, e)
				measured = true
			}
			prevD, prevA = dh, an
		}
		if measured && (best > worst || math.IsNaN(best) || detail == "") {
			worst, detail = best, []string{"d = VJP", "random d"}[k]
		}
	}
	if detail == "" {
		r.skip("vjp", "the VJP is zero for the test input")
		return
	}
	r.measure("vjp", worst, TolVJP, false, fmt.Sprintf(
		"|d/dh <v,A(x+hd)> - <VJP,d>| / (|VJP||d|) for d = VJP and a random d (Richardson, best h), worst %s", detail))
}

// centralCheck compares <g,d> with the central difference (F(x+hd) - F(x-hd))/2h of a summed
// scalar F, for d = g scaled (along) and the random direction rnd; the step actually taken is
// read back from the float32 perturbed values. It returns the larger of the two errors
// |difference - <g,d>| / max(|<g,d>|, 1e-3·|g||d|), which direction it was, and that
// direction's two values.
func centralCheck(h float64, x, g, rnd *batch.Batch, F func(*batch.Batch) (float64, error)) (worst float64, which string, fd, an float64, err error) {
	which = "none"
	for k, d := range []*batch.Batch{along(g), rnd} {
		if d == nil {
			continue
		}
		plus, minus := x.Clone(), x.Clone()
		deff := batch.New(x.N, x.H, x.W, x.C)
		for i, a := range x.Data {
			plus.Data[i] = float32(float64(a) + h*float64(d.Data[i]))
			minus.Data[i] = float32(float64(a) - h*float64(d.Data[i]))
			deff.Data[i] = float32((float64(plus.Data[i]) - float64(minus.Data[i])) / (2 * h))
		}
		fp, err := F(plus)
		if err != nil {
			return 0, "", 0, 0, err
		}
		fm, err := F(minus)
		if err != nil {
			return 0, "", 0, 0, err
		}
		dfd, dan := (fp-fm)/(2*h), dot(g, deff)
		// Relative to the directional derivative, floored at 1e-3·|g||d| in case the random d
		// happens to be nearly orthogonal to g (typically |<g,d>| ≈ |g||d|/√size).
		den := math.Max(math.Abs(dan), 1e-3*norm(g)*norm(deff))
		e := math.Abs(dfd - dan)
		if den > 0 {
			e /= den
		}
		if e > worst || math.IsNaN(e) || which == "none" {
			worst, which, fd, an = e, []string{"d = gradient", "random d"}[k], dfd, dan
		}
	}
	return worst, which, fd, an, nil
}
