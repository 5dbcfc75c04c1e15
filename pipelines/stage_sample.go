package pipelines

import (
	"context"
	"errors"
	"os"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/report"
)

// sampleDir is the sample stage's folder: prior.npy, dps.npy and their PNG grids.
const sampleDir = "sample"

// SampleConfig is the pipeline's sample section: what the trained diffusion prior generates
// (its EMA weights, from the train stage's last checkpoint).
type SampleConfig struct {
	Batch int               `yaml:"batch" default:"16" check:">=1" doc:"images per sampler call (results do not depend on it: each image has its own noise stream)"`
	Prior PriorSampleConfig `yaml:"prior" doc:"unconditional samples from the learned prior (for FID/KID and the report)"`
	DPS   DPSConfig         `yaml:"dps" doc:"diffusion posterior sampling (Chung et al. 2022) of the test observations with the learned prior; evaluated as the estimate dps"`
	// PriorCheck measures whether the prior learned clean images (prior_check.go).
	PriorCheck PriorCheckConfig `yaml:"prior_check" doc:"one-step denoising of clean test images at small noise levels with the learned prior: a prior that learned noisy images leaves such noise in place (gain near 0 dB); recorded as prior_denoise_gain_db.sigma_<level>"`
	// Problems are further inverse problems solved with the same prior (sample_problems.go).
	Problems []ProblemConfig `yaml:"problems,omitempty" doc:"further inverse problems solved by DPS with the learned prior (the paper's Table 2): each corrupts the first dps.images clean test images with its own corruption list and restores them with dps.steps steps; scored as the estimates input.<name> and dps.<name> (psnr.dps.<name> in metrics.json)"`
}

// PriorSampleConfig sets unconditional generation.
type PriorSampleConfig struct {
	N       int    `yaml:"n" default:"16" check:">=0" doc:"prior samples to draw (0: none)"`
	Sampler string `yaml:"sampler" default:"ddim" check:"oneof=ddim|ancestral" doc:"ddim (deterministic, eta 0, steps steps) or ancestral (DDPM, all T steps)"`
	Steps   int    `yaml:"steps" default:"50" check:">=1" doc:"DDIM steps, at most T (sampler: ddim)"`
}

// DPSConfig sets diffusion posterior sampling.
type DPSConfig struct {
	Images int     `yaml:"images" default:"16" check:">=0" doc:"the first test observations restored by DPS, one sample each (0: none; more than the test set: all)"`
	Steps  int     `yaml:"steps" default:"100" check:">=0" doc:"denoising steps with one guidance step each: 0 or T is DDPM's ancestral chain (Algorithm 1), fewer visit a strided schedule with DDPM-posterior (DDIM eta 1) transitions"`
	Zeta   float64 `yaml:"zeta" default:"2" check:">0" doc:"step size on the gradient of the per-image residual norm ||y - A(x0_hat)|| (Gaussian noise; Poisson-type noise weights the residual by 1/variance, mean weight 1); in model units (images 2x-1); the default is the best of the sweep in docs/sampling.md (MNIST denoising, 100 steps); retune it for other problems and step counts"`
}

// sampleEnabled: the stage needs trained models.
func sampleEnabled(p *Pipeline) bool { return p.Sample != nil && p.Train != nil }

// runSample draws prior samples and DPS restorations of the test observations with the
// diffusion prior's EMA weights, writing sample/prior.npy and sample/dps.npy (and PNG grids).
// Each batch is kept as soon as it is done, so an interrupted stage resumes where it stopped.
func runSample(ctx context.Context, r *Run) error {
	if r.Data.TestObs == nil {
		return errors.New("sample needs the test observations: add data and corruption sections")
	}
	be, err := r.Backend(ctx)
	if err != nil {
		return err
	}
	c := r.P.Sample
	if m, err := LookupMethod(r.P.Method); err == nil {
		if own, ok := m.(sampleAbility); ok {
			return sampleOwn(ctx, r, m.Name(), own)
		}
	}
	ps, err := methodPrior(be, r.P, r.Path(trainDir), c.Batch, r.Log)
	if err != nil {
		return err
	}
	dir := r.Path(sampleDir)
	clean := r.Data.Clean
	clean.N = r.Data.TestObs.N
	if c.Prior.N > 0 {
		job := ps.priorJob(dir, c.Prior.N, clean, c.Prior.Sampler, c.Prior.Steps, r.Seed("sample.prior"))
		x, err := job.run(ctx, c.Batch, r.Log)
		if err != nil {
			return err
		}
		r.Data.Prior = x
	}
	if err := runPriorCheck(ctx, r, ps); err != nil {
		return err
	}
	if c.DPS.Images > 0 {
		fwd, err := r.Forward(ctx)
		if err != nil {
			return err
		}
		job, err := ps.dpsJob(dir, r.Data.TestObs, r.Data.TestParams, fwd.Op, fwd.Noise, clean,
			c.DPS.Images, c.DPS.Steps, c.DPS.Zeta, r.Seed("sample.dps"))
		if err != nil {
			return err
		}
		x, err := job.run(ctx, c.Batch, r.Log)
		if err != nil {
			return err
		}
		r.Data.addEstimate("dps", x)
	}
	if err := runProblems(ctx, r, ps); err != nil {
		return err
	}
	if err := writeSampleGrids(r); err != nil {
		return err
	}
	return writeProblemGrids(r)
}

