package ambientflow

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/nn"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// BenchmarkStep times one AmbientFlow training step at the MNIST default pipeline's sizes
// (`method: ambientflow` on flowdiff.yaml): batch 16 of 28x28 observations, K = 2 posterior
// samples each, the posterior flow of flowdiff.yaml (2 levels x 2 steps x 16 hidden, 8
// conditioning channels) and train.ambientflow's default Glow prior, both Adam updates from one
// backward pass. docs/benchmarks-nn.md has the figures.
func BenchmarkStep(b *testing.B) {
	be, err := backends.NewWithConfig(nn.PortableBackendConfig) // core/backend's "go"
	if err != nil {
		b.Fatal(err)
	}
	defer be.Finalize()
	g, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	var cfg train.Config
	var conf Config
	if errs := schema.Decode(nil, &cfg, ""); len(errs) > 0 {
		b.Fatal(errs)
	}
	if errs := schema.Decode(nil, &conf, ""); len(errs) > 0 {
		b.Fatal(errs)
	}
	cfg.Steps, cfg.Batch = 1000, 16
	rng := rand.New(rand.NewPCG(1, 2))
	obs := batch.New(64, 28, 28, 1)
	for i := range obs.Data {
		obs.Data[i] = float32(0.5 + 0.2*rng.NormFloat64())
	}
	post := flow.Config{Levels: 2, Steps: 2, Hidden: 16, CondHidden: 8, Clamp: 2, Split: true}
	tr, err := New(be, Problem{Obs: obs, Noise: g, Post: post, Train: cfg, Conf: conf}, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tr.Step(0, 1); err != nil { // compile outside the timer
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := tr.Step(i+1, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}
