// Package train trains FlowDiff's two networks jointly on corrupted observations only
// (docs/design.md): a conditional normalizing flow G_phi(z; y) and a DDPM eps_theta.
//
// One joint step is a flow step (theta frozen) and a diffusion step (phi frozen) on the flow
// step's samples, compiled as one graph in which the prior term and L_dm share the U-Net's
// evaluation (the same x0, eps and t; Trainer.jointStepGraph); the reset phases run either
// step alone:
//
//	L_flow(phi) = E_z [ -log|det dG/dz| + NLL(y | A(G(z;y))) + lambda * L_prior(G(z;y))
//	                    + Σ_k w_k E_k(G(z;y)) ] / D
//	L_dm(theta) = E_{t,eps} || eps - eps_theta(sqrt(abar_t) x0 + sqrt(1-abar_t) eps, t) ||^2,
//	              x0 = stopgrad(G(z; y))
//
// where E_k are the optional extra priors of train.priors (prior.tv, prior.l1, a plugin's;
// see core/prior) with weights w_k, reported together as extra_prior;
// D = H*W*C (losses are reported per pixel), the diffusion model working on 2x-1 (the
// [-1,1] range of DDPM) while images and the likelihood stay in [0,1], L_prior the likelihood-weighted ELBO term of
// core/diffusion estimated with one t per sample, and lambda ramped from 0 to its value over
// prior_warmup steps because an untrained diffusion model is no prior at all. The flow models
// the residual from a base image b(y) (y itself for denoising and masks, A^T y when the
// observation has another shape): x = b(y) + G(z; y), which leaves the log-determinant
// unchanged and starts training near the observation.
//
// # Gradient injection
//
// The data term is differentiated inside the step graph when the operator and the noise model
// both have in-graph forms (operators.GraphOperator with operators.HasGraph, and
// operators.GraphNoise): the fast path. Any other combination (an operator or noise model
// served by a plugin, or hidden by operators.Opaque), and every extra prior, enters by
// gradient injection (docs/training.md). For such a term h(x), with x = b + G(z; y),
//
//	dh/dphi = (dx/dphi)^T g,   g = grad_x h(x),
//
// so the host evaluates h and g at the step's own samples, which a forward-only graph draws
// from the step's z before the step runs, and the step graph adds
//
//	h  +  s - stopgrad(s),   s = sum(stopgrad(g) * x),
//
// which has the value h and the gradient (dx/dphi)^T g in the flow's weights. For the data
// term, h = Σ_n NLL(y_n | A(x_n)) / (N D) and g = J_A(x)^T grad_{A(x)} NLL / (N D), that is
// op.VJP(x, noise.NLLGrad(y, op.Apply(x))); for prior k, h = w_k Σ_n E_k(x_n) / (N D) and g
// its scaled Energy gradient. The cost is one extra forward pass of the flow per step and the
// host calls. The in-graph and injected paths agree to float32 rounding (inject_test.go).
//
// After the joint phase an optional model reset follows (docs/training.md): the flow is
// re-initialized and trained with the prior frozen, then the diffusion model is re-initialized
// and trained on the new flow's samples. Both optimizers are Adam with global-norm clipping
// and linear learning-rate warm-up; the diffusion model keeps EMA weights.
package train

