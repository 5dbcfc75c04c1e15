package flow

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// BenchmarkTrainStep times one training step of the flow on the pure-Go backend, float32, default
// Config, batch 16, the condition having the image's channels: Generate, the reverse loss
// mean(logdet) + mean(x²) (flowLoss) and its gradient with respect to every trainable variable
// (no optimizer update). Figures are in docs/flow.md.
//
//	go test -bench TrainStep -run XXX -benchtime 5x ./core/flow/
func BenchmarkTrainStep(b *testing.B) {
	for _, s := range []struct{ h, w, c int }{{28, 28, 1}, {32, 32, 3}} {
		b.Run(fmt.Sprintf("%dx%dx%d/batch16", s.h, s.w, s.c), func(b *testing.B) {
			const n = 16
			cfg := DefaultConfig()
			rng := rand.New(rand.NewPCG(1, 1))
			z := normalTensor(rng, dtypes.Float32, n, s.h, s.w, s.c)
			cond := gomlxtest.RandTensor(rng, dtypes.Float32, 1, n, s.h, s.w, s.c)
			f := newTestFlow(b, cfg, 1, perturbAmp, z, cond)
			vars := flowVars(f.ctx)
			_, gradExec := gradExecs(b, f.ctx, cfg, vars, false)
			release := func(ts []*tensors.Tensor) {
				for _, t := range ts {
					t.FinalizeAll()
				}
			}
			release(gradExec.MustExec(z, cond)) // compile outside the timer
			b.ResetTimer()
			for range b.N {
				release(gradExec.MustExec(z, cond))
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec*1e3, "ms/step")
			b.ReportMetric(1/sec, "steps/s")
			b.ReportMetric(float64(NumParams(f.ctx)), "params")
		})
	}
}

// BenchmarkGenerate times sampling: Generate alone (no gradient), same settings as
// BenchmarkTrainStep.
func BenchmarkGenerate(b *testing.B) {
	for _, s := range []struct{ h, w, c int }{{28, 28, 1}, {32, 32, 3}} {
		b.Run(fmt.Sprintf("%dx%dx%d/batch16", s.h, s.w, s.c), func(b *testing.B) {
			const n = 16
			rng := rand.New(rand.NewPCG(1, 1))
			z := normalTensor(rng, dtypes.Float32, n, s.h, s.w, s.c)
			cond := gomlxtest.RandTensor(rng, dtypes.Float32, 1, n, s.h, s.w, s.c)
			f := newTestFlow(b, DefaultConfig(), 1, perturbAmp, z, cond)
			b.ResetTimer()
			for range b.N {
				f.run(f.gen, z, cond)
			}
			b.StopTimer()
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/batch")
		})
	}
}
