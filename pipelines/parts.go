package pipelines

import (
	"context"
	"errors"
	"io"

	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// Forward is the run's observation model y = N(A(x)), built once per run from the pipeline's
// corruption list and shared by every stage that needs it (corrupt, train, sample): a plugin
// part is configured in its process once, not once per stage.
type Forward struct {
	Ops   []part.Operator    // the operators in application order
	Op    *operators.Compose // A = A_k ∘ … ∘ A_0 (the identity when Ops is empty)
	Noise part.NoiseModel    // nil when the list names no noise model
}

// Close releases the parts that hold resources (plugin parts release their handles).
func (f *Forward) Close() error {
	errs := []error{f.Op.Close()}
	if c, ok := f.Noise.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Forward returns the run's forward model, building it on first use. The run closes it when
// it ends, whether it succeeded or failed.
func (r *Run) Forward(ctx context.Context) (*Forward, error) {
	if r.forward != nil {
		return r.forward, nil
	}
	ops, noise, err := r.P.forwardParts(ctx) // a part's refusal is located in the pipeline
	if err != nil {
		return nil, err
	}
	r.forward = &Forward{Ops: ops, Op: operators.NewCompose(ops...), Noise: noise}
	r.closeAtEnd("corruption", r.forward.Close)
	return r.forward, nil
}

// closeAtEnd registers a part's Close to run when the run ends (in reverse order of
// registration, before the run log closes); a failure to close is logged, not fatal: the
// run's results are already written.
func (r *Run) closeAtEnd(what string, close func() error) {
	r.closers = append(r.closers, func() error {
		if err := close(); err != nil {
			r.Log.Warn("releasing parts failed", "parts", what, "err", err)
			return err
		}
		return nil
	})
}

// built is a part the run built from a pipeline item, or the error building it gave.
type built struct {
	v   any
	err error
}

// Part returns the part that pipeline item s names, building it on first use: a part is
// configured once per run (a plugin part once in its process) and closed when the run ends.
// A failure is remembered and returned again.
func (r *Run) Part(ctx context.Context, s *registry.Spec) (any, error) {
	if b, ok := r.parts[s]; ok {
		return b.v, b.err
	}
	v, err := s.Build(ctx)
	if r.parts == nil {
		r.parts = map[*registry.Spec]built{}
	}
	r.parts[s] = built{v, err}
	if c, ok := v.(io.Closer); ok && err == nil {
		r.closeAtEnd(s.ID, c.Close)
	}
	return v, err
}

// buildLateParts builds, when the run starts, the parts that the train and evaluate stages
// use later (train.priors, evaluate.metrics), so that their rules (a plugin's, checked in its
// process) fail before the first stage rather than after hours of training; the stages then
// use these same parts (Run.Part). A metric that cannot run on this machine (LPIPS without its
// weights) is not an error here: evaluate reports it as unavailable.
func (r *Run) buildLateParts(ctx context.Context) error {
	var errs schema.Errors
	for _, s := range r.P.specs()[len(r.P.Corruption):] {
		if _, err := r.Part(ctx, s); err != nil && !errors.Is(err, metrics.ErrUnavailable) {
			errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line, Msg: refusal(s, err)})
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return &LoadError{File: r.P.file, Errs: errs}
	}
	return nil
}
