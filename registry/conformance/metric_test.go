package conformance

import (
	"testing"

	"github.com/flowdiff/flowdiff-go/core/metrics"
)

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
