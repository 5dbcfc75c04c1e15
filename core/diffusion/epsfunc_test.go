package diffusion

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// TestUNetOutputChannels checks that UNet takes any number of input channels and returns the
// requested output channels, at the input's height and width, and that EpsModel is UNet with
// the input's channels: the same variables give the same output.
func TestUNetOutputChannels(t *testing.T) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		cfg := UNetConfig{Channels: 4, TimeEmbed: 8}
		ctx := seededContext(t, 3)
		out, err := mlctx.ExecOnce(b, ctx, func(ctx *mlctx.Context, x, tt *graph.Node) *graph.Node {
			return UNet(ctx, cfg, x, tt, 1)
		}, gomlxtest.RandTensor(rand.New(rand.NewPCG(1, 1)), dtypes.Float32, 1, 2, 8, 8, 2), []float32{3, 500})
		if err != nil {
			t.Fatal(err)
		}
		if d := out.Shape().Dimensions; len(d) != 4 || d[0] != 2 || d[1] != 8 || d[2] != 8 || d[3] != 1 {
			t.Errorf("UNet(2 channels in, 1 out) shape %v, want [2 8 8 1]", d)
		}
		// EpsModel and UNet(out = C) share their variables and output.
		ctx2 := seededContext(t, 4)
		x := gomlxtest.RandTensor(rand.New(rand.NewPCG(2, 2)), dtypes.Float32, 1, 1, 8, 8, 1)
		if err := InitUNet(b, ctx2, cfg, batch.Shape{N: 1, H: 8, W: 8, C: 1}); err != nil {
			t.Fatal(err)
		}
		gomlxtest.RandomizeVars(ctx2, 5) // the zero-initialized output layer would hide differences
		a, err := mlctx.ExecOnce(b, ctx2.Reuse(), func(ctx *mlctx.Context, x, tt *graph.Node) *graph.Node {
			return EpsModel(ctx, cfg, x, tt)
		}, x, []float32{10})
		if err != nil {
			t.Fatal(err)
		}
		c, err := mlctx.ExecOnce(b, ctx2.Reuse(), func(ctx *mlctx.Context, x, tt *graph.Node) *graph.Node {
			return UNet(ctx, cfg, x, tt, 1)
		}, x, []float32{10})
		if err != nil {
			t.Fatal(err)
		}
		gomlxtest.AssertClose(t, "EpsModel vs UNet(out=C)", gomlxtest.Flat64(c), gomlxtest.Flat64(a), 0, 0)
	})
}

// TestSamplerFuncX0Prediction runs a Sampler with an EpsFunc built from an x0 prediction that
// is always the image c: every step's x0_hat = (x_t - sqrt(1-abar) eps) / sqrt(abar) is then c,
// so deterministic DDIM ends exactly at c (the last step has abar_prev = 1), up to float32
// rounding (1e-4 absolute: x0_hat divides by sqrt(abar_T) ~ 0.006). This is how Ambient
// Diffusion's x0 network samples (core/baselines).
func TestSamplerFuncX0Prediction(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	ctx := seededContext(t, 1)
	cfg := UNetConfig{Channels: 4, TimeEmbed: 8}
	img := batch.Shape{N: 2, H: 8, W: 8, C: 1}
	if err := InitUNet(b, ctx, cfg, img); err != nil { // NewSampler wants U-Net variables
		t.Fatal(err)
	}
	const c = 0.3
	eps := func(_ *mlctx.Context, xt, _, s0, s1 *graph.Node) *graph.Node {
		x0 := graph.OnesLike(xt)
		x0 = graph.MulScalar(x0, c)
		return graph.Div(graph.Sub(xt, graph.Mul(s0, x0)), s1)
	}
	s, err := NewSamplerFunc(b, ctx, cfg, sched, eps)
	if err != nil {
		t.Fatal(err)
	}
	x, err := s.DDIM(context.Background(), img, 20, 0, SampleOptions{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Data {
		if math.Abs(float64(v)-c) > 1e-4 {
			t.Fatalf("pixel %d = %v, want %v", i, v, c)
		}
	}
}
