package pipelines

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/baselines"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// naive is method: naive: a DDPM trained directly on the observations y as if they were
// clean images (baselines.DDPM), then the prior of DPS: the failure FlowDiff is motivated by,
// since such a prior reproduces the corruption.
type naive struct{}

func (naive) Name() string { return "naive" }

func (naive) Summary() string {
	return "a DDPM trained on the observations as if they were clean, the prior for DPS"
}

func (naive) UsesCleanData() bool { return false }

func (naive) Amortized() string { return "" }

func (naive) Check(p *Pipeline) []schema.Problem {
	return checkImageShaped(p, "naive", "trains a DDPM on the observations as images")
}

func (naive) Train(ctx context.Context, r *Run) error {
	obj, err := naiveObjective(r)
	if err != nil {
		return err
	}
	return trainBaseline(ctx, r, obj, r.Path(trainDir))
}

// naiveObjective is the DDPM objective on the training observations.
func naiveObjective(r *Run) (*baselines.DDPM, error) {
	if r.Data.TrainObs == nil {
		return nil, fmt.Errorf("method naive trains on the observations: add data and corruption sections")
	}
	if err := imageShaped(r, r.Data.TrainObs, "naive"); err != nil {
		return nil, err
	}
	sched, err := schedule(r.P.Train.Config)
	if err != nil {
		return nil, err
	}
	return baselines.NewDDPM("naive", r.Data.TrainObs, r.P.Train.UNet, sched)
}

func (naive) Prior(be backends.Backend, p *Pipeline, dir string, batch int, log *slog.Logger) (*priorSampler, error) {
	return newPriorSampler(be, dir, p.Train.Config, batch, log)
}

func init() { registerMethod(naive{}) }

var _ Method = naive{}
