package pipelines

import (
	"context"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/train"
)

// StageData is what stages hand on to later ones.
type StageData struct {
	// Train and Test are the clean images. Train's clean images are never shown to training:
	// only their observations are; Test's are used for evaluation.
	Train, Test *data.Dataset
	// TrainObs and TestObs are the corrupted observations y, with their per-sample
	// operator parameters.
	TrainObs, TestObs       *batch.Batch
	TrainParams, TestParams part.Params
	// Estimates are restorations of TestObs to evaluate against Test, by name ("input" is
	// the observation itself when it has the clean images' shape).
	Estimates map[string]*batch.Batch
	// PosteriorStd is the flow posterior's per-pixel standard deviation on TestObs.
	PosteriorStd *batch.Batch
	// Prior holds unconditional samples of the diffusion prior in [0,1] (sample stage).
	Prior *batch.Batch
	// PriorChecks are the prior's one-step denoising results (sample.prior_check).
	PriorChecks []diffusion.DenoiseCheck
	// Trainer holds the trained models for the stages after train.
	Trainer *train.Trainer
	// Clean is the shape of one image to reconstruct (N = 1): the clean images' shape, or
	// for source: observations, data.size x data.size x data.channels.
	Clean batch.Shape
	// observed holds what source: observations read (nil for the other sources); Train and
	// Test then hold the references, or are nil without them.
	observed *observed
}

func (d *StageData) addEstimate(name string, b *batch.Batch) {
	if d.Estimates == nil {
		d.Estimates = map[string]*batch.Batch{}
	}
	d.Estimates[name] = b
}

// runData loads the clean train and test sets. It is deterministic and cheap, so a resumed
// run simply loads them again.
func runData(ctx context.Context, r *Run) error {
	c := r.P.Data
	if c.Source == "observations" {
		return loadObservations(ctx, r)
	}
	var train, test *data.Dataset
	var err error
	switch c.Source {
	case "mnist":
		if train, err = data.LoadMNIST(c.Path, "train", c.Train); err != nil {
			return err
		}
		if test, err = data.LoadMNIST(c.Path, "test", c.Test); err != nil {
			return err
		}
		if c.Size != 28 {
			train.Images = data.Fit(train.Images, c.Size, c.Size)
			test.Images = data.Fit(test.Images, c.Size, c.Size)
		}
	case "folder":
		opts := data.FolderOptions{Height: c.Size, Width: c.Size, Channels: c.Channels, Recursive: true,
			Normalize: data.Normalization(c.Normalize), Patches: c.Patches, Seed: r.Seed("data.patches")}
		all, err := data.LoadFolder(c.Path, opts)
		if err != nil {
			return err
		}
		if c.TestPath != "" {
			if test, err = data.LoadFolder(c.TestPath, opts); err != nil {
				return err
			}
			if test, err = test.Take(c.Test); err != nil {
				return err
			}
			train = all
		} else if train, test, err = all.Split(c.Test, r.Seed("data.split")); err != nil {
			return err
		}
		if train, err = train.Take(c.Train); err != nil {
			return err
		}
	case "synthetic":
		opts := data.SyntheticOptions{Height: c.Size, Width: c.Size, PSFSigma: c.Blur}
		all, err := data.Synthetic(opts, c.Train+c.Test, r.Seed("data.synthetic"))
		if err != nil {
			return err
		}
		if train, test, err = all.Split(c.Test, r.Seed("data.split")); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown data source %q", c.Source) // validation rejects it first
	}
	if train.Images.C != c.Channels && c.Source != "folder" {
		return fmt.Errorf("data.channels is %d but %s images have %d", c.Channels, c.Source, train.Images.C)
	}
	r.Data.Train, r.Data.Test = train, test
	r.Data.Clean = train.Images.Shape
	r.Data.Clean.N = 1
	r.Log.Info("data loaded", "source", train.Source, "train", train.Len(), "test", test.Len(),
		"shape", train.Images.Shape.String())
	return nil
}
