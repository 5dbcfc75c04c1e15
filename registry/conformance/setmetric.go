package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// CheckSetMetric runs the checks of a set-level metric (FID, KID): a finite value, determinism,
// and that a set scores at least as well against itself as a perturbed copy of it does
// (uniform noise of amplitude 0.2), in the direction HigherIsBetter states. The sets hold
// max(16, MinSetSize) images of opt.Shape, default 28x28 grayscale (the MNIST features' input);
// a metric that reports ErrUnavailable for that shape gets a skipped "available" check.
func CheckSetMetric(ctx context.Context, m part.SetMetric, opt Options) Report {
	if opt.Shape == (batch.Shape{}) {
		opt.Shape = batch.Shape{H: 28, W: 28, C: 1}
	}
	opt.Shape.N = max(16, m.MinSetSize(), opt.Shape.N)
	opt = opt.withDefaults()
	r := Report{Subject: fmt.Sprintf("%T", m)}
	ref := randBatch(opt.rng(50), opt.Shape, 0.2, 0.8)
	noise := randBatch(opt.rng(51), opt.Shape, -0.2, 0.2)
	img := ref.Clone()
	for i := range img.Data {
		img.Data[i] += noise.Data[i]
	}
	same, err := m.CompareSets(ctx, ref, ref)
	if errors.Is(err, metrics.ErrUnavailable) {
		r.skip("available", fmt.Sprintf("unavailable for sets of %s: %v", opt.Shape, err))
		return r
	}
	v, err2 := m.CompareSets(ctx, ref, img)
	if err != nil || err2 != nil {
		r.fail("compare", "CompareSets: %v %v", err, err2)
		return r
	}
	if math.IsNaN(same) || math.IsNaN(v) || math.IsInf(same, 0) || math.IsInf(v, 0) {
		r.fail("finite", "values %v (set against itself) and %v (against a noisy copy)", same, v)
		return r
	}
	r.pass("finite", fmt.Sprintf("%.4g against itself, %.4g against a noisy copy", same, v))
	v2, err := m.CompareSets(ctx, ref, img)
	if err != nil {
		r.fail("determinism", "CompareSets: %v", err)
		return r
	}
	diff := 0.0
	if v2 != v {
		diff = 1
	}
	r.measure("determinism", diff, 0, false, "values differing between two calls on the same sets")
	worse := 0.0
	if (m.HigherIsBetter() && same < v) || (!m.HigherIsBetter() && same > v) {
		worse = 1
	}
	r.measure("identity", worse, 0, false, fmt.Sprintf(
		"a set scores worse against itself than a noisy copy does (higher is better: %v; %.4g vs %.4g)",
		m.HigherIsBetter(), same, v))
	return r
}
