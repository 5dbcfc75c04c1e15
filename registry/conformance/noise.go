package conformance

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Tolerances of the noise checks.
const (
	// MaxZ bounds the standard score of the sample mean and sample variance against the
	// model's moments (5 standard errors; the seeded draws make the outcome reproducible).
	MaxZ = 5.0
	// TolNLLGrad bounds |finite difference - <NLLGrad, d>| / |<NLLGrad, d>| for central
	// differences with step 1e-4 along the gradient and along a random direction d.
	TolNLLGrad = 1e-4
)

// MomentLevels are the intensities A(x) at which the moment check samples the noise.
var MomentLevels = []float64{0.05, 0.2, 0.5, 0.9}

// CheckNoise runs the noise-model checks on nm: shape, determinism, sample moments against
// the model's (when it implements part.NoiseMoments), NLL finiteness, NLLGrad against
// central finite differences, and the in-graph NLL and gradient (when it implements
// operators.GraphNoise). A(x) values are drawn in [0.2, 0.8) away from clamps and floors.
func CheckNoise(ctx context.Context, nm part.NoiseModel, opt Options) Report {
	opt = opt.withDefaults()
	r := Report{Subject: fmt.Sprintf("%T", nm)}
	ax := randBatch(opt.rng(20), opt.Shape, 0.2, 0.8)
	y, err := nm.Sample(ctx, opt.rng(21), ax)
	if err != nil {
		r.fail("shape", "Sample: %v", err)
		return r
	}
	if y.Shape != ax.Shape {
		r.fail("shape", "Sample gave %s for A(x) of %s", y.Shape, ax.Shape)
		return r
	}
	r.pass("shape", fmt.Sprintf("Sample keeps %s", ax.Shape))
	if err := y.CheckFinite(); err != nil {
		r.fail("finite", "Sample: %v", err)
	} else {
		r.pass("finite", "Sample")
	}
	y2, err := nm.Sample(ctx, opt.rng(21), ax)
	if err != nil {
		r.fail("determinism", "Sample: %v", err)
	} else {
		r.measure("determinism", float64(countDiff(y, y2)), 0, false, "values differing between two draws from the same seed")
	}
	if ctx.Err() != nil {
		r.fail("moments", "%v", ctx.Err())
		return r
	}
	checkMoments(ctx, &r, nm, opt)

	nll, err := nm.NLL(ctx, y, ax)
	if err != nil || len(nll) != ax.N {
		r.fail("nll", "NLL gave %d values (want %d): %v", len(nll), ax.N, err)
		return r
	}
	for n, v := range nll {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			r.fail("nll", "NLL of sample %d is %v", n, v)
			return r
		}
	}
	r.pass("nll", fmt.Sprintf("%d finite per-sample values", len(nll)))
	grad, err := nm.NLLGrad(ctx, y, ax)
	if err != nil || grad.Shape != ax.Shape {
		r.fail("nll gradient", "NLLGrad: %v", err)
		return r
	}
	checkNLLGrad(ctx, &r, nm, opt, y, ax, grad)
	if opt.NoGraph {
		r.skip("graph", "in-graph checks turned off")
	} else {
		checkGraphNoise(&r, nm, opt, y, ax, nll, grad)
	}
	return r
}

// checkMoments draws opt.Samples values at each of MomentLevels and compares the sample mean
// and variance with the model's moments, in standard errors: sqrt(var/n) for the mean and
// sqrt((m4 - s⁴)/n), with m4 the sample fourth central moment, for the variance.
func checkMoments(ctx context.Context, r *Report, nm part.NoiseModel, opt Options) {
	mom, ok := nm.(part.NoiseMoments)
	if !ok {
		r.skip("moments", "the model does not state its moments (part.NoiseMoments)")
		return
	}
	L, n := len(MomentLevels), opt.Samples
	ax := batch.New(n, 1, L, 1)
	for i := range n {
		for l, v := range MomentLevels {
			ax.Data[i*L+l] = float32(v)
		}
	}
	y, err := nm.Sample(ctx, opt.rng(22), ax)
	if err != nil {
		r.fail("moments", "Sample: %v", err)
		return
	}
	mean, variance, err := mom.Moments(ctx, ax)
	if err != nil {
		r.fail("moments", "Moments: %v", err)
		return
	}
	worst, where := 0.0, ""
	for l, level := range MomentLevels {
		var s, wantM, wantV float64
		for i := range n {
			s += float64(y.Data[i*L+l])
			wantM += float64(mean.Data[i*L+l])
			wantV += float64(variance.Data[i*L+l])
		}
		m := s / float64(n)
		wantM /= float64(n)
		wantV /= float64(n)
		var m2, m4 float64
		for i := range n {
			d := float64(y.Data[i*L+l]) - m
			m2 += d * d
			m4 += d * d * d * d
		}
		s2 := m2 / float64(n-1)
		m4 /= float64(n)
		zMean := math.Abs(m-wantM) / math.Sqrt(math.Max(wantV, 1e-300)/float64(n))
		zVar := math.Abs(s2-wantV) / math.Sqrt(math.Max(m4-s2*s2, 1e-300)/float64(n))
		if z := math.Max(zMean, zVar); z > worst || math.IsNaN(z) {
			worst = z
			where = fmt.Sprintf("at A(x)=%g: mean %.5g (model %.5g), variance %.5g (model %.5g)", level, m, wantM, s2, wantV)
		}
	}
	r.measure("moments", worst, MaxZ, false, fmt.Sprintf("largest standard score of sample mean/variance, %d draws per level; worst %s", n, where))
}

// checkNLLGrad compares NLLGrad with central differences of ΣNLL along the gradient itself
// and along a random direction (see centralCheck and the note in gradient.go).
func checkNLLGrad(ctx context.Context, r *Report, nm part.NoiseModel, opt Options, y, ax, grad *batch.Batch) {
	const h = 1e-4
	sum := func(a *batch.Batch) (float64, error) {
		nll, err := nm.NLL(ctx, y, a)
		s := 0.0
		for _, v := range nll {
			s += v
		}
		return s, err
	}
	worst, which, fd, an, err := centralCheck(h, ax, grad, randBatch(opt.rng(23), ax.Shape, -1, 1), sum)
	if err != nil {
		r.fail("nll gradient", "NLL: %v", err)
		return
	}
	if which == "none" {
		r.skip("nll gradient", "NLLGrad is zero for the test sample")
		return
	}
	r.measure("nll gradient", worst, TolNLLGrad, false, fmt.Sprintf(
		"|central difference - <NLLGrad,d>| / |<NLLGrad,d>| for d = NLLGrad and a random d, step %g; worst %s (%.8g vs %.8g)", h, which, fd, an))
}
