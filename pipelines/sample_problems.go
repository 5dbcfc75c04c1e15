package pipelines

import (
	"context"
	"fmt"
	"regexp"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/report"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// Further inverse problems solved by DPS with the run's learned prior (the paper's Table 2:
// the prior learned from blurred CIFAR-10 dogs used to denoise, deblur and inpaint). Each
// problem corrupts the first sample.dps.images clean test images with its own forward model
// y = N(A(x)) (seed stream "problem.<name>") and restores them by DPS through that model.
// Its observations and restorations join the estimates as input.<name> and dps.<name>, so
// evaluate scores them against the same clean images: metrics.json keys such as
// psnr.input.deblur and psnr.dps.deblur. Restorations are kept in sample/dps_<name>.npy.

// ProblemConfig is one further inverse problem of sample.problems.
type ProblemConfig struct {
	Name       string          `yaml:"name" check:"required" doc:"the problem's name in metric keys (psnr.dps.<name>) and file names: letters, digits, _ and -"`
	Corruption []registry.Spec `yaml:"corruption" check:"required" doc:"the problem's forward model y = N(A(x)), as the top-level corruption list: operators in order, then one noise model, last (DPS weighs its residual by it)"`
	Zeta       float64         `yaml:"zeta" check:">=0" doc:"DPS step size for this problem; 0: sample.dps.zeta"`
}

var problemName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkProblems locates the mistakes of sample.problems: names, kinds and order of the parts.
func (p *Pipeline) checkProblems() schema.Errors {
	if p.Sample == nil {
		return nil
	}
	var errs schema.Errors
	seen := map[string]bool{}
	for i, pr := range p.Sample.Problems {
		path := fmt.Sprintf("sample.problems[%d]", i)
		switch {
		case !problemName.MatchString(pr.Name):
			errs = append(errs, &schema.FieldError{Path: path + ".name", Msg: fmt.Sprintf("name %q: use letters, digits, _ and - (it names metric keys and files)", pr.Name)})
		case seen[pr.Name]:
			errs = append(errs, &schema.FieldError{Path: path + ".name", Msg: fmt.Sprintf("a second problem named %q; names must differ", pr.Name)})
		}
		seen[pr.Name] = true
		for j, s := range pr.Corruption {
			if s.Entry.New == nil {
				continue // already reported by decoding
			}
			k := s.Entry.Kind
			last := j == len(pr.Corruption)-1
			switch {
			case k != registry.KindOperator && k != registry.KindNoise:
				errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line, Msg: fmt.Sprintf("%s is a %s; a problem's corruption takes operators and a noise model", s.ID, k)})
			case k == registry.KindNoise && !last:
				errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line, Msg: fmt.Sprintf("noise model %s must come last (y = N(A(x)))", s.ID)})
			case k != registry.KindNoise && last:
				errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line, Msg: "a problem's corruption ends with a noise model (DPS weighs its residual by it); add e.g. noise.gaussian"})
			}
		}
	}
	if len(p.Sample.Problems) > 0 && p.Data != nil && p.Data.Source == "observations" {
		errs = append(errs, &schema.FieldError{Path: "sample.problems", Msg: "problems corrupt the clean test images; source: observations has none"})
	}
	return errs
}

// problemSpecs lists the parts of sample.problems, for Configure.
func (p *Pipeline) problemSpecs() []*registry.Spec {
	var out []*registry.Spec
	if p.Sample == nil {
		return nil
	}
	for i := range p.Sample.Problems {
		for j := range p.Sample.Problems[i].Corruption {
			out = append(out, &p.Sample.Problems[i].Corruption[j])
		}
	}
	return out
}

// problemObservations makes problem pr's observations of the first n clean test images.
func (r *Run) problemObservations(ctx context.Context, pr *ProblemConfig, n int) (obs *batch.Batch, params part.Params, ops []part.Operator, noise part.NoiseModel, err error) {
	for i := range pr.Corruption {
		v, err := r.Part(ctx, &pr.Corruption[i])
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("sample.problems %s: %w", pr.Name, err)
		}
		switch x := v.(type) {
		case part.NoiseModel:
			noise = x
		case part.Operator:
			ops = append(ops, x)
		default:
			return nil, nil, nil, nil, fmt.Errorf("sample.problems %s: %s built a %T, neither operator nor noise model", pr.Name, pr.Corruption[i].ID, v)
		}
	}
	clean := r.Data.Test.Images.Slice(0, min(n, r.Data.Test.Images.N))
	obs, params, err = corrupt.Corrupt(ctx, clean, ops, noise, r.Seed("problem."+pr.Name))
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("sample.problems %s: %w", pr.Name, err)
	}
	return obs, params, ops, noise, nil
}

// runProblems restores every problem's observations by DPS (resuming from sample/ on a
// restart: finished restorations are read back, not drawn again).
func runProblems(ctx context.Context, r *Run, ps *priorSampler) error {
	c := r.P.Sample
	if len(c.Problems) == 0 {
		return nil
	}
	if r.Data.Test == nil {
		return fmt.Errorf("sample.problems needs the clean test images")
	}
	clean := r.Data.Clean
	for i := range c.Problems {
		pr := &c.Problems[i]
		obs, params, ops, noise, err := r.problemObservations(ctx, pr, c.DPS.Images)
		if err != nil {
			return err
		}
		zeta := pr.Zeta
		if zeta == 0 {
			zeta = c.DPS.Zeta
		}
		clean.N = obs.N
		job, err := ps.dpsJob(r.Path(sampleDir), obs, params, operators.NewCompose(ops...), noise, clean, obs.N, c.DPS.Steps, zeta, r.Seed("sample.dps."+pr.Name))
		if err != nil {
			return err
		}
		job.name = "dps_" + pr.Name
		x, err := job.run(ctx, c.Batch, r.Log)
		if err != nil {
			return fmt.Errorf("sample.problems %s: %w", pr.Name, err)
		}
		r.Data.addEstimate("input."+pr.Name, obs)
		r.Data.addEstimate("dps."+pr.Name, x)
	}
	return nil
}

// writeProblemGrids writes sample/dps_<name>.png for every problem: truth, observation and
// DPS restoration of each image.
func writeProblemGrids(r *Run) error {
	for _, pr := range r.P.Sample.Problems {
		x, obs := r.Data.Estimates["dps."+pr.Name], r.Data.Estimates["input."+pr.Name]
		if x == nil || obs == nil {
			continue
		}
		rows := []report.Row{{Label: "truth", Images: r.Data.Test.Images.Slice(0, x.N)},
			{Label: pr.Name, Images: obs}, {Label: "dps", Images: x}}
		if err := report.WriteGridPNG(r.Path(sampleDir, "dps_"+pr.Name+".png"), rows, min(x.N, 16)); err != nil {
			return err
		}
	}
	return nil
}
