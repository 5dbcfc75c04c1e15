package conformance

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/prior"
)

// TolPriorGrad bounds |central difference - <grad, d>| / |<grad, d>| for the energy of a
// prior, step 1e-3 along a random direction d (energies are summed in float64; the images
// are float32, whose rounding the effective step accounts for).
const TolPriorGrad = 1e-3

// CheckPrior runs the prior checks on p: one finite energy per sample and a gradient shaped
// like x, determinism, and the gradient of the summed energy against a central difference.
// x is drawn uniform in [0.1, 0.9).
func CheckPrior(ctx context.Context, p prior.Prior, opt Options) Report {
	opt = opt.withDefaults()
	r := Report{Subject: fmt.Sprintf("%T", p)}
	x := randBatch(opt.rng(30), opt.Shape, 0.1, 0.9)
	e, g, err := p.Energy(ctx, x)
	switch {
	case err != nil:
		r.fail("shape", "Energy: %v", err)
		return r
	case len(e) != x.N || g == nil || g.Shape != x.Shape:
		r.fail("shape", "Energy gave %d energies and a gradient of %v for x of %s", len(e), shapeOf(g), x.Shape)
		return r
	}
	r.pass("shape", fmt.Sprintf("%d energies, gradient %s", len(e), g.Shape))
	finite := g.CheckFinite()
	for n, v := range e {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			finite = fmt.Errorf("energy of sample %d is %v", n, v)
		}
	}
	if finite != nil {
		r.fail("finite", "%v", finite)
		return r
	}
	r.pass("finite", "energies and gradient")
	e2, g2, err := p.Energy(ctx, x)
	if err != nil {
		r.fail("determinism", "Energy: %v", err)
		return r
	}
	diff := countDiff(g, g2)
	for n := range e {
		if e[n] != e2[n] {
			diff++
		}
	}
	r.measure("determinism", float64(diff), 0, false, "values differing between two calls on the same input")

	const h = 1e-3
	d := randBatch(opt.rng(31), x.Shape, -1, 1)
	plus, minus := x.Clone(), x.Clone()
	deff := batch.New(x.N, x.H, x.W, x.C)
	for i, a := range x.Data {
		plus.Data[i] = float32(float64(a) + h*float64(d.Data[i]))
		minus.Data[i] = float32(float64(a) - h*float64(d.Data[i]))
		deff.Data[i] = float32((float64(plus.Data[i]) - float64(minus.Data[i])) / (2 * h))
	}
	ep, _, err1 := p.Energy(ctx, plus)
	em, _, err2 := p.Energy(ctx, minus)
	if err1 != nil || err2 != nil {
		r.fail("gradient", "Energy: %v %v", err1, err2)
		return r
	}
	fd := 0.0
	for n := range ep {
		fd += (ep[n] - em[n]) / (2 * h)
	}
	an := dot(g, deff)
	den := math.Max(math.Abs(an), 1e-3*norm(g)*norm(deff))
	if den == 0 {
		r.measure("gradient", math.Abs(fd), TolPriorGrad, false, "gradient is zero; finite difference should be too")
		return r
	}
	r.measure("gradient", math.Abs(fd-an)/den, TolPriorGrad, false,
		fmt.Sprintf("|central difference - <grad,d>| / |<grad,d>|, step %g (%.8g vs %.8g)", h, fd, an))
	return r
}

func shapeOf(b *batch.Batch) any {
	if b == nil {
		return "nil"
	}
	return b.Shape
}

// CheckMetric runs the metric checks on m: one value per image pair, none NaN, determinism,
// and that every image scores at least as well against itself as a perturbed copy does
// (uniform noise of amplitude 0.2), in the direction HigherIsBetter states.
func CheckMetric(ctx context.Context, m metrics.Metric, opt Options) Report {
	opt = opt.withDefaults()
	r := Report{Subject: fmt.Sprintf("%T", m)}
	ref := randBatch(opt.rng(40), opt.Shape, 0.2, 0.8)
	noise := randBatch(opt.rng(41), opt.Shape, -0.2, 0.2)
	img := ref.Clone()
	for i := range img.Data {
		img.Data[i] += noise.Data[i]
	}
	same, err1 := m.Compute(ctx, ref, ref)
	v, err2 := m.Compute(ctx, ref, img)
	if err1 != nil || err2 != nil {
		r.fail("shape", "Compute: %v %v", err1, err2)
		return r
	}
	if len(v) != ref.N || len(same) != ref.N {
		r.fail("shape", "Compute gave %d and %d values for %d pairs", len(same), len(v), ref.N)
		return r
	}
	r.pass("shape", fmt.Sprintf("%d values", len(v)))
	for n := range v {
		if math.IsNaN(v[n]) || math.IsNaN(same[n]) {
			r.fail("finite", "value of pair %d is NaN", n)
			return r
		}
	}
	r.pass("finite", "no NaN")
	v2, err := m.Compute(ctx, ref, img)
	if err != nil {
		r.fail("determinism", "Compute: %v", err)
		return r
	}
	diff := 0
	for n := range v {
		if v[n] != v2[n] {
			diff++
		}
	}
	r.measure("determinism", float64(diff), 0, false, "values differing between two calls on the same pair")
	worse := 0
	for n := range v {
		if (m.HigherIsBetter() && same[n] < v[n]) || (!m.HigherIsBetter() && same[n] > v[n]) {
			worse++
		}
	}
	r.measure("identity", float64(worse), 0, false, fmt.Sprintf(
		"pairs where an image scores worse against itself than a noisy copy does (higher is better: %v; e.g. %.4g vs %.4g)",
		m.HigherIsBetter(), same[0], v[0]))
	return r
}
