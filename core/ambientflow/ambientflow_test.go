package ambientflow

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/nn"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// bars returns n 8x8 images of one bright bar (a random row or column, intensity 0.7-1) on a
// dark background (0.1): a toy distribution far from N(1/2, 1) per pixel.
func bars(rng *rand.Rand, n int) *batch.Batch {
	b := batch.New(n, 8, 8, 1)
	for i := range n {
		img := b.Data[i*64 : (i+1)*64]
		for j := range img {
			img[j] = 0.1
		}
		k, v := rng.IntN(8), float32(0.7+0.3*rng.Float64())
		for j := range 8 {
			if i%2 == 0 {
				img[k*8+j] = v
			} else {
				img[j*8+k] = v
			}
		}
	}
	return b
}

// noisy returns x + sigma n.
func noisy(rng *rand.Rand, x *batch.Batch, sigma float64) *batch.Batch {
	y := batch.New(x.N, x.H, x.W, x.C)
	for i, v := range x.Data {
		y.Data[i] = v + float32(sigma*rng.NormFloat64())
	}
	return y
}

func toyProblem(t *testing.T, obs *batch.Batch, steps int) Problem {
	t.Helper()
	g, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	var cfg train.Config
	if errs := schema.Decode(nil, &cfg, ""); len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg.Steps, cfg.Batch, cfg.Warmup, cfg.Checkpoint = steps, 16, 10, steps
	var conf Config
	if errs := schema.Decode(nil, &conf, ""); len(errs) > 0 {
		t.Fatal(errs)
	}
	small := flow.Config{Levels: 2, Steps: 2, Hidden: 16, CondHidden: 8, Clamp: 2, Split: true}
	conf.Prior = small
	return Problem{Obs: obs, Noise: g, Post: small, Train: cfg, Conf: conf}
}

