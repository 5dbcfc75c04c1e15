package pipelines

import (
	"context"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/residual"
)

// recordResiduals records, for each restoration of the test observations, the statistics of
// its whitened residual r = (y - A(x̂)) / σ(A(x̂)) (core/residual): the verdict that needs no
// clean image. σ² comes from the noise model's moments; a noise model that states none (a
// plugin without moments) leaves the diagnostics out with a note. The observation itself and
// the prior samples are not restorations and are skipped.
func (r *Run) recordResiduals(ctx context.Context) error {
	if r.Data.TestObs == nil || len(r.P.Corruption) == 0 {
		return nil
	}
	fwd, err := r.Forward(ctx)
	if err != nil {
		return err
	}
	moments, ok := fwd.Noise.(part.NoiseMoments)
	if !ok {
		r.metrics.Notes["residual"] = "no residual diagnostics: the noise model states no variance (NoiseMoments)"
		return nil
	}
	for _, est := range orderedEstimates(r.Data.Estimates) {
		x := r.Data.Estimates[est]
		if est == "input" || est == "prior" || x.N > r.Data.TestObs.N {
			continue
		}
		y := r.Data.TestObs.Slice(0, x.N)
		s, err := residualStats(ctx, fwd.Op, moments, x, y, r.Data.TestParams.Slice(0, x.N))
		if err != nil {
			return fmt.Errorf("residual of %s: %w", est, err)
		}
		r.metrics.Residual[est] = s
		r.Log.Info("residual", "estimate", est, "mean", s.Mean, "variance", s.Variance, "lag1", s.Lag1, "flatness", s.Flatness)
	}
	return nil
}

// residualStats is the mean over images of the whitened residual's statistics of x given y.
func residualStats(ctx context.Context, op part.Operator, nm part.NoiseMoments, x, y *batch.Batch, p part.Params) (residual.Stats, error) {
	ax, err := op.Apply(ctx, x, p)
	if err != nil {
		return residual.Stats{}, err
	}
	_, variance, err := nm.Moments(ctx, ax)
	if err != nil {
		return residual.Stats{}, err
	}
	w, err := residual.Whiten(y, ax, variance)
	if err != nil {
		return residual.Stats{}, err
	}
	stats, err := residual.Compute(w)
	if err != nil {
		return residual.Stats{}, err
	}
	return residual.Summary(stats), nil
}
