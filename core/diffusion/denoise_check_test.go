package diffusion

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// TestStepForNoise checks the level of the step it picks, sqrt((1-abar)/abar)/2, against the
// schedule directly, that no neighbouring step is nearer the level asked for, and that from
// 0.02 up the default schedule's steps are dense enough to match within 3% (its levels run
// from 0.005 at t = 0 to about 78 at T-1, 0.0025 apart at the start).
func TestStepForNoise(t *testing.T) {
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	prev := -1
	for _, sigma := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5} {
		i, level := sched.StepForNoise(sigma)
		ab := sched.AlphaBar[i]
		if want := math.Sqrt((1-ab)/ab) / 2; math.Abs(level-want) > 1e-12 {
			t.Errorf("sigma %v: level %v, schedule says %v at step %d", sigma, level, want, i)
		}
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < len(sched.AlphaBar) {
				if l := math.Sqrt((1-sched.AlphaBar[j])/sched.AlphaBar[j]) / 2; math.Abs(l-sigma) < math.Abs(level-sigma) {
					t.Errorf("sigma %v: step %d (level %v) is nearer than %d (%v)", sigma, j, l, i, level)
				}
			}
		}
		if sigma >= 0.02 && math.Abs(level-sigma) > 0.03*sigma {
			t.Errorf("sigma %v: nearest step %d has level %v (more than 3%% off)", sigma, i, level)
		}
		if i <= prev {
			t.Errorf("sigma %v: step %d not after %d", sigma, i, prev)
		}
		prev = i
	}
}

// TestCheckDenoising checks the check with noise predictors whose answer is known, on random
// 8x8 images: one that predicts no noise leaves the input as it is (gain 0 dB to rounding);
// an oracle that knows every image is the constant 0.3 removes the noise (output PSNR above
// 60 dB). The input PSNR is that of Gaussian noise of the step's level, -20 log10(sigma),
// within 0.3 dB over 64 images.
func TestCheckDenoising(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	ctx := seededContext(t, 1)
	cfg := UNetConfig{Channels: 4, TimeEmbed: 8}
	img := batch.Shape{N: 64, H: 8, W: 8, C: 1}
	if err := InitUNet(b, ctx, cfg, img); err != nil {
		t.Fatal(err)
	}
	const c = 0.3
	constant := batch.New(img.N, img.H, img.W, img.C)
	for i := range constant.Data {
		constant.Data[i] = c
	}
	random := batch.New(img.N, img.H, img.W, img.C)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range random.Data {
		random.Data[i] = rng.Float32()
	}
	none := func(_ *mlctx.Context, xt, _, _, _ *graph.Node) *graph.Node { return graph.ZerosLike(xt) }
	oracle := func(_ *mlctx.Context, xt, _, s0, s1 *graph.Node) *graph.Node {
		return graph.Div(graph.Sub(xt, graph.Mul(s0, graph.MulScalar(graph.OnesLike(xt), 2*c-1))), s1)
	}
	for _, tc := range []struct {
		name  string
		eps   EpsFunc
		clean *batch.Batch
		check func(DenoiseCheck) bool
		want  string
	}{
		{"no noise predicted", none, random, func(r DenoiseCheck) bool { return math.Abs(r.GainDB) < 1e-3 }, "gain 0 dB"},
		{"oracle of a constant image", oracle, constant, func(r DenoiseCheck) bool { return r.OutputPSNR > 60 }, "output PSNR > 60 dB"},
	} {
		s, err := NewSamplerFunc(b, ctx, cfg, sched, tc.eps)
		if err != nil {
			t.Fatal(err)
		}
		for _, sigma := range []float64{0.02, 0.1} {
			r, err := s.CheckDenoising(context.Background(), tc.clean, sigma, 7, 16)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) {
				t.Errorf("%s, sigma %v: %+v, want %s", tc.name, sigma, r, tc.want)
			}
			if want := -20 * math.Log10(r.Sigma); math.Abs(r.InputPSNR-want) > 0.3 {
				t.Errorf("%s, sigma %v: input PSNR %.2f, want %.2f (noise of std %v)", tc.name, sigma, r.InputPSNR, want, r.Sigma)
			}
			if r.N != img.N {
				t.Errorf("%s: N = %d, want %d", tc.name, r.N, img.N)
			}
		}
	}
	s, _ := NewSamplerFunc(b, ctx, cfg, sched, none)
	if _, err := s.CheckDenoising(context.Background(), random, 0, 1, 16); err == nil {
		t.Error("sigma 0: no error")
	}
}

// TestCheckDenoisingBatchIndependent checks that the network's batch size changes nothing: a
// randomized U-Net checked one image per call, 5 per call (a ragged last call) and all 12 at
// once gives the same gain to float32 rounding.
func TestCheckDenoisingBatchIndependent(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	ctx := seededContext(t, 2)
	cfg := UNetConfig{Channels: 4, TimeEmbed: 8}
	img := batch.Shape{N: 12, H: 8, W: 8, C: 1}
	if err := InitUNet(b, ctx, cfg, img); err != nil {
		t.Fatal(err)
	}
	gomlxtest.RandomizeVars(ctx, 3) // the zero-initialized output layer would predict no noise
	clean := batch.New(img.N, img.H, img.W, img.C)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range clean.Data {
		clean.Data[i] = rng.Float32()
	}
	s, err := NewSampler(b, ctx, cfg, sched)
	if err != nil {
		t.Fatal(err)
	}
	var gains []float64
	for _, bs := range []int{1, 5, 12} {
		r, err := s.CheckDenoising(context.Background(), clean, 0.05, 9, bs)
		if err != nil {
			t.Fatal(err)
		}
		gains = append(gains, r.GainDB)
	}
	if gains[0] == 0 || math.Abs(gains[1]-gains[0]) > 1e-4 || math.Abs(gains[2]-gains[0]) > 1e-4 {
		t.Errorf("gains with batch 1, 5, 12: %v; want equal and not 0", gains)
	}
}
