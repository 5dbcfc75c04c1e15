package baselines

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// AmbientConfig configures the ambient_diffusion baseline (Daras et al. 2023). Zero values
// mean the documented defaults.
type AmbientConfig struct {
	Delta float64 `yaml:"delta" default:"0.1" check:">=0,<1" doc:"further corruption: each observed pixel is hidden again from the network with probability delta, fixed per image (A~ = A x Bernoulli(1-delta))"`
	Gamma float64 `yaml:"snr_gamma" default:"5" check:">0" doc:"the x0 loss is weighted by min(SNR_t, snr_gamma) (Min-SNR weighting, Hang et al. 2023), SNR_t = abar_t/(1-abar_t)"`
}

// ObservedMask returns, for observations through the operator op with per-sample params, the
// pixels each observation sees: 1 where A(1) is nonzero (|A(1)| > 1e-6), else 0, shaped like
// the images (shape, N the number of observations). For a mask operator (mask.random,
// mask.box, or one inside op.compose) it is the mask itself; for a blur it is all ones (every
// pixel carries signal). An operator that changes the image's shape is an error: Ambient
// Diffusion's observations are images with missing pixels.
func ObservedMask(ctx context.Context, op part.Operator, params part.Params, shape batch.Shape) (*batch.Batch, error) {
	ones := batch.New(shape.N, shape.H, shape.W, shape.C)
	for i := range ones.Data {
		ones.Data[i] = 1
	}
	a, err := op.Apply(ctx, ones, params)
	if err != nil {
		return nil, fmt.Errorf("ambient_diffusion: the observed pixels A(1): %w", err)
	}
	if a.Shape != ones.Shape {
		return nil, fmt.Errorf("ambient_diffusion: the forward operator maps images of shape %s to %s; "+
			"the method needs observations shaped like the images (pixels observed or missing)", ones.Shape, a.Shape)
	}
	m := batch.New(a.N, a.H, a.W, a.C)
	for i, v := range a.Data {
		if math.Abs(float64(v)) > 1e-6 {
			m.Data[i] = 1
		}
	}
	return m, nil
}

// FurtherMask returns A~ = A ⊙ B, B Bernoulli(1-delta) per pixel (all channels of a pixel
// together) drawn for image n from its own stream (seed, n): the further corruption of Ambient
// Diffusion, fixed per image for the whole training.
func FurtherMask(a *batch.Batch, delta float64, seed int64) *batch.Batch {
	out := a.Clone()
	px := a.H * a.W
	for n := range a.N {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
		for p := range px {
			if rng.Float64() < delta {
				base := (n*px + p) * a.C
				clear(out.Data[base : base+a.C])
			}
		}
	}
	return out
}

// SamplingMask returns one [1,H,W,C] mask keeping each pixel with probability survival, drawn
// from seed: the A~ that Ambient Diffusion's network sees while sampling (Daras et al. sample
// with a random mask of the training masks' density).
func SamplingMask(shape batch.Shape, survival float64, seed int64) *batch.Batch {
	m := batch.New(1, shape.H, shape.W, shape.C)
	rng := rand.New(rand.NewPCG(uint64(seed), 0xa3b1))
	for p := range shape.H * shape.W {
		if rng.Float64() < survival {
			for c := range shape.C {
				m.Data[p*shape.C+c] = 1
			}
		}
	}
	return m
}

// AmbientX0 is Ambient Diffusion's network: the estimate of the clean image x0 from the
// further-corrupted noisy image and its mask,
//
//	x0_hat = h_theta([A~ ⊙ x_t, A~], t)
//
// the U-Net (diffusion.UNet, variables under /unet) with the two concatenated along the
// channels (2C in, C out). xt and mask are [N,H,W,C] in model units, t [N].
func AmbientX0(ctx *mlctx.Context, unet diffusion.UNetConfig, xt, mask, t *graph.Node) *graph.Node {
	in := graph.Concatenate([]*graph.Node{graph.Mul(mask, xt), mask}, 3)
	return diffusion.UNet(ctx, unet, in, t, xt.Shape().Dimensions[3])
}

// AmbientEps is the noise prediction of Ambient Diffusion's network for the samplers
// (diffusion.NewSamplerFunc) with the fixed mask [1,H,W,C] (SamplingMask) broadcast over the
// batch: eps = (x_t - sqrt(abar_t) x0_hat) / sqrt(1-abar_t).
func AmbientEps(unet diffusion.UNetConfig, mask *batch.Batch) diffusion.EpsFunc {
	return func(ctx *mlctx.Context, xt, t, s0, s1 *graph.Node) *graph.Node {
		m := graph.ConstTensor(xt.Graph(), imageTensor(mask))
		m = graph.BroadcastToDims(graph.ConvertDType(m, xt.DType()), xt.Shape().Dimensions...)
		x0 := AmbientX0(ctx, unet, xt, m, t)
		return graph.Div(graph.Sub(xt, graph.Mul(s0, x0)), s1)
	}
}

