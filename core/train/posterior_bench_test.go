package train

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// BenchmarkPosterior times flow posterior sampling with the default pipeline's flow (2 levels x
// 2 steps, 16 hidden, 8 conditioning channels; freshly initialized weights cost the same as
// trained ones): 64 observations of 28x28x1 (Gaussian denoising), 16 samples each, batch 16.
// Metrics: flow samples per second, and observations per second with 16 samples each (the
// posterior mean and std of one observation). Figures in docs/sampling.md.
//
//	nice -n 15 go test -run XXX -bench Posterior -benchtime 2x ./core/train/
func BenchmarkPosterior(b *testing.B) {
	const n, k = 64, 16
	var cfg Config
	if errs := schema.Decode(nil, &cfg, "train"); len(errs) > 0 {
		b.Fatal(errs)
	}
	cfg.Flow.Levels, cfg.Flow.Steps, cfg.Flow.Hidden, cfg.Flow.CondHidden = 2, 2, 16, 8
	clean := batch.New(n, 28, 28, 1)
	for i := range clean.Data {
		clean.Data[i] = float32(i%13) / 13
	}
	noise, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	obs, params, err := corrupt.Corrupt(context.Background(), clean, nil, noise, 1)
	if err != nil {
		b.Fatal(err)
	}
	prob := Problem{Obs: obs, Params: params, Op: operators.NewCompose(), Noise: noise, Clean: clean.Shape}
	tr, err := New(context.Background(), goBackend(b), cfg, prob, 1, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	base, err := tr.Base(context.Background(), prob)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("obs%d/k%d/batch%d", n, k, cfg.Batch), func(b *testing.B) {
		if _, err := tr.Posterior(context.Background(), obs, base, 1, 1); err != nil { // compile
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := tr.Posterior(context.Background(), obs, base, k, 1); err != nil {
				b.Fatal(err)
			}
		}
		secs := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N*n*k)/secs, "samples/s")
		b.ReportMetric(float64(b.N*n)/secs, "observations/s")
	})
}
