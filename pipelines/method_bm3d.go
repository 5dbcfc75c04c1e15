package pipelines

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/bm3d"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// bm3dMethod is method: bm3d, the classical denoiser of Dabov et al. 2007 (core/bm3d), which
// learns nothing: its train stage restores the test observations y = x + sigma n with BM3D at
// the sigma of the pipeline's noise.gaussian (in the data's units, [0,1] intensity, so Peak 1:
// core/bm3d scales both by 255 for its thresholds) and writes them as the amortized estimate
// posterior_mean. It has no prior, hence no prior samples and no DPS restorations: the sample
// stage draws nothing for it (sampleAbility). The train section's settings are not read.
type bm3dMethod struct{}

func (bm3dMethod) Name() string { return "bm3d" }

func (bm3dMethod) Summary() string {
	return "BM3D (Dabov et al. 2007): the classical Gaussian denoiser, no training, no prior"
}

func (bm3dMethod) UsesCleanData() bool { return false }

func (bm3dMethod) Amortized() string { return "BM3D estimate" }

// Check refuses every corruption but Gaussian noise alone: BM3D denoises additive white
// Gaussian noise of a known sigma. A sigma written auto is estimated by the data stage before
// the train stage runs (Resolve), and Train refuses it if it is not.
func (bm3dMethod) Check(p *Pipeline) []schema.Problem {
	return gaussianDenoisingOnly(p, "method bm3d (Dabov et al. 2007) denoises additive white Gaussian noise",
		"no operator: no blur, mask or downsampling; no Poisson noise")
}

func (bm3dMethod) Train(ctx context.Context, r *Run) error {
	if r.Data.TestObs == nil {
		return fmt.Errorf("method bm3d restores the test observations: add data and corruption sections")
	}
	if len(r.P.auto) > 0 {
		return fmt.Errorf("method bm3d runs at the noise's sigma, and %s is auto and was not estimated: write a number, or load the data with a data section the run estimates it from", r.P.auto[0].path())
	}
	fwd, err := r.Forward(ctx)
	if err != nil {
		return err
	}
	g, ok := fwd.Noise.(*operators.GaussianNoise)
	if !ok || len(fwd.Ops) > 0 {
		return fmt.Errorf("method bm3d needs Gaussian noise and no operator (validation should have said so)")
	}
	sigma := g.Sigma()
	r.Log.Info("BM3D at the observations' noise level", "sigma", sigma, "images", r.Data.TestObs.N)
	x, err := bm3d.DenoiseBatch(ctx, r.Data.TestObs, bm3d.Options{Sigma: sigma, Peak: 1})
	if err != nil {
		return fmt.Errorf("method bm3d: %w", err)
	}
	return writeAmortized(r, x)
}

func (bm3dMethod) Prior(backends.Backend, *Pipeline, string, int, *slog.Logger) (*priorSampler, error) {
	return nil, fmt.Errorf("method bm3d learns no prior: it has no prior samples and no DPS restorations")
}

// SamplePrior implements sampleAbility: no prior, nothing to draw.
func (bm3dMethod) SamplePrior(context.Context, *Run, int) (*batch.Batch, error) { return nil, nil }

// NoDPS implements sampleAbility.
func (bm3dMethod) NoDPS() string {
	return "BM3D learns no prior: no prior samples and no DPS restorations (its restoration is the amortized BM3D estimate)"
}

func init() { registerMethod(bm3dMethod{}) }

var (
	_ Method        = bm3dMethod{}
	_ sampleAbility = bm3dMethod{}
)