// Ambient is Ambient Diffusion's objective (Daras et al. 2023, eq. 3.2) on observations
// y = A x (A a per-image pixel mask) in model units u = 2y-1:
//
//	L = E_{t, eps} w_t || A ⊙ (h_theta([A~ ⊙ x_t, A~], t) - u) ||² / D,
//	x_t = sqrt(abar_t) u + sqrt(1-abar_t) eps,   w_t = min(SNR_t, gamma)
//
// with t uniform over 1..T. The network sees only A~ ⊆ A (FurtherMask) and is scored only on
// the pixels A observes, so it must predict the pixels A~ hid from the ones it sees, which
// makes E[x0 | A~ x_t, A~] its optimum although no clean image is ever seen. Pixels that A
// hides are multiplied by 0 wherever they enter: no value of them changes the loss or its
// gradient (TestAmbientNeverReadsHiddenPixels). The weight w_t replaces the EDM weighting
// of the original code, which belongs to EDM's preconditioned network (see docs/baselines.md).
type Ambient struct {
	obs, mask, further *batch.Batch
	cfg                AmbientConfig
	unet               diffusion.UNetConfig
	sched              *diffusion.Schedule
}

// NewAmbient returns the objective for observations obs in [0,1] with observed-pixel masks
// mask (ObservedMask), the further masks drawn from seed.
func NewAmbient(obs, mask *batch.Batch, cfg AmbientConfig, unet diffusion.UNetConfig, sched *diffusion.Schedule, seed int64) (*Ambient, error) {
	if obs == nil || obs.N == 0 {
		return nil, fmt.Errorf("ambient_diffusion: no training observations")
	}
	if mask == nil || mask.Shape != obs.Shape {
		return nil, fmt.Errorf("ambient_diffusion: masks of shape %v for observations of shape %s", shapeOf(mask), obs.Shape)
	}
	if !(cfg.Delta >= 0 && cfg.Delta < 1) || !(cfg.Gamma > 0) {
		return nil, fmt.Errorf("ambient_diffusion: need 0 <= delta < 1 and snr_gamma > 0, got %v and %v", cfg.Delta, cfg.Gamma)
	}
	if err := unet.Validate(obs.H, obs.W, obs.C); err != nil {
		return nil, fmt.Errorf("ambient_diffusion: train.unet: %w", err)
	}
	return &Ambient{obs: obs, mask: mask, further: FurtherMask(mask, cfg.Delta, seed), cfg: cfg, unet: unet, sched: sched}, nil
}

// Survival is the fraction of pixels the network sees in training (the mean of A~): the
// density of the sampling mask.
func (a *Ambient) Survival() float64 {
	s := 0.0
	for _, v := range a.further.Data {
		s += float64(v)
	}
	return s / float64(len(a.further.Data))
}

// Name implements Objective.
func (a *Ambient) Name() string { return "ambient_diffusion" }

// Terms implements Objective: the weighted loss and the unweighted squared x0 error on the
// observed pixels, per pixel.
func (a *Ambient) Terms() []string { return []string{"loss", "x0_mse"} }

// Len implements Objective.
func (a *Ambient) Len() int { return a.obs.N }

// Inputs implements Objective: u = 2y-1, A and A~ of the observations idx, then eps, t,
// sqrt(abar_t), sqrt(1-abar_t) (uniform t) and the weights w_t.
func (a *Ambient) Inputs(rng *rand.Rand, idx []int, _ int) []any {
	u := toModel(a.obs.Gather(idx))
	li := a.sched.LossInputs(rng, u.Shape, diffusion.Uniform)
	w := make([]float32, len(idx))
	for k, i := range li.Steps {
		ab := a.sched.AlphaBar[i]
		w[k] = float32(min(ab/(1-ab), a.cfg.Gamma))
	}
	return []any{imageTensor(u), imageTensor(a.mask.Gather(idx)), imageTensor(a.further.Gather(idx)), imageTensor(li.Eps),
		tensors.FromValue(li.T), tensors.FromValue(li.SqrtAbar), tensors.FromValue(li.SqrtOneMinusAbar), tensors.FromValue(w)}
}

// Loss implements Objective.
func (a *Ambient) Loss(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
	u, m, mt, eps, t, sa, s1m, w := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
	xt := diffusion.Noised(u, eps, sa, s1m)
	x0 := AmbientX0(ctx, a.unet, xt, mt, t)
	d := float64(u.Shape().Size() / u.Shape().Dimensions[0])
	r2 := graph.DivScalar(graph.ReduceSum(graph.Square(graph.Mul(m, graph.Sub(x0, u))), 1, 2, 3), d)
	return []*graph.Node{graph.ReduceAllMean(graph.Mul(w, r2)), graph.ReduceAllMean(r2)}
}

func shapeOf(b *batch.Batch) any {
	if b == nil {
		return "nil"
	}
	return b.Shape
}

var _ Objective = (*Ambient)(nil)
