package baselines

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
)

// SUREConfig configures the sure_score baseline (Aali et al. 2023). Zero values mean the
// documented defaults.
type SUREConfig struct {
	Epsilon   float64 `yaml:"epsilon" default:"0.001" check:">0" doc:"finite-difference step of the Monte-Carlo divergence, in model units (2x-1); small against the signal, large against float32 rounding"`
	Probe     string  `yaml:"probe" default:"gaussian" check:"oneof=gaussian|rademacher" doc:"distribution of the divergence probe b: gaussian (as in Aali et al.'s code) or rademacher (random signs, lower variance)"`
	DSMWeight float64 `yaml:"dsm_weight" default:"1" check:">=0" doc:"final weight of the denoising score-matching loss on the denoised images D(y)"`
	DSMRamp   int     `yaml:"dsm_ramp" check:">=0" doc:"steps over which the score-matching weight ramps linearly from 0 to dsm_weight (0: over all of train.steps)"`
}

// NoiseLevelStep returns the (fractional) step index t* of schedule s at which the diffusion
// model's noise level equals sigma (model units): (1 - abar)/abar = sigma², so
// abar* = 1/(1+sigma²), with t* interpolated linearly in abar between the two steps around it.
// Then x_t* = sqrt(abar*) u for observations u = x + sigma n: the observations are, up to the
// scale sqrt(abar*), samples of the forward process at t*. sigma 0 gives step 0 and abar_1.
// A sigma below the first step's level or above the last's is an error.
func NoiseLevelStep(s *diffusion.Schedule, sigma float64) (t, abar float64, err error) {
	if sigma == 0 {
		return 0, s.AlphaBar[0], nil
	}
	abar = 1 / (1 + sigma*sigma)
	ab := s.AlphaBar
	const tol = 1e-12 // the level of a step itself, through rounding
	if abar > ab[0]*(1+tol) || abar < ab[len(ab)-1]*(1-tol) {
		lo, hi := math.Sqrt((1-ab[0])/ab[0]), math.Sqrt((1-ab[len(ab)-1])/ab[len(ab)-1])
		return 0, 0, fmt.Errorf("noise level %.4g (model units) lies outside the diffusion schedule's [%.4g, %.4g]", sigma, lo, hi)
	}
	if abar >= ab[0] {
		return 0, abar, nil
	}
	for i := 0; i+1 < len(ab); i++ {
		if abar <= ab[i] && abar >= ab[i+1] {
			return float64(i) + (ab[i]-abar)/(ab[i]-ab[i+1]), abar, nil
		}
	}
	return float64(len(ab) - 1), abar, nil
}

// Denoiser returns SURE-Score's denoiser built from the noise-prediction network,
//
//	D(u) = u + sigma² s(u; sigma) = u - sigma · eps_theta(sqrt(abar*) u, t*)
//
// (Tweedie's formula with s = grad log p_sigma = -sqrt(abar*) eps_theta / sqrt(1-abar*) and
// sigma² = (1-abar*)/abar*, which is also DDPM's x0 estimate at t*). u is [N,H,W,C] in model
// units; t* and abar* come from NoiseLevelStep.
func Denoiser(ctx *mlctx.Context, unet diffusion.UNetConfig, tStar, abarStar, sigma float64) func(u *graph.Node) *graph.Node {
	return func(u *graph.Node) *graph.Node {
		n := u.Shape().Dimensions[0]
		t := graph.BroadcastToDims(graph.Scalar(u.Graph(), u.DType(), tStar), n)
		eps := diffusion.EpsModel(ctx, unet, graph.MulScalar(u, math.Sqrt(abarStar)), t)
		return graph.Sub(u, graph.MulScalar(eps, sigma))
	}
}

// MCDivergence is the Monte-Carlo estimate of the divergence of D at u (Ramani, Blu & Unser
// 2008), per sample [N]:
//
//	div D(u) ≈ bᵀ (D(u + eps·b) - D(u)) / eps
//
// with du = D(u) (computed once by the caller) and a probe b of zero mean and identity
// covariance (Gaussian or Rademacher), all [N,H,W,C]. Its expectation over b is the
// divergence up to O(eps) (exact for a linear D); a Rademacher probe has no variance from the
// diagonal of the Jacobian.
func MCDivergence(d func(*graph.Node) *graph.Node, u, du, b *graph.Node, eps float64) *graph.Node {
	moved := d(graph.Add(u, graph.MulScalar(b, eps)))
	return graph.DivScalar(graph.ReduceSum(graph.Mul(b, graph.Sub(moved, du)), 1, 2, 3), eps)
}

// SURE is Stein's unbiased risk estimate of the denoiser's mean squared error per pixel,
// per sample [N], for observations u = x + sigma n (n white Gaussian) and D = du = D(u):
//
//	SURE = ||D(u) - u||² / n + 2 sigma² div D(u) / n - sigma²,   E[SURE] = E||D(u) - x||² / n
//
// (Stein 1981), n the pixels per image, div the divergence (MCDivergence).
func SURE(u, du, div *graph.Node, sigma float64) *graph.Node {
	n := float64(u.Shape().Size() / u.Shape().Dimensions[0])
	fit := graph.DivScalar(graph.ReduceSum(graph.Square(graph.Sub(du, u)), 1, 2, 3), n)
	return graph.AddScalar(graph.Add(fit, graph.MulScalar(div, 2*sigma*sigma/n)), -sigma*sigma)
}

