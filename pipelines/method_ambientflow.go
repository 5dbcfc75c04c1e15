package pipelines

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/ambientflow"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// ambientFlow is method: ambientflow, AmbientFlow (Kelkar et al. 2023; core/ambientflow): the
// conditional flow of train.flow as the posterior network and an unconditional Glow
// (train.ambientflow.prior) as the prior, trained simultaneously on
// E_z[-log|det ∂G/∂z| + lambda NLL(y|A G(z;y)) - log p_θ(G(z;y))], each with its own Adam.
// Outputs: the flow's posterior mean, std and a sample (amortized), prior samples from the
// Glow. No DPS: DPS needs a diffusion prior's score, and no gradient-based posterior sampler
// with the Glow is implemented here.
type ambientFlow struct{}

func (ambientFlow) Name() string { return "ambientflow" }

func (ambientFlow) Summary() string {
	return "AmbientFlow (Kelkar et al. 2023): a conditional flow posterior and a Glow prior trained simultaneously on the observations' variational bound"
}

func (ambientFlow) UsesCleanData() bool { return false }

func (ambientFlow) Amortized() string { return "AmbientFlow posterior mean" }

// ambientflowNoise are the built-in noise models with an in-graph likelihood, which
// AmbientFlow's data term needs.
var ambientflowNoise = []string{"noise.gaussian", "noise.poisson", "noise.poisson_gaussian"}

func (ambientFlow) Check(p *Pipeline) []schema.Problem {
	ops, noise := p.corruptionOps()
	var probs []schema.Problem
	switch {
	case noise == "":
		probs = append(probs, schema.Problem{Field: "corruption", Msg: "method ambientflow's data term is the noise model's likelihood -log p(y|x): add a noise model (noise.gaussian, noise.poisson or noise.poisson_gaussian) as the last corruption item"})
	case !slices.Contains(ambientflowNoise, noise):
		probs = append(probs, schema.Problem{Field: "corruption", Msg: fmt.Sprintf("method ambientflow needs a noise model with an in-graph likelihood (%s), found %s", strings.Join(ambientflowNoise, ", "), noise)})
	}
	for _, id := range ops {
		if strings.HasPrefix(id, "mask.") {
			probs = append(probs, schema.Problem{Field: "corruption", Msg: fmt.Sprintf("method ambientflow here takes operators without per-sample parameters, and %s draws a mask per image: use flowdiff or ambient_diffusion", id)})
		}
	}
	probs = append(probs, checkImageShaped(p, "ambientflow", "conditions its flow on observations shaped like the images")...)
	if p.Train != nil {
		c := ambientFlowConfig(p.Train)
		if err := c.Check(p.Train.Flow, 0, 0, 0); err != nil {
			probs = append(probs, schema.Problem{Field: "train.ambientflow.prior", Msg: err.Error()})
		}
	}
	return probs
}

// ambientFlowConfig is train.ambientflow (decoded with its defaults), or its defaults when absent.
func ambientFlowConfig(t *TrainConfig) ambientflow.Config {
	if t.AmbientFlow != nil {
		return *t.AmbientFlow
	}
	var c ambientflow.Config
	schema.Decode(nil, &c, "train.ambientflow")
	return c
}

// ambientFlowTrainer builds the trainer of the run's problem (obs: the training observations,
// or any batch of the observations' shape when only sampling).
func ambientFlowTrainer(ctx context.Context, r *Run, obs *batch.Batch) (*ambientflow.Trainer, error) {
	if obs == nil {
		return nil, fmt.Errorf("method ambientflow trains on the observations: add data and corruption sections")
	}
	if err := imageShaped(r, obs, "ambientflow"); err != nil {
		return nil, err
	}
	if len(r.Data.TrainParams) > 0 {
		return nil, fmt.Errorf("method ambientflow here takes operators without per-sample parameters, and the corruption has %s: use flowdiff or ambient_diffusion", strings.Join(r.Data.TrainParams.Keys(), ", "))
	}
	fwd, err := r.Forward(ctx)
	if err != nil {
		return nil, err
	}
	noise, ok := fwd.Noise.(operators.GraphNoise)
	if !ok {
		return nil, fmt.Errorf("method ambientflow needs a noise model with an in-graph likelihood (%s)", strings.Join(ambientflowNoise, ", "))
	}
	var op operators.GraphOperator
	if len(fwd.Ops) > 0 {
		op = fwd.Op
	}
	be, err := r.Backend(ctx)
	if err != nil {
		return nil, err
	}
	prob := ambientflow.Problem{Obs: obs, Op: op, Noise: noise, Post: r.P.Train.Flow, Train: r.P.Train.Config, Conf: ambientFlowConfig(r.P.Train)}
	return ambientflow.New(be, prob, r.Seed("train"), r.Log)
}

func (ambientFlow) Train(ctx context.Context, r *Run) error {
	tr, err := ambientFlowTrainer(ctx, r, r.Data.TrainObs)
	if err != nil {
		return err
	}
	dir := r.Path(trainDir)
	if err := tr.Run(ctx, dir); err != nil {
		return err
	}
	if err := ambientflow.PlotCurve(dir); err != nil {
		r.Log.Warn("training curve not plotted", "err", err)
	}
	if r.Data.TestObs == nil {
		return nil
	}
	post, err := tr.Posterior(ctx, r.Data.TestObs, r.P.Train.PosteriorSamples, r.P.Train.Batch, r.Seed("posterior"))
	if err != nil {
		return fmt.Errorf("ambientflow posterior: %w", err)
	}
	return r.keepPosterior(dir, post.Mean, post.Std, post.Sample, post.K)
}

// SamplePrior implements sampleAbility: samples of the trained Glow.
func (ambientFlow) SamplePrior(ctx context.Context, r *Run, n int) (*batch.Batch, error) {
	obs := r.Data.TrainObs
	if obs == nil {
		obs = r.Data.TestObs
	}
	tr, err := ambientFlowTrainer(ctx, r, obs)
	if err != nil {
		return nil, err
	}
	if _, err := tr.Load(r.Path(trainDir)); err != nil {
		return nil, fmt.Errorf("ambientflow prior: %w", err)
	}
	return tr.SamplePrior(ctx, n, r.P.Sample.Batch, r.Seed("sample.prior"))
}

// NoDPS implements sampleAbility.
func (ambientFlow) NoDPS() string {
	return "AmbientFlow's prior is a Glow, not a diffusion model: DPS does not apply and no gradient-based posterior sampler with the Glow is implemented; its restoration is the conditional flow's posterior mean"
}

func (ambientFlow) Prior(backends.Backend, *Pipeline, string, int, *slog.Logger) (*priorSampler, error) {
	return nil, fmt.Errorf("method ambientflow's prior is a Glow: flowdiff sample draws from diffusion priors only (the run's sample stage writes the Glow's prior samples)")
}

func init() { registerMethod(ambientFlow{}) }

var (
	_ Method        = ambientFlow{}
	_ sampleAbility = ambientFlow{}
)
