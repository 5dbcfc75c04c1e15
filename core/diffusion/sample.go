package diffusion

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// SampleOptions are the settings every sampler shares.
type SampleOptions struct {
	// Seed selects the noise. Sample k of a batch draws all its noise (x_T, then each step's z)
	// from its own stream, number FirstIndex+k of Seed, so a sample does not depend on the size
	// or the other members of its batch: a batch split into pieces gives the same images.
	Seed int64
	// FirstIndex is the stream number of the batch's first sample (0 for a whole batch).
	FirstIndex int
	// Clip, when Clip[0] < Clip[1], clips the denoised estimate x0_hat to [Clip[0], Clip[1]] at
	// every step before it is used (DDPM's and DDIM's clip_denoised): set it to the range of the
	// training data, e.g. [-1, 1]. It keeps early steps, where x0_hat divides the U-Net's error
	// by sqrt(abar_t) (~0.006 at t = T), from throwing samples far outside the data. The zero
	// value does not clip.
	Clip [2]float64
	// Progress, if set, is called after each denoising step with the steps done and the total.
	Progress func(done, total int)
}

// Sampler runs the reverse process of a trained noise-prediction U-Net (EpsModel) step by step
// from Go: each step is one execution of a compiled graph whose inputs are x_t, t and the
// step's coefficients, so one compilation (per batch shape) serves every t. It is safe for
// concurrent use (sampling calls run one at a time). The model's variables must not change
// while it samples.
type Sampler struct {
	backend backends.Backend
	model   *mlctx.Context
	cfg     UNetConfig
	sched   *Schedule
	eps     EpsFunc

	mu   sync.Mutex
	step *mlctx.Exec // reverseStep
	x0   *mlctx.Exec // the one-step estimate of CheckDenoising, compiled on first use
}

// NewSampler returns a sampler for the U-Net with configuration cfg whose variables live in
// model under UNetScope (a training context, or EMAContext's copy), and the schedule it was
// trained with. The backend must be able to run the model; on the pure-Go backend use
// nn.PortableBackendConfig (see core/nn). The model's variables are read, never changed.
func NewSampler(b backends.Backend, model *mlctx.Context, cfg UNetConfig, sched *Schedule) (*Sampler, error) {
	return NewSamplerFunc(b, model, cfg, sched, nil)
}

// EpsFunc is the noise prediction a Sampler steps with: eps_theta(x_t, t) for x_t [N,H,W,C],
// the step indices t [N], and the step's scalars sqrt(abar_t) and sqrt(1-abar_t) (which a
// network that predicts x0 needs to convert its estimate: eps = (x_t - sqrt(abar) x0_hat) /
// sqrt(1-abar)). Its variables live in the sampler's model context.
type EpsFunc func(ctx *mlctx.Context, xt, t, sqrtAbar, sqrtOneMinusAbar *graph.Node) *graph.Node

// NewSamplerFunc is NewSampler for any noise predictor eps over the U-Net's variables (nil:
// EpsModel with cfg). cfg still decides which image sizes the sampler accepts (cfg.Validate).
func NewSamplerFunc(b backends.Backend, model *mlctx.Context, cfg UNetConfig, sched *Schedule, eps EpsFunc) (*Sampler, error) {
	if eps == nil {
		eps = func(ctx *mlctx.Context, xt, t, _, _ *graph.Node) *graph.Node { return EpsModel(ctx, cfg, xt, t) }
	}
	if b == nil || model == nil || sched == nil {
		return nil, fmt.Errorf("diffusion sampler: backend, model context and schedule are required")
	}
	if len(trackedVariables(model.InAbsPath(mlctx.RootScope).In(UNetScope))) == 0 {
		return nil, fmt.Errorf("diffusion sampler: the model context has no variables under /%s (train, load or initialize the U-Net first)", UNetScope)
	}
	s := &Sampler{backend: b, model: model.InAbsPath(mlctx.RootScope).Reuse(), cfg: cfg, sched: sched, eps: eps}
	var err error
	s.step, err = mlctx.NewExec(b, s.model, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
		prev, _ := reverseStep(ctx, s.eps, in)
		return prev
	})
	if err != nil {
		return nil, fmt.Errorf("diffusion sampler: %w", err)
	}
	return s, nil
}

