package pipelines

import (
	"context"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Folders of the corrupt stage inside the run folder (core/corrupt store format).
const (
	trainStore = "corrupted/train"
	testStore  = "corrupted/test"
)

// runCorrupt applies the pipeline's forward model y = N(A(x)) to the clean train and test
// images and stores observations, per-sample parameters and (apart) the clean images. A
// pipeline with auto noise parameters takes its images as the observations instead
// (runObserved).
func runCorrupt(ctx context.Context, r *Run) error {
	if r.P.observed() {
		return runObserved(ctx, r)
	}
	fwd, err := r.Forward(ctx)
	if err != nil {
		return err
	}
	text, err := corrupt.ResolvedYAML(r.P.Corruption)
	if err != nil {
		return err
	}
	for _, part := range []struct {
		name, dir string
		clean     *data.Dataset
	}{
		{"train", trainStore, r.Data.Train},
		{"test", testStore, r.Data.Test},
	} {
		seed := r.Seed("corrupt." + part.name)
		obs, params, err := corrupt.Corrupt(ctx, part.clean.Images, fwd.Ops, fwd.Noise, seed)
		if err != nil {
			return fmt.Errorf("%s set: %w", part.name, err)
		}
		meta := corrupt.Manifest{Seed: seed, Corruption: text, Dataset: part.clean.Source}
		if err := corrupt.Write(r.Path(part.dir), obs, params, part.clean.Images, meta); err != nil {
			return err
		}
		r.Log.Info("observations written", "set", part.name, "dir", r.Path(part.dir), "shape", obs.Shape.String())
		r.Data.setObservations(part.name, obs, params)
	}
	return nil
}

// restoreCorrupt reads the stored observations back on --resume, so later stages see exactly
// the bytes the interrupted run produced.
// A store that does not verify (changed on disk) is not trusted: the stage runs again, which
// draws the same bytes from the same seeds.
func restoreCorrupt(ctx context.Context, r *Run) error {
	for _, part := range []struct{ name, dir string }{{"train", trainStore}, {"test", testStore}} {
		set, err := corrupt.Read(r.Path(part.dir))
		if err != nil {
			r.Log.Warn("stored observations cannot be used; corrupting the clean images again from the same seeds",
				"set", part.name, "err", err.Error())
			return runCorrupt(ctx, r)
		}
		r.Data.setObservations(part.name, set.Observations, set.Params)
	}
	return nil
}

func (d *StageData) setObservations(set string, obs *batch.Batch, p part.Params) {
	if set == "train" {
		d.TrainObs, d.TrainParams = obs, p
		return
	}
	d.TestObs, d.TestParams = obs, p
	d.addEstimate("input", obs)
}