import (
	"math"

	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/flow"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// Config is the pipeline's train section. Zero values mean the documented defaults.
type Config struct {
	Batch       int     `yaml:"batch" default:"16" check:">=1" doc:"observations per step"`
	Steps       int     `yaml:"steps" default:"1500" check:">=1" doc:"joint steps (one flow step and one diffusion step each)"`
	FlowLR      float64 `yaml:"flow_lr" default:"0.001" check:">0" doc:"Adam learning rate of the flow"`
	DiffusionLR float64 `yaml:"diffusion_lr" default:"0.0005" check:">0" doc:"Adam learning rate of the diffusion model (slower than the flow's in the paper's scheme)"`
	Lambda      float64 `yaml:"lambda" default:"1" check:">=0" doc:"weight of the diffusion prior in the flow loss"`
	PriorWarmup int     `yaml:"prior_warmup" default:"300" check:">=0" doc:"joint steps over which lambda ramps linearly from 0 (the diffusion model first learns from the flow's samples)"`
	Warmup      int     `yaml:"warmup" default:"50" check:">=0" doc:"steps of linear learning-rate warm-up at the start of each phase"`
	Decay       string  `yaml:"lr_decay" default:"none" check:"oneof=none|cosine" doc:"learning-rate decay over each phase after warm-up: none (constant), or cosine (half a cosine from the full rate down to lr_final times it at the phase's last step)"`
	FinalLR     float64 `yaml:"lr_final" default:"0.1" check:">=0,<=1" doc:"with lr_decay: cosine, the last step's learning rate as a fraction of flow_lr and diffusion_lr"`
	Clip        float64 `yaml:"clip" default:"10" check:">=0" doc:"global gradient-norm clip per optimizer; 0 disables"`
	EMA         float64 `yaml:"ema" default:"0.995" check:">=0,<1" doc:"decay of the diffusion model's exponential moving average of weights"`
	TSampling   string  `yaml:"t_sampling" default:"importance" check:"oneof=importance|uniform" doc:"how the prior's ELBO picks t: importance (p(t) proportional to the ELBO weight, lower variance) or uniform"`
	Checkpoint  int     `yaml:"checkpoint_every" default:"100" check:">=1" doc:"steps between checkpoints (also written at the end of each phase)"`
	MaxRollback int     `yaml:"max_rollbacks" default:"5" check:">=0" doc:"non-finite losses tolerated (each rolls back to the last checkpoint and halves the learning rates) before the run fails"`
	// Priors are extra priors on clean images (see PriorSpec and the package doc); omitted
	// from resolved pipelines when empty, so that existing runs resolve as before.
	Priors []PriorSpec `yaml:"priors,omitempty" doc:"extra priors on clean images whose weighted per-pixel energies join the flow loss by gradient injection; with lambda: 0 they stand in for the diffusion prior; default none"`

	Reset     ResetConfig          `yaml:"reset" doc:"model reset after the joint phase: a new flow trained against the frozen prior, then a new diffusion model on its samples (docs/training.md); zero steps skip it"`
	Flow      flow.Config          `yaml:"flow" doc:"the conditional normalizing flow"`
	UNet      diffusion.UNetConfig `yaml:"unet" doc:"the diffusion model's U-Net"`
	Diffusion ScheduleConfig       `yaml:"diffusion" doc:"the DDPM noise schedule"`
}

// ResetConfig sets the model-reset phases.
type ResetConfig struct {
	FlowSteps      int `yaml:"flow_steps" check:">=0" doc:"steps training a re-initialized flow with the diffusion prior frozen (0: no reset)"`
	DiffusionSteps int `yaml:"diffusion_steps" check:">=0" doc:"then steps training a re-initialized diffusion model on the new flow's samples"`
}

// ScheduleConfig is the DDPM schedule.
type ScheduleConfig struct {
	Steps     int     `yaml:"steps" default:"1000" check:">=2" doc:"T, the number of diffusion steps"`
	BetaStart float64 `yaml:"beta_start" default:"0.0001" check:">0,<1" doc:"first beta of the linear schedule"`
	BetaEnd   float64 `yaml:"beta_end" default:"0.02" check:">0,<1" doc:"last beta of the linear schedule"`
}

// Check implements schema.Checker.
func (s *ScheduleConfig) Check() []schema.Problem {
	if s.BetaEnd < s.BetaStart {
		return []schema.Problem{{Field: "beta_end", Msg: "must be >= beta_start"}}
	}
	return nil
}

// LRFactor returns the learning-rate factor of step (0-based) of a phase of n steps: a linear
// warm-up over the first Warmup steps, times, with lr_decay: cosine,
//
//	f + (1-f) (1 + cos(pi s)) / 2,  s = (step - warmup) / (n - 1 - warmup) in [0,1], f = lr_final,
//
// which is 1 when warm-up ends and f at the last step. The baselines (core/baselines) train
// their networks on the same schedule.
func (c Config) LRFactor(step, n int) float64 {
	w := 1.0
	if c.Warmup > 0 {
		w = min(1, float64(step+1)/float64(c.Warmup))
	}
	if c.Decay != "cosine" || step < c.Warmup || n-1 <= c.Warmup {
		return w
	}
	s := float64(step-c.Warmup) / float64(n-1-c.Warmup)
	f := c.FinalLR
	return w * (f + (1-f)*(1+math.Cos(math.Pi*s))/2)
}