// stepCoef holds one reverse step from step index I, written on the denoised estimate:
//
//	x0_hat  = (x_t - SqrtOneMinusA·eps_theta) / SqrtAbar     (clipped if SampleOptions.Clip)
//	eps_hat = (x_t - SqrtAbar·x0_hat) / SqrtOneMinusA         (eps_theta itself when not clipped)
//	x_prev  = X0·x0_hat + Eps·eps_hat + Sigma·z
type stepCoef struct {
	I                       int
	X0, Eps, Sigma          float64
	SqrtAbar, SqrtOneMinusA float64
}

// ancestralCoefs are DDPM's reverse steps (Ho et al. 2020, Algorithm 2) for t = T..1: the
// posterior mean (eq. 7) plus sigma_t z with sigma_t² = beta_t (z = 0 at the last step),
//
//	mu = sqrt(abar_{t-1}) beta_t/(1-abar_t) x0_hat + sqrt(alpha_t)(1-abar_{t-1})/(1-abar_t) x_t,
//
// which without clipping is Algorithm 2's 1/sqrt(alpha_t)·(x_t - beta_t/sqrt(1-abar_t)·eps).
func (s *Sampler) ancestralCoefs() []stepCoef {
	T := s.sched.Steps()
	out := make([]stepCoef, 0, T)
	for i := T - 1; i >= 0; i-- {
		beta, alpha, abar := s.sched.Beta[i], s.sched.Alpha[i], s.sched.AlphaBar[i]
		prev := 1.0
		if i > 0 {
			prev = s.sched.AlphaBar[i-1]
		}
		s0, s1 := math.Sqrt(abar), math.Sqrt(1-abar)
		cx := math.Sqrt(alpha) * (1 - prev) / (1 - abar) // coefficient of x_t = s0 x0 + s1 eps
		c := stepCoef{I: i, X0: math.Sqrt(prev)*beta/(1-abar) + cx*s0, Eps: cx * s1, SqrtAbar: s0, SqrtOneMinusA: s1}
		if i > 0 {
			c.Sigma = math.Sqrt(beta)
		}
		out = append(out, c)
	}
	return out
}

// numStepInputs is the number of inputs reverseStep reads; stepCoef.args builds them.
const numStepInputs = 10

// args returns the step graph's inputs for x_t = x, noise z and the clipping range clip.
func (c stepCoef) args(x, z *batch.Batch, clip [2]float64) []any {
	lo, hi := math.Inf(-1), math.Inf(1)
	if clip[0] < clip[1] {
		lo, hi = clip[0], clip[1]
	}
	return []any{x, stepTimes(x.N, c.I), scalar(c.SqrtAbar), scalar(c.SqrtOneMinusA),
		scalar(c.X0), scalar(c.Eps), scalar(c.Sigma), z, scalar(lo), scalar(hi)}
}

// reverseStep builds one reverse step (see stepCoef) from the first numStepInputs inputs:
// x_t [N,H,W,C], t [N], then the scalars sqrt(abar), sqrt(1-abar), X0, Eps, Sigma, the noise z
// [N,H,W,C] and the clipping bounds lo, hi (±Inf for none). It returns x_prev and the
// unclipped x0_hat. eps is the noise predictor (EpsFunc).
func reverseStep(ctx *mlctx.Context, epsFn EpsFunc, in []*graph.Node) (prev, x0Raw *graph.Node) {
	xt, t, s0, s1, cx0, ceps, sigma, z, lo, hi := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9]
	eps := epsFn(ctx, xt, t, s0, s1)
	x0Raw = graph.Div(graph.Sub(xt, graph.Mul(s1, eps)), s0)
	x0 := graph.Max(graph.Min(x0Raw, hi), lo)
	epsHat := graph.Div(graph.Sub(xt, graph.Mul(s0, x0)), s1)
	prev = graph.Add(graph.Add(graph.Mul(cx0, x0), graph.Mul(ceps, epsHat)), graph.Mul(sigma, z))
	return prev, x0Raw
}

