package diffusion

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// Benchmarks run on the pure-Go backend (testGoConfig) in float32; figures are recorded in
// docs/diffusion.md. The sampler benchmarks take minutes per iteration:
//
//	go test -run XXX -bench 'TrainStep|Forward' -benchtime 5x ./core/diffusion/
//	go test -run XXX -bench 'Sampler|DPSStep' -benchtime 1x -timeout 30m ./core/diffusion/

// benchConfigs are the U-Net configurations benchmarked: the default, with attention, and
// DDPM's layout without the patch folding (three levels 28 -> 14 -> 7 at 16/32/32 channels).
var benchConfigs = []struct {
	name string
	cfg  UNetConfig
}{
	{"default", UNetConfig{}},
	{"attention", UNetConfig{Attention: true}},
	{"ddpm-layout", UNetConfig{Patch: 1, Multipliers: []int{1, 2, 2}}},
}

// benchShapes are the image sizes benchmarked, batch 16.
var benchShapes = []batch.Shape{{N: 16, H: 28, W: 28, C: 1}, {N: 16, H: 32, W: 32, C: 3}}

// BenchmarkTrainStep times one training step: DenoiseLoss forward and backward, Adam and the
// EMA update, at batch 16. Metric: ms/step.
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range benchConfigs {
		for _, shape := range benchShapes {
			if c.name == "ddpm-layout" && shape.C == 3 {
				continue
			}
			b.Run(c.name+"/"+shape.String(), func(b *testing.B) {
				be := gomlxtest.Backend(b, testGoConfig)
				ctx := seededContext(b, 1)
				opt := optimizers.Adam().LearningRate(1e-3).Done()
				e := mlctx.MustNewExec(be, ctx, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
					loss := DenoiseLoss(ctx, c.cfg, in[0], in[1], in[2], in[3], in[4])
					opt.UpdateGraph(ctx, loss.Graph(), loss)
					UpdateEMA(ctx, loss.Graph(), UNetScope, DefaultEMADecay)
					return loss
				})
				sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
				rng := rand.New(rand.NewPCG(1, 1))
				x0 := randomBatch(rng, shape)
				in := sched.LossInputs(rng, shape, Uniform)
				args := []any{tensors.FromFlatDataAndDimensions(x0.Data, shape.Dims()...),
					tensors.FromFlatDataAndDimensions(in.Eps.Data, shape.Dims()...),
					tensors.FromFlatDataAndDimensions(in.T, shape.N), tensors.FromFlatDataAndDimensions(in.SqrtAbar, shape.N),
					tensors.FromFlatDataAndDimensions(in.SqrtOneMinusAbar, shape.N)}
				e.MustExec(args...) // compile, initialize
				b.ResetTimer()
				for range b.N {
					e.MustExec(args...)[0].FinalizeAll()
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
			})
		}
	}
}

// BenchmarkForward times one U-Net evaluation (a sampler step's cost) at batch 16. Metric:
// ms/eval.
func BenchmarkForward(b *testing.B) {
	for _, c := range benchConfigs {
		shape := benchShapes[0]
		b.Run(c.name+"/"+shape.String(), func(b *testing.B) {
			be := gomlxtest.Backend(b, testGoConfig)
			ctx := seededContext(b, 1)
			e := mlctx.MustNewExec(be, ctx, func(ctx *mlctx.Context, x, t *graph.Node) *graph.Node {
				return EpsModel(ctx, c.cfg, x, t)
			})
			x := randomBatch(rand.New(rand.NewPCG(2, 2)), shape)
			xt, tt := tensors.FromFlatDataAndDimensions(x.Data, shape.Dims()...), stepTimes(shape.N, 500)
			e.MustExec(xt, tt)
			b.ResetTimer()
			for range b.N {
				e.MustExec(xt, tt)[0].FinalizeAll()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/eval")
		})
	}
}

// benchSampler returns a sampler for a freshly initialized default U-Net (weights do not change
// the cost) with the DDPM schedule of T steps.
func benchSampler(b *testing.B, shape batch.Shape, T int) *Sampler {
	b.Helper()
	be := gomlxtest.Backend(b, testGoConfig)
	ctx := seededContext(b, 1)
	if err := InitUNet(be, ctx, UNetConfig{}, shape); err != nil {
		b.Fatal(err)
	}
	sched, err := NewLinear(T, DefaultBetaStart, DefaultBetaEnd)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSampler(be, ctx, UNetConfig{}, sched)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkSampler times DDIM with 50 steps and DDPM ancestral sampling with 1000 steps, batch
// 16 of 28x28x1, default U-Net. Metric: images/s.
func BenchmarkSampler(b *testing.B) {
	shape := benchShapes[0]
	runs := []struct {
		name string
		fn   func(s *Sampler) (*batch.Batch, error)
	}{
		{"ddim50", func(s *Sampler) (*batch.Batch, error) {
			return s.DDIM(context.Background(), shape, 50, 0, SampleOptions{Seed: 1})
		}},
		{"ancestral1000", func(s *Sampler) (*batch.Batch, error) {
			return s.Ancestral(context.Background(), shape, SampleOptions{Seed: 1})
		}},
	}
	for _, r := range runs {
		b.Run(r.name+"/"+shape.String(), func(b *testing.B) {
			s := benchSampler(b, shape, DefaultSteps)
			b.ResetTimer()
			for range b.N {
				if _, err := r.fn(s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*shape.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkDPSStep times DPS steps (U-Net forward and backward to x_t, mask operator) at batch
// 16 of 28x28x1, over a 20-step schedule. Metric: ms/step.
func BenchmarkDPSStep(b *testing.B) {
	ctx := b.Context()
	const T = 20
	shape := benchShapes[0]
	s := benchSampler(b, shape, T)
	op, _ := operators.NewRandomMask(operators.RandomMaskConfig{Fraction: 0.5})
	p, err := op.SampleParams(ctx, rand.New(rand.NewPCG(3, 3)), shape)
	if err != nil {
		b.Fatal(err)
	}
	y := randomBatch(rand.New(rand.NewPCG(4, 4)), shape)
	b.ResetTimer()
	for range b.N {
		if _, err := s.DPS(context.Background(), shape, DPSProblem{Op: op, Params: p, Y: y}, SampleOptions{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*T), "ms/step")
}

// BenchmarkDPS times whole DPS runs, denoising (A the identity, as for Gaussian noise), batch 16
// of 28x28x1, default U-Net, T = 1000: 100 guidance steps (strided schedule) and 1000 (DDPM's
// ancestral chain). Metric: images/s. Figures in docs/sampling.md.
//
//	nice -n 15 go test -run XXX -bench DPS$ -benchtime 1x -timeout 30m ./core/diffusion/
func BenchmarkDPS(b *testing.B) {
	shape := benchShapes[0]
	y := randomBatch(rand.New(rand.NewPCG(5, 5)), shape)
	for _, steps := range []int{100, 1000} {
		b.Run(fmt.Sprintf("steps%d/%s", steps, shape), func(b *testing.B) {
			s := benchSampler(b, shape, DefaultSteps)
			p := DPSProblem{Op: operators.NewCompose(), Y: y, Steps: steps}
			b.ResetTimer()
			for range b.N {
				if _, err := s.DPS(context.Background(), shape, p, SampleOptions{Seed: 1, Clip: [2]float64{-1, 1}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*shape.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*steps), "ms/step")
		})
	}
}
