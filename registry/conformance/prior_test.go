package conformance

import (
	"context"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
)

// quadPrior is E(x) = a/2 Σ x² per sample with gradient b·x: correct when a = b.
type quadPrior struct{ a, b float64 }

func (q quadPrior) Energy(_ context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	e := make([]float64, x.N)
	g := x.Clone()
	size := x.ImageSize()
	for i, v := range x.Data {
		e[i/size] += q.a / 2 * float64(v) * float64(v)
		g.Data[i] = float32(q.b * float64(v))
	}
	return e, g, nil
}

func TestCheckPrior(t *testing.T) {
	if r := CheckPrior(ctx, quadPrior{a: 2, b: 2}, Options{}); !r.OK() {
		t.Errorf("correct quadratic prior failed:\n%s", r)
	}
	r := CheckPrior(ctx, quadPrior{a: 2, b: 2.1}, Options{})
	if c, _ := r.Find("gradient"); !c.Failed() {
		t.Errorf("a gradient 5%% off passed:\n%s", r)
	}
}

// invertedMetric is a metric that claims the wrong direction.
type invertedMetric struct{ metrics.Metric }

func (m invertedMetric) HigherIsBetter() bool { return !m.Metric.HigherIsBetter() }

func TestCheckMetric(t *testing.T) {
	for _, id := range []string{"metric.psnr", "metric.ssim"} {
		m, err := metrics.Build(id)
		if err != nil {
			t.Fatal(err)
		}
		if r := CheckMetric(ctx, m, Options{}); !r.OK() {
			t.Errorf("%s failed:\n%s", id, r)
		}
		r := CheckMetric(ctx, invertedMetric{m}, Options{})
		if c, _ := r.Find("identity"); !c.Failed() {
			t.Errorf("%s with the wrong direction passed:\n%s", id, r)
		}
	}
}
