package pipelines

import (
	"context"
	"log/slog"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/schema"
)

// flowDiff is method: flowdiff, FlowDiff's joint training of the conditional flow and the
// diffusion prior on the observations (core/train), the default.
type flowDiff struct{}

func (flowDiff) Name() string { return DefaultMethod }

func (flowDiff) Summary() string {
	return "FlowDiff: a conditional normalizing flow and a diffusion prior trained jointly on the observations"
}

func (flowDiff) UsesCleanData() bool { return false }

func (flowDiff) Amortized() string { return "flow posterior mean" }

func (flowDiff) Check(*Pipeline) []schema.Problem { return nil }

func (flowDiff) Train(ctx context.Context, r *Run) error { return trainFlow(ctx, r, r.P.Train.Config) }

func (flowDiff) Prior(be backends.Backend, p *Pipeline, dir string, batch int, log *slog.Logger) (*priorSampler, error) {
	return newPriorSampler(be, dir, p.Train.Config, batch, log)
}

func init() { registerMethod(flowDiff{}) }

var _ Method = flowDiff{}
