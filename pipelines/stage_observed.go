package pipelines

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// runObserved is the corrupt stage of a pipeline whose noise parameters are auto (or were
// estimated by the run being resumed): the loaded images are the observations and already
// carry the corruption, so nothing is simulated. The auto parameters are estimated from the
// training observations (the data the noise model is fitted to in training), logged with
// their standard errors, and written into the run's pipeline.yaml with an estimated section;
// the observations are stored like simulated ones, without clean images.
func runObserved(ctx context.Context, r *Run) error {
	train, test := r.Data.Train.Images, r.Data.Test.Images
	ests, err := Resolve(r.P, train)
	if err != nil {
		return err
	}
	for _, e := range ests {
		r.Log.Info("noise parameter estimated from the observations", "field", e.Field,
			"value", fmt.Sprintf("%.6g", e.Value), "stderr", fmt.Sprintf("%.2g", e.StdErr), "method", e.Method, "images", e.Images)
		if e.Note != "" {
			r.Log.Warn("noise estimate: "+e.Note, "field", e.Field)
		}
	}
	fwd, err := r.Forward(ctx) // built only now, from the resolved parameters
	if err != nil {
		return err
	}
	if err := checkObservedOps(ctx, fwd.Op, train.Shape); err != nil {
		return err
	}
	text, err := corrupt.ResolvedYAML(r.P.Corruption)
	if err != nil {
		return err
	}
	for _, set := range []struct {
		name, dir string
		obs       *batch.Batch
		source    string
	}{
		{"train", trainStore, train, r.Data.Train.Source},
		{"test", testStore, test, r.Data.Test.Source},
	} {
		meta := corrupt.Manifest{Corruption: text, Dataset: set.source + " (taken as observations: auto noise)"}
		if err := corrupt.Write(r.Path(set.dir), set.obs, nil, nil, meta); err != nil {
			return err
		}
		r.Log.Info("observations written", "set", set.name, "dir", r.Path(set.dir), "shape", set.obs.Shape.String())
		r.Data.setObservations(set.name, set.obs, part.Params{})
	}
	resolved, err := r.P.Resolved()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(r.Path(PipelineFileName), resolved, 0o644); err != nil {
		return err
	}
	if r.P.Evaluate != nil {
		r.Log.Warn("the data are taken as observations, so there are no clean images: evaluate compares restorations with the observations themselves")
	}
	return nil
}

// checkObservedOps refuses forward operators that observations given as data cannot have
// gone through as the model says: one that changes the image shape (the clean images' shape
// would be unknown) or draws per-sample parameters (the data carry none).
func checkObservedOps(ctx context.Context, chain *operators.Compose, s batch.Shape) error {
	out, err := chain.OutShape(ctx, s)
	if err != nil {
		return err
	}
	if out != s {
		return fmt.Errorf("corruption: with auto noise the data are the observations, so the operators must keep their shape %s, not make %s", s, out)
	}
	params, err := chain.SampleParams(ctx, rand.New(rand.NewPCG(1, 1)), s)
	if err != nil {
		return err
	}
	if len(params) > 0 {
		return fmt.Errorf("corruption: with auto noise the data are the observations, which carry no per-sample operator parameters, but the operators draw %v", params.Keys())
	}
	return nil
}
