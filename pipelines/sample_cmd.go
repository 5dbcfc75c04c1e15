package pipelines

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/backend"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/report"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// SampleRequest is `flowdiff sample RUN_DIR`: sampling with a finished run's trained prior
// (its last checkpoint), without training again. Zero fields take the run's sample section,
// or that section's defaults.
type SampleRequest struct {
	RunDir  string
	Sampler string  // ddim, ancestral or dps
	Steps   int     // ddim: DDIM steps; dps: guidance steps (0: the run's setting)
	Zeta    float64 // dps step size
	N       int     // images: prior samples, or the first N test observations for dps
	Problem string  // dps: solve this sample.problems entry instead of the run's own corruption
	Seed    int64   // 0: the run's sample stream
	Out     string  // output folder; "" means RUN_DIR/samples/<sampler>-<settings>
	Backend string
	Log     *slog.Logger
}

// SampleResult is what SampleFromRun wrote and, for dps, how it scored.
type SampleResult struct {
	Out    string
	Images *batch.Batch
	// Scores are, for dps, the mean PSNR and SSIM of the DPS samples and of the observations
	// against the clean test images: psnr.dps, psnr.input, ssim.dps, ssim.input.
	Scores map[string]float64
}

// SampleFromRun draws samples with the diffusion prior of the run folder req.RunDir and writes
// <out>/<sampler>.npy and .png (and, for dps, scores.json). Every image has its own noise
// stream, so a repeated call with the same settings gives the same images.
func SampleFromRun(ctx context.Context, req SampleRequest) (*SampleResult, error) {
	if req.Log == nil {
		req.Log = slog.New(slog.DiscardHandler)
	}
	p, err := Load(filepath.Join(req.RunDir, PipelineFileName))
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if p.Train == nil {
		return nil, fmt.Errorf("sample: the run %s has no train section, so no trained prior", req.RunDir)
	}
	c := SampleConfig{}
	if err := schema.Decode(nil, &c, "sample").Err(); err != nil { // the section's defaults
		return nil, err
	}
	if p.Sample != nil {
		c = *p.Sample
	}
	if req.Sampler == "" {
		req.Sampler = c.Prior.Sampler
	}
	r := &Run{Dir: req.RunDir, P: p}
	be, err := backend.New(ctx, backend.Resolve(req.Backend, p.Backend))
	if err != nil {
		return nil, err
	}
	defer be.Finalize()
	ps, err := methodPrior(be, p, filepath.Join(req.RunDir, trainDir), c.Batch, req.Log)
	if err != nil {
		return nil, err
	}
	clean, err := corrupt.ReadClean(filepath.Join(req.RunDir, testStore))
	var shape batch.Shape
	switch {
	case err == nil:
		shape = clean.Shape
	case p.Data != nil && p.Data.Source == "observations":
		// Observations without references: the images' shape is the data section's.
		shape, clean = batch.Shape{N: 1, H: p.Data.Size, W: p.Data.Size, C: p.Data.Channels}, nil
	default:
		return nil, fmt.Errorf("sample: the run's clean test images: %w", err)
	}
	var job sampleJob
	var name string
	res := &SampleResult{}
	var obs *batch.Batch
	switch req.Sampler {
	case "ddim", "ancestral":
		n, steps := pick(req.N, c.Prior.N), pick(req.Steps, c.Prior.Steps)
		if n <= 0 {
			return nil, errors.New("sample: --n must be at least 1")
		}
		name = req.Sampler + "-n" + strconv.Itoa(n)
		if req.Sampler == "ddim" {
			name += "-steps" + strconv.Itoa(steps)
		}
		job = ps.priorJob("", n, shape, req.Sampler, steps, pick64(req.Seed, r.Seed("sample.prior")))
	case "dps":
		if req.Problem != "" {
			pr, err := findProblem(c.Problems, req.Problem)
			if err != nil {
				return nil, fmt.Errorf("sample: %w", err)
			}
			if clean == nil {
				return nil, fmt.Errorf("sample: problem %s corrupts the clean test images, which this run has none of", pr.Name)
			}
			ops, noise, err := operators.FromSpecs(ctx, pr.Corruption)
			if err != nil {
				return nil, fmt.Errorf("sample: problem %s: %w", pr.Name, err)
			}
			fwd := &Forward{Ops: ops, Op: operators.NewCompose(ops...), Noise: noise}
			defer fwd.Close()
			n, steps := min(pick(req.N, c.DPS.Images), clean.N), pick(req.Steps, c.DPS.Steps)
			zeta := cmp.Or(req.Zeta, pr.Zeta, c.DPS.Zeta)
			if n <= 0 {
				return nil, errors.New("sample: --n must be at least 1")
			}
			// The run's seed stream of the problem: the first n of the run's observations.
			var params part.Params
			obs, params, err = corrupt.Corrupt(ctx, clean.Slice(0, n), ops, noise, r.Seed("problem."+pr.Name))
			if err != nil {
				return nil, fmt.Errorf("sample: problem %s: %w", pr.Name, err)
			}
			name = fmt.Sprintf("dps-%s-n%d-steps%d-zeta%g", pr.Name, n, steps, zeta)
			if job, err = ps.dpsJob("", obs, params, fwd.Op, fwd.Noise, shape,
				n, steps, zeta, pick64(req.Seed, r.Seed("sample.dps."+pr.Name))); err != nil {
				return nil, err
			}
			break
		}
		set, err := corrupt.Read(filepath.Join(req.RunDir, testStore))
		if err != nil {
			return nil, fmt.Errorf("sample: the run's test observations: %w", err)
		}
		ops, noise, err := operators.FromSpecs(ctx, p.Corruption)
		if err != nil {
			return nil, err
		}
		fwd := &Forward{Ops: ops, Op: operators.NewCompose(ops...), Noise: noise}
		defer fwd.Close()
		n, steps, zeta := min(pick(req.N, c.DPS.Images), set.Observations.N), pick(req.Steps, c.DPS.Steps), c.DPS.Zeta
		if req.Zeta > 0 {
			zeta = req.Zeta
		}
		if n <= 0 {
			return nil, errors.New("sample: --n must be at least 1")
		}
		name = fmt.Sprintf("dps-n%d-steps%d-zeta%g", n, steps, zeta)
		obs = set.Observations.Slice(0, n)
		if job, err = ps.dpsJob("", set.Observations, set.Params, fwd.Op, fwd.Noise, shape,
			n, steps, zeta, pick64(req.Seed, r.Seed("sample.dps"))); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("sample: unknown sampler %q: want ddim, ancestral or dps", req.Sampler)
	}
	res.Out = req.Out
	if res.Out == "" {
		res.Out = filepath.Join(req.RunDir, "samples", name)
	}
	job.dir = res.Out
	job.name = req.Sampler
	if err := os.MkdirAll(res.Out, 0o755); err != nil {
		return nil, err
	}
	if res.Images, err = job.run(ctx, c.Batch, req.Log); err != nil {
		return nil, err
	}
	rows := []report.Row{{Label: req.Sampler, Images: res.Images}}
	if obs != nil && clean == nil && obs.ImageSize() == res.Images.ImageSize() {
		rows = []report.Row{{Label: "observation", Images: obs}, {Label: "dps", Images: res.Images}}
	}
	if obs != nil && clean != nil {
		truth := clean.Slice(0, res.Images.N)
		rows = []report.Row{{Label: "truth", Images: truth}}
		if obs.ImageSize() == truth.ImageSize() {
			rows = append(rows, report.Row{Label: "observation", Images: obs})
		}
		rows = append(rows, report.Row{Label: "dps", Images: res.Images})
		if res.Scores, err = scoreDPS(ctx, truth, obs, res.Images); err != nil {
			return nil, err
		}
		if err := atomicfile.WriteJSON(filepath.Join(res.Out, "scores.json"), res.Scores); err != nil {
			return nil, err
		}
	}
	return res, report.WriteGridPNG(filepath.Join(res.Out, req.Sampler+".png"), rows, min(16, res.Images.N))
}

