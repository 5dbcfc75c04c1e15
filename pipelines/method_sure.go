package pipelines

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/baselines"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// sureScore is method: sure_score, SURE-Score (Aali et al. 2023) for Gaussian denoising: one
// network, the denoiser D(y) = y + sigma² s(y, sigma) from the noise-prediction U-Net,
// trained with Stein's unbiased risk estimate and a score-matching loss on D(y)
// (baselines.SUREScore). D(y) is its amortized restoration; its U-Net is the prior of DPS
// (the original samples by annealed Langevin dynamics; here the sample stage's DPS and DDIM
// serve every method alike).
type sureScore struct{}

func (sureScore) Name() string { return "sure_score" }

func (sureScore) Summary() string {
	return "SURE-Score (Aali et al. 2023): a score network trained as a SURE denoiser of the noisy observations plus score matching on its output"
}

func (sureScore) UsesCleanData() bool { return false }

func (sureScore) Amortized() string { return "SURE-Score denoiser D(y)" }

func (sureScore) Check(p *Pipeline) []schema.Problem {
	return gaussianDenoisingOnly(p, "method sure_score (Aali et al. 2023) is for Gaussian denoising",
		"the identity operator and Gaussian noise")
}

// gaussianDenoisingOnly refuses every corruption but noise.gaussian alone, for the methods
// that only denoise; what says which method and why, detail what "alone" means for it.
func gaussianDenoisingOnly(p *Pipeline, what, detail string) []schema.Problem {
	ops, noise := p.corruptionOps()
	if len(ops) == 0 && noise == "noise.gaussian" {
		return nil
	}
	found := strings.Join(append(ops, noise), ", ")
	if noise == "" {
		found = strings.Join(ops, ", ") + " and no noise model"
	}
	return []schema.Problem{{Field: "corruption", Msg: fmt.Sprintf("%s: the corruption must be noise.gaussian alone (%s), found %s; "+
		"flowdiff, naive and ambient_diffusion take other corruptions", what, detail, found)}}
}

func (sureScore) Train(ctx context.Context, r *Run) error {
	if r.Data.TrainObs == nil || r.Data.TestObs == nil {
		return fmt.Errorf("method sure_score trains on the observations: add data and corruption sections")
	}
	fwd, err := r.Forward(ctx)
	if err != nil {
		return err
	}
	g, ok := fwd.Noise.(*operators.GaussianNoise)
	if !ok || len(fwd.Ops) > 0 {
		return fmt.Errorf("method sure_score needs Gaussian noise and no operator (validation should have said so)")
	}
	sched, err := schedule(r.P.Train.Config)
	if err != nil {
		return err
	}
	obj, err := baselines.NewSUREScore(r.Data.TrainObs, g.Sigma(), sureConfig(r.P.Train), r.P.Train.UNet, sched, r.P.Train.Steps)
	if err != nil {
		return err
	}
	r.Log.Info("SURE-Score denoiser at the observations' noise level", "sigma", g.Sigma(), "step", obj.NoiseStep())
	if err := trainBaseline(ctx, r, obj, r.Path(trainDir)); err != nil {
		return err
	}
	be, err := r.Backend(ctx)
	if err != nil {
		return err
	}
	model, _, err := train.LoadPrior(r.Path(trainDir), r.Log)
	if err != nil {
		return err
	}
	x, err := baselines.DenoiseSURE(ctx, be, model, r.P.Train.UNet, sched, r.Data.TestObs, g.Sigma(), r.P.Train.Batch)
	if err != nil {
		return err
	}
	return writeAmortized(r, x)
}

// sureConfig is train.sure_score (decoded with its defaults), or its defaults when absent.
func sureConfig(t *TrainConfig) baselines.SUREConfig {
	if t.SURE != nil {
		return *t.SURE
	}
	var c baselines.SUREConfig
	schema.FillDefaults(&c)
	return c
}

func (sureScore) Prior(be backends.Backend, p *Pipeline, dir string, batch int, log *slog.Logger) (*priorSampler, error) {
	return newPriorSampler(be, dir, p.Train.Config, batch, log)
}

func init() { registerMethod(sureScore{}) }

var _ Method = sureScore{}
