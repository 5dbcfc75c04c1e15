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
	Delta     float64 `yaml:"delta" default:"0.1" check:">=0,<1" doc:"further corruption: each observed pixel is hidden again from the network with probability delta, fixed per image (A~ = A x Bernoulli(1-delta))"`
	SigmaData float64 `yaml:"sigma_data" default:"0.5" check:">0" doc:"the images' standard deviation in model units (2x-1) assumed by the network's preconditioning (EDM's sigma_data, Karras et al. 2022)"`
	PMean     float64 `yaml:"p_mean" default:"-1.2" doc:"training noise levels: ln sigma ~ N(p_mean, p_std²), sigma in model units, clamped to the diffusion schedule's range (EDM's P_mean)"`
	PStd      float64 `yaml:"p_std" default:"1.2" check:">0" doc:"standard deviation of ln sigma of the training noise levels (EDM's P_std)"`
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
// further-corrupted noisy image and its mask, with EDM's preconditioning (Karras et al. 2022,
// as Daras et al.'s code) in the variance-exploding form of the DDPM step, x~ = x_t/sqrt(abar)
// = x0 + sigma eps, sigma = sqrt(1-abar)/sqrt(abar):
//
//	F      = h_theta([c_in (A~ ⊙ x~), A~], t)                      (the U-Net: 2C in, C out)
//	x0_hat = c_skip (A~ ⊙ x~) + c_out ⊙ F,  c_out = A~ c_o + (1 - A~) sigma_d
//	c_in = 1/sqrt(sigma² + sigma_d²),  c_skip = sigma_d²/(sigma² + sigma_d²),  c_o = sigma sigma_d/sqrt(sigma² + sigma_d²)
//
// so that F's target has unit variance at every pixel: on a pixel the network sees, EDM's
// skip and scale; on one A~ hides, which carries nothing of itself, no skip and the data's
// scale sigma_d (where EDM's c_o ~ sigma would ask F for values ~ 1/sigma at small noise). It
// returns x0_hat and c_out (the loss divides by it). xt and mask are [N,H,W,C] in model units,
// t [N]; sqrtAbar and sqrtOneMinusAbar are [N] or scalars.
func AmbientX0(ctx *mlctx.Context, unet diffusion.UNetConfig, xt, mask, t, sqrtAbar, sqrtOneMinusAbar *graph.Node, sigmaData float64) (x0, cOut *graph.Node) {
	s0, s1 := perImage(sqrtAbar, xt), perImage(sqrtOneMinusAbar, xt)
	sigma := graph.Div(s1, s0)
	sd2 := sigmaData * sigmaData
	v := graph.AddScalar(graph.Square(sigma), sd2) // sigma² + sigma_d²
	cIn := graph.Rsqrt(v)
	cSkip := graph.Div(graph.ScalarOne(xt.Graph(), xt.DType()), v)
	cSkip = graph.MulScalar(cSkip, sd2)
	cO := graph.MulScalar(graph.Mul(sigma, cIn), sigmaData)
	seen := graph.Div(graph.Mul(mask, xt), s0)
	f := diffusion.UNet(ctx, unet, graph.Concatenate([]*graph.Node{graph.Mul(cIn, seen), mask}, 3), t, xt.Shape().Dimensions[3])
	cOut = graph.Add(graph.Mul(mask, cO), graph.MulScalar(graph.OneMinus(mask), sigmaData))
	return graph.Add(graph.Mul(cSkip, seen), graph.Mul(cOut, f)), cOut
}

// perImage shapes a per-sample value [N] as [N,1,1,1] to scale images like x; a scalar stays.
func perImage(v, x *graph.Node) *graph.Node {
	if v.DType() != x.DType() {
		v = graph.ConvertDType(v, x.DType())
	}
	if v.Rank() == 0 {
		return v
	}
	return graph.Reshape(v, v.Shape().Dimensions[0], 1, 1, 1)
}

// AmbientEps is the noise prediction of Ambient Diffusion's network for the samplers
// (diffusion.NewSamplerFunc) with the fixed mask [1,H,W,C] (SamplingMask) broadcast over the
// batch: eps = (x_t - sqrt(abar_t) x0_hat) / sqrt(1-abar_t).
func AmbientEps(unet diffusion.UNetConfig, sigmaData float64, mask *batch.Batch) diffusion.EpsFunc {
	return func(ctx *mlctx.Context, xt, t, s0, s1 *graph.Node) *graph.Node {
		m := graph.ConstTensor(xt.Graph(), imageTensor(mask))
		m = graph.BroadcastToDims(graph.ConvertDType(m, xt.DType()), xt.Shape().Dimensions...)
		x0, _ := AmbientX0(ctx, unet, xt, m, t, s0, s1, sigmaData)
		return graph.Div(graph.Sub(xt, graph.Mul(s0, x0)), s1)
	}
}

