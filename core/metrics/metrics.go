// Package metrics holds the image-quality metrics a pipeline names as `metric.*`. A Metric
// compares images to references image by image and returns one value per pair; summaries
// (mean, standard error) are taken by the caller. A SetMetric (FID, KID on the project's MNIST
// classifier) compares two sets of images as distributions and returns one value per set.
// Calibrate measures how well a posterior's per-pixel standard deviations cover the truth.
//
// Images are [batch, height, width, channels] float32 with intensities in [0, data_range].
package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Build looks a per-image metric up in the registry by ID and builds it with its default
// config (Open also accepts set metrics).
func Build(ctx context.Context, id string) (part.Metric, error) {
	v, err := Open(ctx, id)
	if err != nil {
		return nil, err
	}
	m, ok := v.(part.Metric)
	if !ok {
		return nil, fmt.Errorf("%s: %w: use Open or BuildSet", id, ErrSetMetric)
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

// ErrUnavailable marks a metric that cannot be built on this machine, such as LPIPS without
// its weights file. Callers that score many metrics report it with its reason instead of a
// value; errors.Is(err, ErrUnavailable) finds it through any wrapping.
var ErrUnavailable = errors.New("metric unavailable")

// UnavailableError says why metric ID is unavailable and how to make it available. It
// matches ErrUnavailable under errors.Is.
type UnavailableError struct {
	ID     string
	Reason string
}

func (e *UnavailableError) Error() string { return e.ID + " unavailable: " + e.Reason }

// Is reports whether target is ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// parallelImages calls work(i) for i in [0, n) on up to GOMAXPROCS goroutines. newWorker
// runs once per goroutine and returns its work function, so scratch memory is per goroutine.
// It stops early and returns ctx.Err() when ctx is cancelled.
func parallelImages(ctx context.Context, n int, newWorker func() func(i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			work := newWorker()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				work(i)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

var _ error = (*UnavailableError)(nil)
