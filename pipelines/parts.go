package pipelines

import (
	"context"
	"errors"
	"io"

	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
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
	ops, noise, err := operators.FromSpecs(ctx, r.P.Corruption)
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