// DDIMSteps returns the step indices DDIM visits with steps steps: round(k·(T-1)/(steps-1)),
// k = steps-1..0, from T-1 (pure noise) down to 0; steps is clamped to [1, T].
func (s *Schedule) DDIMSteps(steps int) []int {
	T := s.Steps()
	steps = max(1, min(steps, T))
	out := make([]int, 0, steps)
	for k := steps - 1; k >= 0; k-- {
		i := T - 1
		if steps > 1 {
			i = int(math.Round(float64(k) * float64(T-1) / float64(steps-1)))
		}
		out = append(out, i)
	}
	return out
}

// ddimCoefs are DDIM's steps (Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12)
// from step index i to the next index j visited (abar_prev = 1 after the last):
//
//	x0_hat = (x_t - sqrt(1-abar_t) eps) / sqrt(abar_t)
//	sigma  = eta · sqrt((1-abar_prev)/(1-abar_t)) · sqrt(1 - abar_t/abar_prev)
//	x_prev = sqrt(abar_prev) x0_hat + sqrt(1-abar_prev-sigma²) eps + sigma z
func (s *Sampler) ddimCoefs(steps int, eta float64) []stepCoef {
	idx := s.sched.DDIMSteps(steps)
	out := make([]stepCoef, 0, len(idx))
	for k, i := range idx {
		abar, prev := s.sched.AlphaBar[i], 1.0
		if k+1 < len(idx) {
			prev = s.sched.AlphaBar[idx[k+1]]
		}
		sigma := eta * math.Sqrt((1-prev)/(1-abar)) * math.Sqrt(1-abar/prev)
		out = append(out, stepCoef{I: i, X0: math.Sqrt(prev), Eps: math.Sqrt(max(0, 1-prev-sigma*sigma)), Sigma: sigma,
			SqrtAbar: math.Sqrt(abar), SqrtOneMinusA: math.Sqrt(1 - abar)})
	}
	return out
}

// Ancestral draws shape.N images by DDPM ancestral sampling (Ho et al. 2020, Algorithm 2;
// sigma_t² = beta_t), T U-Net evaluations. Deterministic given opt.Seed (see SampleOptions).
func (s *Sampler) Ancestral(ctx context.Context, shape batch.Shape, opt SampleOptions) (*batch.Batch, error) {
	return s.run(ctx, shape, opt, s.ancestralCoefs(), s.plainStep)
}

// DDIM draws shape.N images with DDIM (Song et al. 2021) over steps of the T steps (see
// Schedule.DDIMSteps); eta = 0 is the deterministic sampler (the noise x_T still comes from
// opt.Seed), eta = 1 adds DDPM-like noise (the posterior variance). Deterministic given opt.Seed.
func (s *Sampler) DDIM(ctx context.Context, shape batch.Shape, steps int, eta float64, opt SampleOptions) (*batch.Batch, error) {
	if steps < 1 || eta < 0 {
		return nil, fmt.Errorf("ddim: need steps >= 1 and eta >= 0, got %d and %v", steps, eta)
	}
	return s.run(ctx, shape, opt, s.ddimCoefs(steps, eta), s.plainStep)
}

// stepFunc advances x (x_t) by one step with noise z, returning x_prev.
type stepFunc func(x, z *batch.Batch, c stepCoef, clip [2]float64) (*batch.Batch, error)