// TestPriorLearnsFromNoisyObservations is the check of AmbientFlow (Kelkar et al. 2023:
// the prior trained only on noisy measurements models the clean distribution): at toy size
// (8x8 bars, sigma 0.2, 64 observations, 600 steps of 16, K = 2), the Glow prior's negative
// log-likelihood of clean test images, which it never sees, falls by more than 0.5 nats per
// pixel from its initial value (the standard normal on x - 1/2: 0.919 + E[(x-1/2)²]/2 ≈ 1.0).
// It need not be monotone: early on the prior can concentrate on the posterior's still blurry
// samples so that the clean images' NLL rises before it falls (2.27 at step 150 in the first
// measurement, 0.55 today); docs/baselines.md has the figures.
func TestPriorLearnsFromNoisyObservations(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tiny flows (about a minute)")
	}
	rng := rand.New(rand.NewPCG(7, 1))
	obs := noisy(rng, bars(rng, 64), 0.2)
	test := bars(rng, 32)
	be, err := backends.NewWithConfig(nn.PortableBackendConfig)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(be, toyProblem(t, obs, 150), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before, err := tr.PriorNLL(ctx, test, 32)
	if err != nil {
		t.Fatal(err)
	}
	// Train in three legs (Run resumes from the checkpoint at the end of each) and measure the
	// prior between them.
	dir := t.TempDir()
	nll := []float64{before}
	for _, steps := range []int{150, 300, 600} {
		tr.p.Train.Steps, tr.p.Train.Checkpoint = steps, 150
		if err := tr.Run(ctx, dir); err != nil {
			t.Fatal(err)
		}
		v, err := tr.PriorNLL(ctx, test, 32)
		if err != nil {
			t.Fatal(err)
		}
		nll = append(nll, v)
	}
	after := nll[len(nll)-1]
	t.Logf("prior NLL of clean test images at steps 0, 150, 300, 600: %.3f nats/pixel", nll)
	if !(after < before-0.5) {
		t.Errorf("prior NLL of clean test images %.3f -> %.3f nats/pixel after 600 steps: want a fall of more than 0.5", before, after)
	}
	post, err := tr.Posterior(ctx, noisy(rng, test, 0.2), 4, 32, 3)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tr.SamplePrior(ctx, 8, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	if post.Mean.N != 32 || x.N != 8 || x.H != 8 {
		t.Errorf("posterior %v, prior samples %v", post.Mean.Shape, x.Shape)
	}
}

// TestGlowPriorIsANormalizedDensity checks the split priors' bookkeeping: for the untrained
// prior (zero-initialized split priors, identity-permutation flow) log p is exactly the
// standard normal's on x - 1/2 (to 1e-3 nats per image, float32 sums of 64 terms).
func TestGlowPriorIsANormalizedDensity(t *testing.T) {
	be, err := backends.NewWithConfig(nn.PortableBackendConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := flow.Config{Levels: 3, Steps: 1, Hidden: 8, CondHidden: 4, Clamp: 2, Split: true}
	rng := rand.New(rand.NewPCG(3, 3))
	x := bars(rng, 4)
	ctx := mlctx.New().Checked(false)
	out, err := mlctx.ExecOnce(be, ctx, func(ctx *mlctx.Context, img *graph.Node) *graph.Node {
		return LogProb(ctx, cfg, img)
	}, tensors.FromFlatDataAndDimensions(x.Data, 4, 8, 8, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](out)
	for i := range 4 {
		want := -0.5 * 64 * 1.8378770664093453 // -D/2 log 2π
		for _, v := range x.Data[i*64 : (i+1)*64] {
			want -= 0.5 * float64(v-0.5) * float64(v-0.5)
		}
		if d := float64(got[i]) - want; d > 1e-3 || d < -1e-3 {
			t.Errorf("image %d: log p = %.5f, want %.5f (standard normal on x - 1/2) within 1e-3", i, got[i], want)
		}
	}
}

// TestPriorTermReachesThePosterior checks that -log p_θ(x) of the posterior samples is not
// detached: its gradient with respect to the posterior network's weights is non-zero (at
// initialization the prior is N(0, I) on x - 1/2, whose score -(x - 1/2) is non-zero), and it
// has a gradient with respect to the prior's weights too.
func TestPriorTermReachesThePosterior(t *testing.T) {
	be, err := backends.NewWithConfig(nn.PortableBackendConfig)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	obs := noisy(rng, bars(rng, 4), 0.2)
	tr, err := New(be, toyProblem(t, obs, 1), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := mlctx.ExecOnce(be, tr.ctx, func(ctx *mlctx.Context, y, eps *graph.Node) *graph.Node {
		_, _, priorNLL := tr.losses(ctx, y, eps)
		norm := func(scope string) *graph.Node {
			vars := train.Adam{Scope: scope}.Trainable(ctx, y.Graph())
			nodes := make([]*graph.Node, len(vars))
			for i, v := range vars {
				nodes[i] = v.ValueGraph(y.Graph())
			}
			sum := graph.ScalarZero(y.Graph(), y.DType())
			for _, g := range graph.Gradient(priorNLL, nodes...) {
				sum = graph.Add(sum, graph.ReduceAllSum(graph.Square(g)))
			}
			return sum
		}
		return graph.Concatenate([]*graph.Node{graph.Reshape(norm("/"+PostScope), 1), graph.Reshape(norm("/"+PriorScope), 1)}, 0)
	}, gather(obs, []int{0, 1, 2, 3}), normal(rng, 8, 8, 8, 1))
	if err != nil {
		t.Fatal(err)
	}
	v := tensors.MustCopyFlatData[float32](out)
	post, prior := v[0], v[1]
	t.Logf("squared gradient norms of -log p(x) of the posterior samples: posterior %.3g, prior %.3g", post, prior)
	if !(post > 1e-8) || !(prior > 1e-8) {
		t.Errorf("the prior term's gradient: %g in the posterior's weights, %g in the prior's; want both > 1e-8", post, prior)
	}
}