// sampleOwn is the sample stage of a method with its own prior sampler, or none
// (sampleAbility): prior samples when it has a prior, never DPS.
func sampleOwn(ctx context.Context, r *Run, method string, own sampleAbility) error {
	r.Log.Info("no DPS restorations", "method", method, "why", own.NoDPS())
	if r.P.Sample.Prior.N == 0 {
		return nil
	}
	x, err := own.SamplePrior(ctx, r, r.P.Sample.Prior.N)
	if err != nil || x == nil {
		return err
	}
	if err := os.MkdirAll(r.Path(sampleDir), 0o755); err != nil {
		return err
	}
	if err := writeBatchSummed(r.Path(sampleDir, "prior.npy"), x.Dims(), x.Data); err != nil {
		return err
	}
	r.Data.Prior = x
	return writeSampleGrids(r)
}

// restoreSample reads a finished stage's images back on --resume, verified against their
// checksum files; images that do not verify (changed on disk) are drawn again, with a warning.
func restoreSample(ctx context.Context, r *Run) error {
	c := r.P.Sample
	var prior, dps *batch.Batch
	var err error
	own := false
	if m, merr := LookupMethod(r.P.Method); merr == nil {
		_, own = m.(sampleAbility)
	}
	if _, statErr := os.Stat(r.Path(sampleDir, "prior.npy")); c.Prior.N > 0 && (!own || statErr == nil) {
		prior, err = readBatch(r.Path(sampleDir, "prior.npy"))
	}
	if err == nil && c.DPS.Images > 0 && !own {
		dps, err = readBatch(r.Path(sampleDir, "dps.npy"))
	}
	if err != nil {
		r.Log.Warn("stored samples cannot be used; sampling again", "err", err.Error())
		return runSample(ctx, r)
	}
	if prior != nil {
		r.Data.Prior = prior
	}
	if dps != nil {
		r.Data.addEstimate("dps", dps)
	}
	var ps *priorSampler
	loadPrior := func() (*priorSampler, error) {
		if ps != nil {
			return ps, nil
		}
		be, err := r.Backend(ctx)
		if err != nil {
			return nil, err
		}
		ps, err = methodPrior(be, r.P, r.Path(trainDir), c.Batch, r.Log)
		return ps, err
	}
	if !own {
		if err := restorePriorCheck(ctx, r, loadPrior); err != nil {
			return err
		}
	}
	if len(c.Problems) == 0 {
		return nil
	}
	// The problems' observations are drawn again from their seeds; their finished
	// restorations are read back from sample/dps_<name>.npy by the sampling jobs.
	if _, err := loadPrior(); err != nil {
		return err
	}
	return runProblems(ctx, r, ps)
}

// writeSampleGrids writes sample/prior.png (8 per row) and sample/dps.png (truth, observation,
// DPS sample).
func writeSampleGrids(r *Run) error {
	if p := r.Data.Prior; p != nil {
		var rows []report.Row
		for from := 0; from < p.N; from += 8 {
			rows = append(rows, report.Row{Label: "prior", Images: p.Slice(from, min(p.N, from+8))})
		}
		if err := report.WriteGridPNG(r.Path(sampleDir, "prior.png"), rows, 8); err != nil {
			return err
		}
	}
	if d := r.Data.Estimates["dps"]; d != nil {
		n := d.N
		var rows []report.Row
		if r.Data.Test != nil {
			rows = append(rows, report.Row{Label: "truth", Images: r.Data.Test.Images.Slice(0, n)})
		}
		if obs := r.Data.TestObs; obs.ImageSize() == d.ImageSize() {
			rows = append(rows, report.Row{Label: "observation", Images: obs.Slice(0, n)})
		}
		rows = append(rows, report.Row{Label: "dps", Images: d})
		if err := report.WriteGridPNG(r.Path(sampleDir, "dps.png"), rows, min(n, 16)); err != nil {
			return err
		}
	}
	return nil
}