// Ambient is Ambient Diffusion's objective (Daras et al. 2023, eq. 3.2) on observations
// y = A x (A a per-image pixel mask) in model units u = 2y-1:
//
//	L = E_{t, eps} || A ⊙ (x0_hat - u) / c_out ||² / D,   x0_hat, c_out = AmbientX0(A~, x_t, t)
//	x_t = sqrt(abar_t) u + sqrt(1-abar_t) eps
//
// with EDM's noise levels (Inputs) and loss weight 1/c_out² (Karras et al. 2022), per pixel. The
// network sees only A~ ⊆ A (FurtherMask) and is scored only on the pixels A observes, so it
// must predict the pixels A~ hid from the ones it sees, which makes E[x0 | A~ x_t, A~] its
// optimum although no clean image is ever seen. Pixels that A hides are multiplied by 0
// wherever they enter: no value of them changes the loss or its gradient
// (TestAmbientNeverReadsHiddenPixels).
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
	if !(cfg.Delta >= 0 && cfg.Delta < 1) || !(cfg.SigmaData > 0) || !(cfg.PStd > 0) {
		return nil, fmt.Errorf("ambient_diffusion: need 0 <= delta < 1, sigma_data > 0 and p_std > 0, got %v, %v and %v", cfg.Delta, cfg.SigmaData, cfg.PStd)
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

// Terms implements Objective: the loss and the unweighted squared x0 error on the observed
// pixels, per pixel (model units).
func (a *Ambient) Terms() []string { return []string{"loss", "x0_mse"} }

// Len implements Objective.
func (a *Ambient) Len() int { return a.obs.N }

// Inputs implements Objective: u = 2y-1, A and A~ of the observations idx, then eps, the
// (fractional) step t of each sample's noise level, sqrt(abar_t) and sqrt(1-abar_t): the levels
// are EDM's, ln sigma ~ N(p_mean, p_std²), clamped to the schedule's range and taken to the
// DDPM step of that level (NoiseLevelStep).
func (a *Ambient) Inputs(rng *rand.Rand, idx []int, _ int) []any {
	u := toModel(a.obs.Gather(idx))
	n := len(idx)
	t, sa, s1m := make([]float32, n), make([]float32, n), make([]float32, n)
	ab := a.sched.AlphaBar
	lo, hi := math.Sqrt((1-ab[0])/ab[0]), math.Sqrt((1-ab[len(ab)-1])/ab[len(ab)-1])
	for k := range n {
		sigma := min(hi, max(lo, math.Exp(a.cfg.PMean+a.cfg.PStd*rng.NormFloat64())))
		step, abar, err := NoiseLevelStep(a.sched, sigma)
		if err != nil { // clamped into the range above: a programmer error
			panic(err)
		}
		t[k], sa[k], s1m[k] = float32(step), float32(math.Sqrt(abar)), float32(math.Sqrt(1-abar))
	}
	eps := batch.New(u.N, u.H, u.W, u.C)
	for i := range eps.Data {
		eps.Data[i] = float32(rng.NormFloat64())
	}
	return []any{imageTensor(u), imageTensor(a.mask.Gather(idx)), imageTensor(a.further.Gather(idx)), imageTensor(eps),
		tensors.FromValue(t), tensors.FromValue(sa), tensors.FromValue(s1m)}
}

// Loss implements Objective.
func (a *Ambient) Loss(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
	u, m, mt, eps, t, sa, s1m := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
	xt := diffusion.Noised(u, eps, sa, s1m)
	x0, cOut := AmbientX0(ctx, a.unet, xt, mt, t, sa, s1m, a.cfg.SigmaData)
	r := graph.Mul(m, graph.Sub(x0, u))
	d := float64(u.Shape().Size() / u.Shape().Dimensions[0])
	perPixel := func(v *graph.Node) *graph.Node {
		return graph.ReduceAllMean(graph.DivScalar(graph.ReduceSum(graph.Square(v), 1, 2, 3), d))
	}
	return []*graph.Node{perPixel(graph.Div(r, cOut)), perPixel(r)}
}

func shapeOf(b *batch.Batch) any {
	if b == nil {
		return "nil"
	}
	return b.Shape
}

var _ Objective = (*Ambient)(nil)
