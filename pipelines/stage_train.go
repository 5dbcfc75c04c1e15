package pipelines

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/ambientflow"
	"github.com/flowdiff/flowdiff-go/core/baselines"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/report"
	"github.com/flowdiff/flowdiff-go/core/train"
	"github.com/flowdiff/flowdiff-go/registry"
)

// trainDir is the train stage's folder: checkpoints, losses.csv, posterior outputs.
const trainDir = "train"

// runTrain runs the train stage of the pipeline's method (method.go), after recording the
// machine it runs on (train/machine.json).
func runTrain(ctx context.Context, r *Run) error {
	m, err := LookupMethod(r.P.Method)
	if err != nil {
		return err
	}
	if err := recordMachine(ctx, r); err != nil {
		return err
	}
	r.Log.Info("method", "method", m.Name(), "summary", m.Summary())
	return m.Train(ctx, r)
}

// trainFlow trains the flow and the diffusion prior with cfg (jointly, then the model-reset
// phases cfg asks for) on the training observations, resuming from the stage's last
// checkpoint when there is one, then restores the test observations with the flow: the
// posterior mean and per-pixel standard deviation over train.posterior_samples draws become
// the estimates "posterior_mean" and "posterior_sample".
func trainFlow(ctx context.Context, r *Run, cfg train.Config) error {
	if r.Data.TrainObs == nil {
		return fmt.Errorf("train needs observations: add a corruption list (and a data section)")
	}
	fwd, err := r.Forward(ctx)
	if err != nil {
		return err
	}
	be, err := r.Backend(ctx)
	if err != nil {
		return err
	}
	op, noise := fwd.Op, fwd.Noise
	opID, noiseID := partIDs(r.P.Corruption)
	priors, err := r.trainPriors(ctx)
	if err != nil {
		return err
	}
	clean := r.Data.Clean
	clean.N = r.Data.TrainObs.N
	prob := train.Problem{Obs: r.Data.TrainObs, Params: r.Data.TrainParams, Op: op, Noise: noise,
		Clean: clean, OpID: opID, NoiseID: noiseID, Priors: priors}
	cfg.Priors = nil // built once by the run (Run.Part) and passed in prob.Priors
	tr, err := train.New(ctx, be, cfg, prob, r.Seed("train"), r.Log)
	if err != nil {
		return err
	}
	r.closeAtEnd("train.priors", tr.Close)
	if v := r.P.Train.Validate; v.Images > 0 {
		if r.Data.Test == nil || r.Data.TestObs == nil {
			r.Log.Warn("train.validate skipped: the run has no clean test images to score against")
		} else {
			clean.N = r.Data.TestObs.N
			test := train.Problem{Obs: r.Data.TestObs, Params: r.Data.TestParams, Op: op, Noise: noise, Clean: clean}
			if err := tr.SetValidation(ctx, train.Validation{Test: test, Clean: r.Data.Test.Images, Images: v.Images,
				Samples: v.Samples, Seed: r.Seed("validate")}); err != nil {
				return err
			}
		}
	}
	dir := r.Path(trainDir)
	if err := tr.Run(ctx, dir); err != nil {
		return err
	}
	r.Data.Trainer = tr
	if err := plotCurve(dir); err != nil {
		r.Log.Warn("training curve not plotted", "err", err)
	}

	clean.N = r.Data.TestObs.N
	test := train.Problem{Obs: r.Data.TestObs, Params: r.Data.TestParams, Op: op, Noise: noise, Clean: clean}
	base, err := tr.Base(ctx, test)
	if err != nil {
		return err
	}
	post, err := tr.Posterior(ctx, r.Data.TestObs, base, r.P.Train.PosteriorSamples, r.Seed("posterior"))
	if err != nil {
		return fmt.Errorf("posterior: %w", err)
	}
	return r.keepPosterior(dir, post.Mean, post.Std, post.Sample, post.K)
}

