package train

import (
	"context"
	"log/slog"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"gopkg.in/yaml.v3"
)

// benchConfig is the default pipeline's models until 2026-12 (flow 2 levels x 2 steps, 16
// hidden channels; U-Net 8 channels, multipliers [1, 2]) at batch 16, the models the injection
// costs of docs/training.md were measured with.
const benchConfig = `batch: 16
flow: {levels: 2, steps: 2, hidden: 16, cond_hidden: 8}
unet: {channels: 8, multipliers: [1, 2], time_embed: 32}
`

// BenchmarkJointStep times one joint training step (flow step + diffusion step) on 28x28
// images blurred by blur.gaussian (size 9, sigma 1.5) with noise.gaussian: "graph" runs the
// operator and likelihood inside the step graph, "injected" hides them (operators.Opaque,
// OpaqueNoise) so the step runs the extra forward pass of the flow and the host's Apply, NLL
// and VJP (the path of a plugin, minus its transport). Figures in docs/training.md.
func BenchmarkJointStep(b *testing.B) {
	be := goBackend(b)
	cfg, clean, blur, noise, obs, params := jointStepSetup(b)
	ctx := context.Background()
	op := operators.NewCompose(blur)
	for _, c := range []struct {
		name  string
		op    part.Operator
		noise part.NoiseModel
	}{
		{"graph", op, noise},
		{"injected", operators.Opaque(op), operators.OpaqueNoise(noise)},
	} {
		b.Run(c.name, func(b *testing.B) {
			prob := Problem{Obs: obs, Params: params, Op: c.op, Noise: c.noise, Clean: clean.Shape}
			tr, err := New(ctx, be, cfg, prob, 1, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			if err := tr.compile(); err != nil {
				b.Fatal(err)
			}
			st := &State{LRScale: 1}
			if _, err := tr.step(ctx, st); err != nil { // compiles the executables
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st.Step = i + 1
				if _, err := tr.step(ctx, st); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
	// The injected path's extra work alone: the forward pass of the flow and the host's
	// Apply, NLL, NLLGrad and VJP.
	b.Run("injected-host-terms", func(b *testing.B) {
		prob := Problem{Obs: obs, Params: params, Op: operators.Opaque(op), Noise: operators.OpaqueNoise(noise), Clean: clean.Shape}
		tr, err := New(ctx, be, cfg, prob, 1, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.compile(); err != nil {
			b.Fatal(err)
		}
		in := tr.draw(PhaseJoint, 0)
		if _, err := tr.hostTerms(ctx, in); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := tr.hostTerms(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// jointStepSetup returns the joint-step benchmarks' problem: benchConfig's models, 64 images
// of 28x28 blurred by blur.gaussian (size 9, sigma 1.5) with noise.gaussian (sigma 0.1).
func jointStepSetup(b *testing.B) (Config, *batch.Batch, part.Operator, part.NoiseModel, *batch.Batch, part.Params) {
	b.Helper()
	var cfg Config
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(benchConfig), &node); err != nil {
		b.Fatal(err)
	}
	if errs := schema.Decode(node.Content[0], &cfg, "train"); len(errs) > 0 {
		b.Fatal(errs)
	}
	clean := batch.New(64, 28, 28, 1)
	for i := range clean.Data {
		clean.Data[i] = float32((i*13)%17) / 17
	}
	blur, _ := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 9, Sigma: 1.5})
	noise, _ := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.1})
	obs, params, err := corrupt.Corrupt(context.Background(), clean, []part.Operator{blur}, noise, 1)
	if err != nil {
		b.Fatal(err)
	}
	return cfg, clean, blur, noise, obs, params
}