// plainStep runs the compiled step graph.
func (s *Sampler) plainStep(x, z *batch.Batch, c stepCoef, clip [2]float64) (*batch.Batch, error) {
	out, err := execImages(s.step, c.args(x, z, clip)...)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// run is the loop every sampler shares: x_T ~ N(0, I) from the per-sample streams, then one
// step per coefficient set, with fresh noise z from the same streams when the step uses it.
func (s *Sampler) run(ctx context.Context, shape batch.Shape, opt SampleOptions, coefs []stepCoef, step stepFunc) (*batch.Batch, error) {
	if !shape.Valid() {
		return nil, fmt.Errorf("diffusion sampler: invalid batch shape %s", shape)
	}
	if err := s.cfg.Validate(shape.H, shape.W, shape.C); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rngs := noiseStreams(opt.Seed, opt.FirstIndex, shape.N)
	x := batch.New(shape.N, shape.H, shape.W, shape.C)
	fillNormal(rngs, x)
	z := batch.New(shape.N, shape.H, shape.W, shape.C)
	for k, c := range coefs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("diffusion sampler: stopped at step %d of %d: %w", k, len(coefs), err)
		}
		if c.Sigma != 0 {
			fillNormal(rngs, z)
		} else {
			clear(z.Data)
		}
		next, err := step(x, z, c, opt.Clip)
		if err != nil {
			return nil, fmt.Errorf("diffusion sampler: step %d (t=%d): %w", k, c.I+1, err)
		}
		x = next
		if opt.Progress != nil {
			opt.Progress(k+1, len(coefs))
		}
	}
	return x, nil
}

// noiseStreams returns one generator per sample: stream first+k of seed for sample k.
func noiseStreams(seed int64, first, n int) []*rand.Rand {
	out := make([]*rand.Rand, n)
	for k := range out {
		out[k] = rand.New(rand.NewPCG(splitmix64(uint64(seed)), splitmix64(uint64(first+k)^0x5bd1e995c0ffee)))
	}
	return out
}

// splitmix64 is the SplitMix64 finalizer (Steele et al. 2014): nearby inputs give unrelated
// seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// fillNormal fills image k of b with standard normal values from rngs[k].
func fillNormal(rngs []*rand.Rand, b *batch.Batch) {
	sz := b.ImageSize()
	for k, r := range rngs {
		img := b.Data[k*sz : (k+1)*sz]
		for i := range img {
			img[i] = float32(r.NormFloat64())
		}
	}
}

// stepTimes is the t input for a batch of n samples all at step index i.
func stepTimes(n, i int) *tensors.Tensor {
	t := make([]float32, n)
	for k := range t {
		t[k] = float32(i)
	}
	return tensors.FromFlatDataAndDimensions(t, n)
}

// scalar is a float32 scalar tensor.
func scalar(v float64) *tensors.Tensor { return tensors.FromScalar(float32(v)) }

// execImages runs e on args (*batch.Batch values become [N,H,W,C] float32 tensors) and returns
// its outputs as batches: rank-4 outputs as they are, rank-1 outputs [n] as [n,1,1,1]. A panic
// while building the graph becomes an error.
func execImages(e *mlctx.Exec, args ...any) (out []*batch.Batch, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	in := make([]any, len(args))
	for i, a := range args {
		if b, ok := a.(*batch.Batch); ok {
			in[i] = tensors.FromFlatDataAndDimensions(b.Data, b.Dims()...)
		} else {
			in[i] = a
		}
	}
	res, err := e.Exec(in...)
	if err != nil {
		return nil, err
	}
	for _, t := range res {
		data := tensors.MustCopyFlatData[float32](t)
		d := t.Shape().Dimensions
		var b *batch.Batch
		switch len(d) {
		case 4:
			b, err = batch.FromData(batch.Shape{N: d[0], H: d[1], W: d[2], C: d[3]}, data)
		case 1:
			b, err = batch.FromData(batch.Shape{N: d[0], H: 1, W: 1, C: 1}, data)
		default:
			err = fmt.Errorf("unexpected output shape %s", t.Shape())
		}
		_ = t.FinalizeAll()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
