package conformance

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"

	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/registry"
)

// invertedMetric is a metric that claims the wrong direction.
type invertedMetric struct{ part.Metric }

func (m invertedMetric) HigherIsBetter() bool { return !m.Metric.HigherIsBetter() }

func TestCheckMetric(t *testing.T) {
	for _, id := range []string{"metric.psnr", "metric.ssim"} {
		m, err := metrics.Build(ctx, id)
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

// invertedSet is a set metric that claims the wrong direction.
type invertedSet struct{ part.SetMetric }

func (m invertedSet) HigherIsBetter() bool { return !m.SetMetric.HigherIsBetter() }

// TestCheckSetMetric: FID and KID on the MNIST classifier pass the set suite; the same metric
// claiming the wrong direction fails its identity check; a shape the classifier cannot read is
// a skip, not a pass.
func TestCheckSetMetric(t *testing.T) {
	for _, id := range []string{"metric.fid_mnist_classifier", "metric.kid_mnist_classifier"} {
		m, err := metrics.BuildSet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r := CheckSetMetric(ctx, m, Options{})
		Require(t, r)
		r = CheckSetMetric(ctx, invertedSet{m}, Options{})
		if c, _ := r.Find("identity"); !c.Failed() {
			t.Errorf("%s with the wrong direction passed:\n%s", id, r)
		}
		r = CheckSetMetric(ctx, m, Options{Shape: batch.Shape{H: 16, W: 16, C: 3}})
		if c, ok := r.Find("available"); !ok || c.Skip == "" {
			t.Errorf("%s on 16x16 RGB sets: want a skipped availability check:\n%s", id, r)
		}
	}
}

// TestCheckIDUnavailable: a part whose build reports metrics.ErrUnavailable (an external file
// missing) gets a skipped build check naming the reason, not a failure; any other build
// error still fails.
func TestCheckIDUnavailable(t *testing.T) {
	reg := registry.New()
	reg.Add(registry.Entry{ID: "test.nofile", Kind: registry.KindMetric,
		New: func(context.Context, any) (any, error) {
			return nil, fmt.Errorf("test.nofile: %w: weights not found", metrics.ErrUnavailable)
		}})
	reg.Add(registry.Entry{ID: "test.broken", Kind: registry.KindMetric,
		New: func(context.Context, any) (any, error) { return nil, errors.New("bad config") }})
	r, err := CheckID(ctx, "test.nofile", reg)
	if c, ok := r.Find("build"); err != nil || !ok || c.Skip == "" || !r.OK() {
		t.Errorf("unavailable metric: want a skipped build check:\n%s", r)
	}
	r, _ = CheckID(ctx, "test.broken", reg)
	if c, _ := r.Find("build"); !c.Failed() {
		t.Errorf("a build error passed:\n%s", r)
	}
}
