package metrics

import (
	"context"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// PSNRConfig configures metric.psnr.
type PSNRConfig struct {
	DataRange float64 `yaml:"data_range" default:"1" check:">0" doc:"peak-to-peak range of the intensities (1 for [0,1] images)"`
}

// PSNR is the peak signal-to-noise ratio per image, in dB:
//
//	PSNR = 10 log10(R^2 / MSE),  MSE = mean over pixels and channels of (ref - img)^2
//
// with R the data range. Identical images give +Inf.
type PSNR struct{ Range float64 }

// Compute implements Metric.
func (m PSNR) Compute(_ context.Context, ref, img *batch.Batch) ([]float64, error) {
	if err := checkPair(ref, img); err != nil {
		return nil, err
	}
	out := make([]float64, ref.N)
	sz := ref.ImageSize()
	for i := range out {
		var se float64
		for j := i * sz; j < (i+1)*sz; j++ {
			d := float64(ref.Data[j]) - float64(img.Data[j])
			se += d * d
		}
		mse := se / float64(sz)
		out[i] = 10 * math.Log10(m.Range*m.Range/mse)
	}
	return out, nil
}

// HigherIsBetter implements Metric.
func (PSNR) HigherIsBetter() bool { return true }

func init() {
	registry.Register(registry.Entry{
		ID: "metric.psnr", Kind: registry.KindMetric,
		Summary: "peak signal-to-noise ratio per image, dB",
		Config:  func() any { return &PSNRConfig{} },
		New:     func(_ context.Context, c any) (any, error) { return PSNR{Range: c.(*PSNRConfig).DataRange}, nil },
	})
}

var _ part.Metric = PSNR{}
