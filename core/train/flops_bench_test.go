package train

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/nn"
	"github.com/flowdiff/flowdiff-go/core/operators"
)

// gflopsModels are the train sections BenchmarkJointStepGFLOPs measures, on MNIST-sized
// denoising (28x28x1, noise.gaussian sigma 0.2, the default pipeline's problem).
var gflopsModels = []struct{ name, yaml string }{
	// flowdiff.yaml's models (docs/benchmarks-nn.md has their figures).
	{"default", `batch: 16
flow: {levels: 2, steps: 2, hidden: 16, cond_hidden: 8}
unet: {channels: 8, multipliers: [1, 2], time_embed: 32}
`},
	// The default flow with a U-Net twice as wide (4x its parameters): SimpleGo pads the
	// default's 8-16-channel products to 32-wide blocks, so width there may cost little.
	{"default-unet16", `batch: 16
flow: {levels: 2, steps: 2, hidden: 16, cond_hidden: 8}
unet: {channels: 16, multipliers: [1, 2], time_embed: 32}
`},
	// The default flow with a U-Net four times as wide (266.7k parameters, the U-Net
	// size): docs/training.md ("Why the prior draws strokes") quotes its step.
	{"default-unet32", `batch: 16
flow: {levels: 2, steps: 2, hidden: 16, cond_hidden: 8}
unet: {channels: 32, multipliers: [1, 2], time_embed: 32}
`},
	// Models 40x (flow) and 11x (U-Net) larger, at half the batch (docs/training.md says why
	// they are not the default).
	{"large", `batch: 8
flow: {levels: 2, level_steps: [0, 7], hidden: 128, cond_hidden: 16, split: false}
unet: {channels: 16, multipliers: [1, 4], time_embed: 80}
`},
}

// BenchmarkJointStepGFLOPs measures the achieved rate of one joint training step (flow step +
// diffusion step) against SimpleGo's own matmul rate in the same run: after every timed step it
// runs (untimed) a forward 1024x1024x1024 matmul, so both rates see the same machine load. FLOPs
// are those of the step's matrix products (Trainer.CountStepFLOPs); the rest of the step
// (activations, norms, copies, the optimizer) shows as lost rate. Metrics: GFLOP/s of the step,
// matmul-GFLOP/s, %matmul (their ratio), GFLOP per step, ms/step and the two models' trainable
// parameters; and the same ratio in CPU time, %matmul-cpu, with cpu-ms/step. Figures in
// docs/benchmarks-nn.md.
//
//	go test -run '^$' -bench JointStepGFLOPs -benchtime 10x ./core/train/
func BenchmarkJointStepGFLOPs(b *testing.B) {
	be := goBackend(b)
	ref := newMatMulRef(b, be)
	ctx := context.Background()
	prob := denoiseProblem(b)
	for _, m := range gflopsModels {
		b.Run(m.name, func(b *testing.B) {
			tr, err := New(ctx, be, benchTrainConfig(b, m.yaml), prob, 1, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			flops, err := tr.CountStepFLOPs(ctx)
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
			ref.run(b) // warm
			var refTime, refCPU, stepCPU time.Duration
			b.ResetTimer()
			for i := range b.N {
				st.Step = i + 1
				cpu := cpuTime()
				if _, err := tr.step(ctx, st); err != nil {
					b.Fatal(err)
				}
				stepCPU += cpuTime() - cpu
				b.StopTimer()
				cpu = cpuTime()
				refTime += ref.run(b)
				refCPU += cpuTime() - cpu
				b.StartTimer()
			}
			b.StopTimer()
			n := float64(b.N)
			rate := flops.Total() * n / b.Elapsed().Seconds() / 1e9
			refRate := ref.flops * n / refTime.Seconds() / 1e9
			b.ReportMetric(rate, "GFLOP/s")
			b.ReportMetric(refRate, "matmul-GFLOP/s")
			b.ReportMetric(100*rate/refRate, "%matmul")
			// The same ratio in CPU time (both cores' user+system time of the process): on a
			// machine shared with other jobs it varies less than the wall-clock ratio, but it
			// does not count a core left idle by a single-threaded phase.
			b.ReportMetric(100*(flops.Total()/stepCPU.Seconds())/(ref.flops/refCPU.Seconds()), "%matmul-cpu")
			b.ReportMetric(float64(stepCPU.Milliseconds())/n, "cpu-ms/step")
			b.ReportMetric(flops.Total()/1e9, "GFLOP/step")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/n, "ms/step")
			b.ReportMetric(float64(flow.NumParams(tr.ctx)), "flow-params")
			b.ReportMetric(float64(countParams(tr.ctx, UNetScope)), "unet-params")
		})
	}
}

// matMulRef is SimpleGo's reference rate: the forward product of two 1024x1024 matrices.
type matMulRef struct {
	exec  *graph.Exec
	x     *tensors.Tensor
	flops float64
}

func newMatMulRef(b *testing.B, be backends.Backend) *matMulRef {
	rng := rand.New(rand.NewPCG(8, 8))
	data := make([]float32, 1024*1024)
	for i := range data {
		data[i] = float32(2*rng.Float64() - 1)
	}
	return &matMulRef{
		exec:  graph.MustNewExec(be, func(x, y *graph.Node) *graph.Node { return nn.MatMul(x, y) }),
		x:     tensors.FromFlatDataAndDimensions(data, 1024, 1024),
		flops: 2 * 1024 * 1024 * 1024,
	}
}

// run executes the product once and returns its wall time.
func (r *matMulRef) run(b *testing.B) time.Duration {
	start := time.Now()
	out, err := r.exec.Exec(r.x, r.x)
	if err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	out[0].FinalizeAll()
	return d
}

// countParams is the number of trainable parameters under the absolute scope.
func countParams(ctx *mlctx.Context, scope string) int {
	n := 0
	ctx.EnumerateVariables(func(v *mlctx.Variable) {
		if v.Trainable && inScope(v.Scope(), scope) {
			n += v.Shape().Size()
		}
	})
	return n
}

// benchTrainConfig decodes a train section with its defaults.
func benchTrainConfig(b *testing.B, src string) Config {
	var cfg Config
	if errs := decodeTrainErr(src, &cfg); len(errs) > 0 {
		b.Fatal(errs)
	}
	return cfg
}

// denoiseProblem is the default pipeline's problem at benchmark scale: 64 images of 28x28x1
// with noise.gaussian sigma 0.2, identity operator.
func denoiseProblem(b testing.TB) Problem {
	clean := batch.New(64, 28, 28, 1)
	for i := range clean.Data {
		clean.Data[i] = float32((i*13)%17) / 17
	}
	noise, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.2})
	if err != nil {
		b.Fatal(err)
	}
	obs, params, err := corrupt.Corrupt(context.Background(), clean, nil, noise, 1)
	if err != nil {
		b.Fatal(err)
	}
	return Problem{Obs: obs, Params: params, Op: operators.NewCompose(), Noise: noise, Clean: clean.Shape}
}