// SUREScore is the objective of SURE-Score (Aali et al. 2023) for observations y = x + sigma
// n of unknown clean images x, one network in model units u = 2y-1 (noise level 2 sigma):
//
//	L = mean_n SURE(D; u_n) + w(step) · L_dsm(D(u)),   w ramping linearly from 0,
//
// D the Denoiser at the observations' noise level, its divergence estimated by MCDivergence
// with one probe per image, and L_dsm DDPM's denoising loss with D(u) as the data (the
// gradient flows through D(u) too, as in Aali et al.'s single-network code). After training,
// D(y) restores observations in one pass, and eps_theta is the prior for DPS.
type SUREScore struct {
	obs             *batch.Batch
	cfg             SUREConfig
	unet            diffusion.UNetConfig
	sched           *diffusion.Schedule
	steps           int
	sigma, t, abarT float64 // model units
}

// NewSUREScore returns the objective for observations obs in [0,1] with Gaussian noise of
// standard deviation sigma (intensity units), trained for steps steps (for the DSM ramp).
func NewSUREScore(obs *batch.Batch, sigma float64, cfg SUREConfig, unet diffusion.UNetConfig, sched *diffusion.Schedule, steps int) (*SUREScore, error) {
	if obs == nil || obs.N == 0 {
		return nil, fmt.Errorf("sure_score: no training observations")
	}
	if err := unet.Validate(obs.H, obs.W, obs.C); err != nil {
		return nil, fmt.Errorf("sure_score: train.unet: %w", err)
	}
	if !(cfg.Epsilon > 0) {
		return nil, fmt.Errorf("sure_score: epsilon must be > 0, got %v", cfg.Epsilon)
	}
	t, abar, err := NoiseLevelStep(sched, 2*sigma)
	if err != nil || sigma <= 0 {
		return nil, fmt.Errorf("sure_score: noise sigma %v: %v", sigma, err)
	}
	return &SUREScore{obs: obs, cfg: cfg, unet: unet, sched: sched, steps: steps, sigma: 2 * sigma, t: t, abarT: abar}, nil
}

// Name implements Objective.
func (s *SUREScore) Name() string { return "sure_score" }

// Terms implements Objective: the loss, SURE's estimate of the denoiser's MSE in intensity
// units (a quarter of the model units' figure), the DSM loss and its weight.
func (s *SUREScore) Terms() []string { return []string{"loss", "sure_mse", "dsm", "dsm_weight"} }

// Len implements Objective.
func (s *SUREScore) Len() int { return s.obs.N }

// NoiseStep returns t*, the fractional step index of the observations' noise level.
func (s *SUREScore) NoiseStep() float64 { return s.t }

// dsmWeight is w(step): dsm_weight·min(1, step/ramp), ramp = dsm_ramp or the whole training.
func (s *SUREScore) dsmWeight(step int) float64 {
	ramp := s.cfg.DSMRamp
	if ramp == 0 {
		ramp = s.steps
	}
	return s.cfg.DSMWeight * min(1, float64(step)/float64(max(1, ramp)))
}

// Inputs implements Objective: u = 2y-1 of the observations idx, the probe b, then the DSM's
// eps, t, sqrt(abar_t), sqrt(1-abar_t) (uniform t), and the DSM weight.
func (s *SUREScore) Inputs(rng *rand.Rand, idx []int, step int) []any {
	u := toModel(s.obs.Gather(idx))
	b := batch.New(u.N, u.H, u.W, u.C)
	for i := range b.Data {
		if s.cfg.Probe == "rademacher" {
			b.Data[i] = float32(2*rng.IntN(2) - 1)
		} else {
			b.Data[i] = float32(rng.NormFloat64())
		}
	}
	li := s.sched.LossInputs(rng, u.Shape, diffusion.Uniform)
	return []any{imageTensor(u), imageTensor(b), imageTensor(li.Eps), tensors.FromValue(li.T),
		tensors.FromValue(li.SqrtAbar), tensors.FromValue(li.SqrtOneMinusAbar), float32(s.dsmWeight(step))}
}

// Loss implements Objective.
func (s *SUREScore) Loss(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
	u, b, eps, t, sa, s1m, w := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
	d := Denoiser(ctx, s.unet, s.t, s.abarT, s.sigma)
	du := d(u)
	sure := graph.ReduceAllMean(SURE(u, du, MCDivergence(d, u, du, b, s.cfg.Epsilon), s.sigma))
	dsm := diffusion.DenoiseLoss(ctx, s.unet, du, eps, t, sa, s1m)
	loss := graph.Add(sure, graph.Mul(w, dsm))
	return []*graph.Node{loss, graph.MulScalar(sure, 0.25), dsm, w}
}

var _ Objective = (*SUREScore)(nil)
