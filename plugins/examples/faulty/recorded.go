package main

import (
	"context"
	"io"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// RecordConfig configures faulty.prior and faulty.metric, which exist for the lifecycle tests.
type RecordConfig struct {
	Record bool `yaml:"record" default:"false" doc:"append configure and release events to calls.log in the plugin's folder"`
}

// Recorded is faulty.prior (the energy 0, a flat prior) and faulty.metric (the mean absolute
// difference, lower is better): parts that behave, so a run goes through, and record their
// configure and release events.
type Recorded struct {
	id     string
	record bool
}

func newRecorded(id string, c *RecordConfig) (*Recorded, error) {
	r := &Recorded{id: id, record: c.Record}
	return r, r.log("configure")
}

func (r *Recorded) log(event string) error {
	if !r.record {
		return nil
	}
	return record(event, r.id)
}

// Close implements io.Closer: the SDK calls it when the host releases the part.
func (r *Recorded) Close() error { return r.log("release") }

// Energy implements part.Prior: E = 0, so the prior adds nothing to the flow loss.
func (r *Recorded) Energy(_ context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	return make([]float64, x.N), batch.New(x.N, x.H, x.W, x.C), nil
}

// Compute implements part.Metric: the mean absolute difference per image pair.
func (r *Recorded) Compute(_ context.Context, ref, img *batch.Batch) ([]float64, error) {
	out := make([]float64, ref.N)
	n := ref.ImageSize()
	for i := range ref.N {
		for j := i * n; j < (i+1)*n; j++ {
			d := float64(ref.Data[j] - img.Data[j])
			if d < 0 {
				d = -d
			}
			out[i] += d / float64(n)
		}
	}
	return out, nil
}

// HigherIsBetter implements part.Metric.
func (r *Recorded) HigherIsBetter() bool { return false }

var (
	priorEntry = registry.Entry{
		ID: "faulty.prior", Kind: registry.KindPrior, Summary: "a flat prior (E = 0) that records its lifecycle",
		Config: func() any { return &RecordConfig{} },
		New: func(_ context.Context, cfg any) (any, error) {
			return newRecorded("faulty.prior", cfg.(*RecordConfig))
		},
	}
	metricEntry = registry.Entry{
		ID: "faulty.metric", Kind: registry.KindMetric, Summary: "mean absolute difference that records its lifecycle",
		Config: func() any { return &RecordConfig{} },
		New: func(_ context.Context, cfg any) (any, error) {
			return newRecorded("faulty.metric", cfg.(*RecordConfig))
		},
	}
)

var (
	_ part.Prior  = (*Recorded)(nil)
	_ part.Metric = (*Recorded)(nil)
	_ io.Closer   = (*Recorded)(nil)
)
