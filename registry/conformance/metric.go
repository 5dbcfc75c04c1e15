package conformance

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// CheckMetric runs the metric checks on m: one value per image pair, none NaN, determinism,
// and that every image scores at least as well against itself as a perturbed copy does
// (uniform noise of amplitude 0.2), in the direction HigherIsBetter states.
//
// The default shape is [3,32,32,1]: metrics read grayscale (or RGB) images, not the operators'
// two-channel test shape.
func CheckMetric(ctx context.Context, m part.Metric, opt Options) Report {
	if opt.Shape == (batch.Shape{}) {
		opt.Shape = batch.Shape{N: 3, H: 32, W: 32, C: 1}
	}
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
