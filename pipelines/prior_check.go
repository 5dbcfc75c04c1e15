package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
)

// PriorCheckConfig is sample.prior_check: how well the learned prior removes small Gaussian
// noise from clean test images in one step (diffusion.Sampler.CheckDenoising). A prior that
// learned images still carrying noise of some level leaves noise below that level in place
// (gain near 0 dB); one that learned clean images removes part of it. Recorded as
// prior_denoise_gain_db.sigma_<level> in metrics.json; needs the clean test images.
type PriorCheckConfig struct {
	Images int       `yaml:"images" default:"100" check:">=0" doc:"clean test images the prior denoises at each level (0: no check; more than the test set: all)"`
	Sigmas []float64 `yaml:"sigmas" default:"[0.02, 0.05, 0.1]" doc:"noise standard deviations in [0,1] intensity units (each matched to the nearest diffusion step)"`
}

// priorCheckFile holds the check's results inside the sample folder, for resumed runs.
const priorCheckFile = "prior_check.json"

// priorCheckMetric is the metrics.json name of the check's gains (higher is better).
const priorCheckMetric = "prior_denoise_gain_db"

// runPriorCheck runs the check with the prior sampler ps when the run has clean test images,
// keeps the results for the evaluate stage and writes them to sample/prior_check.json.
func runPriorCheck(ctx context.Context, r *Run, ps *priorSampler) error {
	c := r.P.Sample.PriorCheck
	if c.Images == 0 || len(c.Sigmas) == 0 || r.Data.Test == nil || r.Data.Test.Images == nil {
		return nil
	}
	clean := r.Data.Test.Images.Slice(0, min(c.Images, r.Data.Test.Images.N))
	out := make([]diffusion.DenoiseCheck, 0, len(c.Sigmas))
	for _, sigma := range c.Sigmas {
		res, err := ps.s.CheckDenoising(ctx, clean, sigma, r.Seed("sample.prior_check"))
		if err != nil {
			return fmt.Errorf("sample.prior_check: %w", err)
		}
		r.Log.Info("prior denoising check", "sigma", res.Sigma, "step", res.Step, "psnr_in", res.InputPSNR,
			"psnr_out", res.OutputPSNR, "gain_db", res.GainDB)
		out = append(out, res)
	}
	r.Data.PriorChecks = out
	return atomicfile.WriteJSON(r.Path(sampleDir, priorCheckFile), out)
}

// restorePriorCheck reads sample/prior_check.json back on --resume; without it (a run from an
// older build, or a damaged file) the check runs again.
func restorePriorCheck(ctx context.Context, r *Run, prior func() (*priorSampler, error)) error {
	c := r.P.Sample.PriorCheck
	if c.Images == 0 || len(c.Sigmas) == 0 || r.Data.Test == nil {
		return nil
	}
	data, err := atomicfile.ReadVerified(r.Path(sampleDir, priorCheckFile), true)
	var stored []diffusion.DenoiseCheck
	if err == nil && json.Unmarshal(data, &stored) == nil && len(stored) == len(c.Sigmas) {
		r.Data.PriorChecks = stored
		return nil
	}
	ps, err := prior()
	if err != nil {
		return err
	}
	return runPriorCheck(ctx, r, ps)
}

// recordPriorChecks writes the check's gains into metrics.json as
// prior_denoise_gain_db.sigma_<level asked for>.
func (r *Run) recordPriorChecks() {
	c := r.P.Sample
	if c == nil || len(r.Data.PriorChecks) != len(c.PriorCheck.Sigmas) {
		return
	}
	r.metrics.HigherIsBetter[priorCheckMetric] = true
	for i, res := range r.Data.PriorChecks {
		name := priorCheckMetric + ".sigma_" + strconv.FormatFloat(c.PriorCheck.Sigmas[i], 'g', -1, 64)
		r.metrics.Set(name, res.GainDB, 0, res.N)
	}
}