// keepPosterior writes a method's amortized restorations of the test observations into dir
// (posterior_mean.npy, posterior_std.npy, posterior_sample.npy, checksummed) and records them
// as the estimates posterior_mean and posterior_sample; k is the draws per image.
func (r *Run) keepPosterior(dir string, mean, std, sample *batch.Batch, k int) error {
	for name, b := range map[string]*batch.Batch{"posterior_mean.npy": mean, "posterior_std.npy": std, "posterior_sample.npy": sample} {
		if err := writeBatchSummed(filepath.Join(dir, name), b.Dims(), b.Data); err != nil {
			return err
		}
	}
	r.Data.addEstimate("posterior_mean", mean)
	r.Data.addEstimate("posterior_sample", sample)
	r.Data.PosteriorStd = std
	r.Log.Info("posterior computed", "samples", k, "images", mean.N)
	return nil
}

// partIDs names the corruption's forward operator (its operators' IDs in order, or
// "identity") and its noise model by registry ID, for log lines and errors.
func partIDs(specs []registry.Spec) (op, noise string) {
	var ops []string
	for _, s := range specs {
		if s.Entry.Kind == registry.KindNoise {
			noise = s.ID
			continue
		}
		ops = append(ops, s.ID)
	}
	if len(ops) == 0 {
		return "identity", noise
	}
	return strings.Join(ops, " then "), noise
}

// TrainConfig is the pipeline's train section: the trainer's settings plus evaluation ones.
type TrainConfig struct {
	train.Config     `yaml:",inline"`
	PosteriorSamples int            `yaml:"posterior_samples" default:"16" check:">=1" doc:"flow samples per test observation for the posterior mean and standard deviation"`
	Validate         ValidateConfig `yaml:"validate" doc:"scoring during training: the posterior mean's PSNR on the first test images at every checkpoint, into train/validation.csv (needs clean test images)"`
	// The settings of the baselines that have their own (method:); omitted from resolved
	// pipelines when absent, which means their defaults.
	SURE        *baselines.SUREConfig    `yaml:"sure_score,omitempty" doc:"method: sure_score: the SURE loss and the score-matching term (defaults when absent)"`
	Ambient     *baselines.AmbientConfig `yaml:"ambient_diffusion,omitempty" doc:"method: ambient_diffusion: the further corruption and the loss weights (defaults when absent)"`
	AmbientFlow *ambientflow.Config      `yaml:"ambientflow,omitempty" doc:"method: ambientflow: the data-term weight, posterior samples, both learning rates and the Glow prior (defaults when absent)"`
}

// ValidateConfig sets the in-training validation (method flowdiff).
type ValidateConfig struct {
	Images  int `yaml:"images" default:"0" check:">=0" doc:"test images scored at every checkpoint (0: no validation); their time is not counted as training time"`
	Samples int `yaml:"samples" default:"8" check:">=1" doc:"flow samples per image for the posterior mean"`
}

// plotCurve draws train/losses.csv into train/losses.png (per-pixel losses against the
// overall step count across phases).
func plotCurve(dir string) error {
	f, err := os.Open(filepath.Join(dir, train.CurveFile))
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		return fmt.Errorf("training curve: %v (%d rows)", err, len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	names := []string{"flow_loss", "nll", "prior", "dm_loss"}
	series := make([]report.Series, len(names))
	for i, n := range names {
		series[i].Name = n
	}
	for k, r := range rows[1:] {
		for i, n := range names {
			v, err := strconv.ParseFloat(r[col[n]], 64)
			if err != nil || v == 0 {
				continue // a phase without this term
			}
			series[i].X = append(series[i].X, float64(k+1))
			series[i].Y = append(series[i].Y, v)
		}
	}
	return report.WritePlotPNG(filepath.Join(dir, "losses.png"), "training losses per pixel vs step", series, false)
}

// trainPriors returns the extra priors of train.priors, built once per run (Run.Part).
func (r *Run) trainPriors(ctx context.Context) ([]train.WeightedPrior, error) {
	var out []train.WeightedPrior
	for i := range r.P.Train.Priors {
		ps := &r.P.Train.Priors[i]
		v, err := r.Part(ctx, &ps.Spec)
		if err != nil {
			return nil, fmt.Errorf("train.priors[%d]: %w", i, err)
		}
		p, ok := v.(part.Prior)
		if !ok {
			return nil, fmt.Errorf("train.priors[%d]: %s built a %T, which is not a part.Prior", i, ps.ID, v)
		}
		out = append(out, train.WeightedPrior{Name: ps.ID, Prior: p, Weight: ps.Weight})
	}
	return out, nil
}
