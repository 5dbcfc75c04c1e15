package pipelines

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// DefaultMethod is the method of a pipeline without method: FlowDiff's joint training.
const DefaultMethod = "flowdiff"

// Method is how a pipeline obtains its clean prior and its restorations: the pipeline's
// method: field (docs/baselines.md). The data, corrupt, evaluate and report stages are the same
// for every method, and each method leaves the same kinds of outputs where it has them, so
// those stages need no special cases:
//
//	train/checkpoints/    the prior: a U-Net's EMA weights at /ema/unet (train.LoadPrior)
//	train/posterior_mean.npy (estimate posterior_mean) and, for a flow, posterior_std.npy and
//	                      posterior_sample.npy: the method's amortized restorations, if any
//	train/losses.csv, losses.png, machine.json
//
// after which the sample stage draws prior samples and DPS restorations with the prior that
// Prior returns. One file per method (method_<name>.go) registers it.
type Method interface {
	// Name is the method's name in pipelines.
	Name() string
	// Summary describes the method in one line, with its paper.
	Summary() string
	// UsesCleanData reports whether the method trains on clean images: an oracle, not a method
	// for corrupted data, and labelled so wherever it is reported.
	UsesCleanData() bool
	// Amortized names the method's amortized restoration (the estimate posterior_mean) in
	// reports, or is "" when it has none.
	Amortized() string
	// Check returns the problems of pipeline p with this method (validation; p.Train is set).
	Check(p *Pipeline) []schema.Problem
	// Train runs the train stage: it trains the method's networks on the run's training
	// observations into RUN/train, continuing from its checkpoints, and restores the test
	// observations with its amortized estimate when it has one (r.Data.addEstimate).
	Train(ctx context.Context, r *Run) error
	// Prior returns the sampler of the learned prior of the finished training folder dir of a
	// run of p, for the sample stage and `flowdiff sample`.
	Prior(be backends.Backend, p *Pipeline, dir string, batch int, log *slog.Logger) (*priorSampler, error)
}

// sampleAbility is the optional ability of a method whose prior is no DDPM, or that has none
// (bm3d, ambientflow): the sample stage asks it for the prior samples and draws no DPS
// restorations, logging why.
type sampleAbility interface {
	// SamplePrior draws n samples of the prior the run of r trained, or returns nil when the
	// method has no prior.
	SamplePrior(ctx context.Context, r *Run, n int) (*batch.Batch, error)
	// NoDPS says why the method has no DPS restorations.
	NoDPS() string
}

var methods = map[string]Method{}

// flowMethods are the methods that train core/train's conditional flow, whose data term needs
// a noise model (validateStages).
var flowMethods = map[string]bool{DefaultMethod: true, "clean_prior": true}

// registerMethod adds a method at start-up; a duplicate name is a programmer error.
func registerMethod(m Method) {
	if _, dup := methods[m.Name()]; dup {
		panic(fmt.Sprintf("pipelines: method %q registered twice", m.Name()))
	}
	methods[m.Name()] = m
}

// MethodNames lists the methods, sorted.
func MethodNames() []string {
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupMethod returns the named method; an unknown name is an error naming the close matches
// and every method.
func LookupMethod(name string) (Method, error) {
	if name == "" {
		name = DefaultMethod
	}
	if m, ok := methods[name]; ok {
		return m, nil
	}
	msg := fmt.Sprintf("unknown method %q", name)
	if c := schema.Closest(name, MethodNames()); len(c) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", c[0])
	}
	return nil, fmt.Errorf("%s (methods: %s)", msg, strings.Join(MethodNames(), ", "))
}

// checkMethod is the validation of method: and the sections only some methods read.
func (p *Pipeline) checkMethod() []schema.Problem {
	m, err := LookupMethod(p.Method)
	if err != nil {
		return []schema.Problem{{Field: "method", Msg: err.Error()}}
	}
	if p.Train == nil {
		if m.Name() != DefaultMethod {
			return []schema.Problem{{Field: "method", Msg: fmt.Sprintf("method %s trains (or restores) in the train stage: add a train section", m.Name())}}
		}
		return nil
	}
	var probs []schema.Problem
	owned := []struct {
		set          bool
		field, owner string
	}{
		{p.Train.SURE != nil, "train.sure_score", "sure_score"},
		{p.Train.Ambient != nil, "train.ambient_diffusion", "ambient_diffusion"},
		{p.Train.AmbientFlow != nil, "train.ambientflow", "ambientflow"},
		{p.Train.Reset.FlowSteps > 0 || p.Train.Reset.DiffusionSteps > 0, "train.reset", DefaultMethod},
	}
	for _, o := range owned {
		if o.set && o.owner != m.Name() {
			probs = append(probs, schema.Problem{Field: o.field,
				Msg: fmt.Sprintf("%s configures method %s, but this pipeline's method is %s: remove it or set method: %s", o.field, o.owner, m.Name(), o.owner)})
		}
	}
	if len(p.Train.Priors) > 0 && !flowMethods[m.Name()] {
		probs = append(probs, schema.Problem{Field: "train.priors",
			Msg: fmt.Sprintf("train.priors join the conditional flow's loss, and method %s trains no flow: remove them or use flowdiff or clean_prior", m.Name())})
	}
	return append(probs, m.Check(p)...)
}

// corruptionOps returns the IDs of the pipeline's operators and of its noise model ("" when
// none).
func (p *Pipeline) corruptionOps() (ops []string, noise string) {
	for _, s := range p.Corruption {
		if s.Entry.Kind == registry.KindNoise {
			noise = s.ID
			continue
		}
		ops = append(ops, s.ID)
	}
	return ops, noise
}

// shapeChanging lists the built-in operators whose observations have another shape than the
// images: methods that treat observations as images refuse them.
var shapeChanging = []string{"op.downsample"}

// checkImageShaped returns a problem when the pipeline's corruption names an operator that
// changes the images' shape (method needs observations shaped like images). Plugin operators
// are checked when the train stage runs.
func checkImageShaped(p *Pipeline, method, why string) []schema.Problem {
	ops, _ := p.corruptionOps()
	for _, id := range ops {
		if slices.Contains(shapeChanging, id) {
			return []schema.Problem{{Field: "corruption", Msg: fmt.Sprintf("method %s %s, but %s changes the images' shape", method, why, id)}}
		}
	}
	return nil
}

// methodPrior returns the sampler of the prior that the run of p trained into dir.
func methodPrior(be backends.Backend, p *Pipeline, dir string, batch int, log *slog.Logger) (*priorSampler, error) {
	m, err := LookupMethod(p.Method)
	if err != nil {
		return nil, err
	}
	return m.Prior(be, p, dir, batch, log)
}
