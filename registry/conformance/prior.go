package conformance

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Tolerances of the prior checks.
const (
	// TolPriorGrad bounds |finite difference - <grad,d>| / |<grad,d>| for central differences
	// of Σ_n E_n with step PriorStep along the gradient and a random direction d (as TolNLLGrad).
	TolPriorGrad = 1e-4
	// PriorStep is the finite-difference step, in intensity units.
	PriorStep = 1e-4
	// TolPerSample bounds |E_n(batch) - E(image n alone)| / max(1, |E_n|): a sample's energy
	// must not depend on the rest of its batch (float32 plugins may sum in another order).
	TolPerSample = 1e-6
)

// CheckPrior runs the prior checks on p: shapes (one energy per sample, a gradient shaped like
// x), finiteness, determinism, per-sample independence, and the gradient against central
// finite differences of the summed energy along a random direction. Images are drawn uniformly
// in [0.2, 0.8), the clean-intensity range away from its ends.
func CheckPrior(ctx context.Context, p part.Prior, opt Options) Report {
	opt = opt.withDefaults()
	r := Report{Subject: fmt.Sprintf("%T", p)}
	x := randBatch(opt.rng(30), opt.Shape, 0.2, 0.8)
	e, grad, err := p.Energy(ctx, x)
	if err != nil {
		r.fail("shape", "Energy: %v", err)
		return r
	}
	if len(e) != x.N || grad == nil || grad.Shape != x.Shape {
		gs := "nil"
		if grad != nil {
			gs = grad.Shape.String()
		}
		r.fail("shape", "Energy gave %d energies and a gradient of %s for x of %s", len(e), gs, x.Shape)
		return r
	}
	r.pass("shape", fmt.Sprintf("%d energies, gradient %s", len(e), grad.Shape))
	if bad := firstNonFinite(e); bad >= 0 {
		r.fail("finite", "energy of sample %d is %v", bad, e[bad])
		return r
	}
	if err := grad.CheckFinite(); err != nil {
		r.fail("finite", "gradient: %v", err)
		return r
	}
	r.pass("finite", "energies and gradient")
	e2, grad2, err := p.Energy(ctx, x)
	if err != nil {
		r.fail("determinism", "Energy: %v", err)
	} else {
		diff := countDiff(grad, grad2)
		for n := range e {
			if e[n] != e2[n] {
				diff++
			}
		}
		r.measure("determinism", float64(diff), 0, false, "values differing between two calls on the same batch")
	}
	checkPriorPerSample(ctx, &r, p, x, e)
	checkPriorGrad(ctx, &r, p, opt, x, grad)
	return r
}

// checkPriorPerSample compares the energy of the last image alone with its energy in the batch.
func checkPriorPerSample(ctx context.Context, r *Report, p part.Prior, x *batch.Batch, e []float64) {
	last := x.N - 1
	alone, _, err := p.Energy(ctx, x.Slice(last, x.N).Clone())
	if err != nil || len(alone) != 1 {
		r.fail("per sample", "Energy of one image: %d values, %v", len(alone), err)
		return
	}
	r.measure("per sample", math.Abs(alone[0]-e[last])/math.Max(1, math.Abs(e[last])), TolPerSample, false,
		fmt.Sprintf("|E(image %d in its batch) - E(alone)| / max(1,|E|)", last))
}

// checkPriorGrad compares the gradient with central differences of Σ_n E_n along the gradient
// itself and along a random direction (see centralCheck and the note in gradient.go).
func checkPriorGrad(ctx context.Context, r *Report, p part.Prior, opt Options, x, grad *batch.Batch) {
	sum := func(a *batch.Batch) (float64, error) {
		e, _, err := p.Energy(ctx, a)
		s := 0.0
		for _, v := range e {
			s += v
		}
		return s, err
	}
	worst, which, fd, an, err := centralCheck(PriorStep, x, grad, randBatch(opt.rng(31), x.Shape, -1, 1), sum)
	if err != nil {
		r.fail("gradient", "Energy: %v", err)
		return
	}
	if which == "none" {
		r.skip("gradient", "the gradient is zero for the test images")
		return
	}
	r.measure("gradient", worst, TolPriorGrad, false, fmt.Sprintf(
		"|central difference - <grad,d>| / |<grad,d>| for d = gradient and a random d, step %g; worst %s (%.8g vs %.8g)", PriorStep, which, fd, an))
}

func firstNonFinite(v []float64) int {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i
		}
	}
	return -1
}
