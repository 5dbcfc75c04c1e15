// Package metrics holds the image-quality metrics a pipeline names as `metric.*`. Each metric
// compares images to references image by image and returns one value per pair; summaries
// (mean, standard error) are taken by the caller.
//
// Images are [batch, height, width, channels] float32 with intensities in [0, data_range].
package metrics

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/registry"
)

// Metric compares images to references.
type Metric interface {
	// Compute returns one value per image pair. ref and img must have equal shapes.
	Compute(ctx context.Context, ref, img *batch.Batch) ([]float64, error)
	// HigherIsBetter tells readers and regression checks which direction is an improvement.
	HigherIsBetter() bool
}

// Build looks a metric up in the registry by ID and builds it with its default config.
func Build(id string) (Metric, error) {
	e, err := registry.Default.LookupKind(id, registry.KindMetric)
	if err != nil {
		return nil, err
	}
	var cfg any
	if e.Config != nil {
		cfg = e.Config()
		if err := applyDefaults(cfg); err != nil {
			return nil, err
		}
	}
	v, err := e.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	m, ok := v.(Metric)
	if !ok {
		return nil, fmt.Errorf("%s: registered factory returned %T, not a Metric", id, v)
	}
	return m, nil
}

// Summary is the mean of per-image values and its standard error.
type Summary struct {
	Mean   float64 `json:"mean"`
	StdErr float64 `json:"stderr"`
	N      int     `json:"n"`
}

// Summarize returns the mean and the standard error of the mean of vals.
func Summarize(vals []float64) Summary {
	n := len(vals)
	if n == 0 {
		return Summary{Mean: math.NaN()}
	}
	var s, ss float64
	for _, v := range vals {
		s += v
	}
	mean := s / float64(n)
	for _, v := range vals {
		ss += (v - mean) * (v - mean)
	}
	se := 0.0
	if n > 1 {
		se = math.Sqrt(ss / float64(n-1) / float64(n))
	}
	return Summary{Mean: mean, StdErr: se, N: n}
}

func checkPair(ref, img *batch.Batch) error {
	if err := batch.SameShape(ref, img); err != nil {
		return fmt.Errorf("reference and image: %w", err)
	}
	return nil
}
