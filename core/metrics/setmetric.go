package metrics

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/registry"
)

// SetMetric compares two sets of images as distributions (FID, KID), not image by image: the
// sets need not be paired or of equal size. Registered metrics implement Metric or SetMetric;
// Open builds either.
type SetMetric interface {
	// CompareSets returns one value for the set img against the reference set ref. A set the
	// metric cannot read (for example not 28x28 grayscale for an MNIST classifier) is an
	// error that matches ErrUnavailable, never a value.
	CompareSets(ctx context.Context, ref, img *batch.Batch) (float64, error)
	// HigherIsBetter tells readers and regression checks which direction is an improvement.
	HigherIsBetter() bool
	// MinSetSize is the smallest set the metric accepts.
	MinSetSize() int
}

// ErrSetMetric marks a set metric asked for per-image values (Build on a SetMetric).
var ErrSetMetric = errors.New("set-level metric (one value per set of images, not per image)")

// Open builds the registered metric id with its default config: a Metric or a SetMetric.
func Open(id string) (any, error) {
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
	if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
		return nil, ue
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	switch v.(type) {
	case Metric, SetMetric:
		return v, nil
	}
	return nil, fmt.Errorf("%s: registered factory returned %T, neither a Metric nor a SetMetric", id, v)
}

// BuildSet builds the registered set metric id with its default config.
func BuildSet(id string) (SetMetric, error) {
	v, err := Open(id)
	if err != nil {
		return nil, err
	}
	s, ok := v.(SetMetric)
	if !ok {
		return nil, fmt.Errorf("%s is a per-image metric, not a set metric", id)
	}
	return s, nil
}

// checkSets checks two sets for a set metric: same image shape, at least min images each.
func checkSets(id string, ref, img *batch.Batch, minSize int) error {
	if ref.H != img.H || ref.W != img.W || ref.C != img.C {
		return fmt.Errorf("%s: reference images %dx%dx%d and images %dx%dx%d differ in size", id, ref.H, ref.W, ref.C, img.H, img.W, img.C)
	}
	if ref.N < minSize || img.N < minSize {
		return &UnavailableError{ID: id, Reason: fmt.Sprintf("needs at least %d images per set, got %d and %d", minSize, ref.N, img.N)}
	}
	return nil
}
