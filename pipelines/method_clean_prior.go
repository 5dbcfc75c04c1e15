package pipelines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/baselines"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// cleanPrior is method: clean_prior, the oracle of the paper's Table 5: a DDPM trained on the
// clean training images (train/prior/, train.steps steps), then a new conditional flow trained
// against it, frozen (core/train's flow-reset phase, train.steps steps; the prior handed over
// as its EMA weights). It uses clean data, which the other methods never see: an upper
// reference, not a method for corrupted data.
type cleanPrior struct{}

func (cleanPrior) Name() string { return "clean_prior" }

func (cleanPrior) Summary() string {
	return "oracle (uses the clean images): a DDPM trained on the clean training images, then the flow trained against it, frozen"
}

func (cleanPrior) UsesCleanData() bool { return true }

func (cleanPrior) Amortized() string { return "flow posterior mean (clean prior)" }

func (cleanPrior) Check(p *Pipeline) []schema.Problem {
	if p.Data == nil || p.Data.Source == "observations" {
		return []schema.Problem{{Field: "method", Msg: "method clean_prior is the clean-data oracle: it trains on the clean training images, " +
			"and this pipeline has none (a data section with source mnist, folder or synthetic provides them)"}}
	}
	return nil
}

// priorDir is where clean_prior trains its DDPM, inside the train folder.
const priorDir = "prior"

func (cleanPrior) Train(ctx context.Context, r *Run) error {
	obj, err := cleanPriorObjective(r)
	if err != nil {
		return err
	}
	if err := trainBaseline(ctx, r, obj, r.Path(trainDir, priorDir)); err != nil {
		return err
	}
	if _, err := train.LoadLatest(r.Path(trainDir)); errors.Is(err, train.ErrNoCheckpoint) {
		if err := handOverPrior(r.Path(trainDir, priorDir), r.Path(trainDir)); err != nil {
			return err
		}
		r.Log.Info("clean prior trained; training the flow against it, frozen")
	} else if err != nil {
		return err
	}
	cfg := r.P.Train.Config
	cfg.Reset = train.ResetConfig{FlowSteps: cfg.Steps}
	return trainFlow(ctx, r, cfg)
}

// cleanPriorObjective is the DDPM objective on the clean training images; without them it
// refuses to run.
func cleanPriorObjective(r *Run) (*baselines.DDPM, error) {
	if r.Data.Train == nil || r.Data.Train.Images == nil || r.Data.Train.Images.N == 0 {
		return nil, fmt.Errorf("method clean_prior is the clean-data oracle and needs the clean training images, which this run does not have " +
			"(observations without clean images): use a method that learns from the observations, such as flowdiff")
	}
	sched, err := schedule(r.P.Train.Config)
	if err != nil {
		return nil, err
	}
	return baselines.NewDDPM("clean_prior", r.Data.Train.Images, r.P.Train.UNet, sched)
}

// handOverPrior writes the first checkpoint of the flow's training folder to: the trained
// DDPM's EMA weights as the U-Net (/unet, which the flow's prior term evaluates, frozen), and a
// trainer state at the start of core/train's flow-reset phase, which trains a new flow against
// the frozen prior. (The sample stage loads the prior from the DDPM's own folder.)
func handOverPrior(from, to string) error {
	ck, err := train.LoadLatest(from)
	if err != nil {
		return fmt.Errorf("clean prior: %w", err)
	}
	ctx := mlctx.New()
	prefix := "/" + diffusion.EMAScope + train.UNetScope + "/"
	n := 0
	for name, v := range ck.Values {
		if strings.HasPrefix(name, prefix) && !strings.HasSuffix(name, "/"+diffusion.EMACountName) {
			setVar(ctx, strings.TrimPrefix(name, "/"+diffusion.EMAScope), v)
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("clean prior: the checkpoint in %s holds no EMA weights of the U-Net", from)
	}
	return train.SaveCheckpoint(to, ctx, 0, train.State{Phase: train.PhaseFlow, LRScale: 1})
}

// setVar creates the variable of absolute scope-and-name name in ctx with value v.
func setVar(ctx *mlctx.Context, name string, v any) {
	cut := strings.LastIndex(name, "/")
	scope := name[:cut]
	if scope == "" {
		scope = mlctx.RootScope
	}
	ctx.InAbsPath(scope).VariableWithValue(name[cut+1:], v)
}

// Prior is the DDPM trained on the clean images (train/prior/), the prior the flow trained
// against.
func (cleanPrior) Prior(be backends.Backend, p *Pipeline, dir string, batch int, log *slog.Logger) (*priorSampler, error) {
	return newPriorSampler(be, filepath.Join(dir, priorDir), p.Train.Config, batch, log)
}

func init() { registerMethod(cleanPrior{}) }

var _ Method = cleanPrior{}
