package metrics

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// ErrSetMetric marks a set metric asked for per-image values (Build on a SetMetric).
var ErrSetMetric = errors.New("set-level metric (one value per set of images, not per image)")

// Open builds the registered metric id with its default config: a Metric or a SetMetric.
func Open(ctx context.Context, id string) (any, error) {
	e, err := registry.Default.LookupKind(id, registry.KindMetric)
	if err != nil {
		return nil, err
	}
	cfg, err := e.DefaultConfig()
	if err != nil {
		return nil, err
	}
	v, err := e.New(ctx, cfg)
	if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
		return nil, ue
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	switch v.(type) {
	case part.Metric, part.SetMetric:
		return v, nil
	}
	return nil, fmt.Errorf("%s: registered factory returned %T, neither a part.Metric nor a part.SetMetric", id, v)
}

// BuildSet builds the registered set metric id with its default config.
func BuildSet(ctx context.Context, id string) (part.SetMetric, error) {
	v, err := Open(ctx, id)
	if err != nil {
		return nil, err
	}
	s, ok := v.(part.SetMetric)
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