// scoreDPS is the mean PSNR and SSIM of DPS samples and of the observations (when they have the
// images' shape) against the truth.
func scoreDPS(ctx context.Context, truth, obs, x *batch.Batch) (map[string]float64, error) {
	out := map[string]float64{}
	for _, id := range []string{"metric.psnr", "metric.ssim"} {
		m, err := metrics.Build(ctx, id)
		if err != nil {
			return nil, err
		}
		short := id[len("metric."):]
		for est, img := range map[string]*batch.Batch{"dps": x, "input": obs} {
			if img.Shape != truth.Shape {
				continue
			}
			vals, err := m.Compute(ctx, truth, img)
			if err != nil {
				return nil, err
			}
			out[short+"."+est] = metrics.Summarize(vals).Mean
		}
	}
	return out, nil
}

// findProblem returns the sample.problems entry named name.
func findProblem(problems []ProblemConfig, name string) (*ProblemConfig, error) {
	var names []string
	for i := range problems {
		if problems[i].Name == name {
			return &problems[i], nil
		}
		names = append(names, problems[i].Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("problem %q: the run's pipeline has no sample.problems", name)
	}
	return nil, fmt.Errorf("problem %q is not in the run's sample.problems (%s)", name, strings.Join(names, ", "))
}

func pick(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

func pick64(v, def int64) int64 {
	if v != 0 {
		return v
	}
	return def
}
