package conformance

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// CheckID builds the part registered as id in reg with its example parameters, or its
// defaults when it has none (registry.Entry.ExampleConfig), and runs the checks of its kind
// (operators: CheckOperator; noise models: CheckNoise; priors: CheckPrior; metrics:
// CheckMetric, or CheckSetMetric for set metrics) with default Options.
// A part whose defaults are incomplete (a required file path, an empty list of operators)
// gets a skipped "build" check saying what it needs; CheckEntry or CheckSpec run it with a
// configuration. The error is for an unknown ID, or an Example that is not YAML.
func CheckID(ctx context.Context, id string, reg *registry.Registry) (Report, error) {
	e, err := reg.Lookup(id)
	if err != nil {
		return Report{}, err
	}
	cfg, err := e.ExampleConfig()
	var errs schema.Errors
	if errors.As(err, &errs) {
		r := Report{Subject: id}
		r.skip("build", "the default configuration is incomplete ("+errs.Error()+"); check it with a configuration")
		return r, nil
	}
	if err != nil {
		return Report{}, err
	}
	return CheckEntry(ctx, e, cfg, Options{}), nil
}

// CheckSpec runs the checks on a part as a pipeline names it (ID and decoded parameters).
func CheckSpec(ctx context.Context, s *registry.Spec, opt Options) Report {
	return CheckEntry(ctx, s.Entry, s.Config, opt)
}

// CheckEntry builds e from cfg (a config that e.Config returned, decoded or filled in) and
// runs the checks of its kind. It also checks that the built part has the kind's interface and,
// for an entry registered as Linear, that the operator declares itself linear.
func CheckEntry(ctx context.Context, e registry.Entry, cfg any, opt Options) Report {
	r := Report{Subject: e.ID}
	v, err := e.New(ctx, cfg)
	if errors.Is(err, metrics.ErrUnavailable) {
		// A part missing an external file (LPIPS without its weights) says so; not a defect.
		r.skip("build", err.Error())
		return r
	}
	if err != nil {
		r.fail("build", "%v", err)
		return r
	}
	var sub Report
	switch e.Kind {
	case registry.KindOperator:
		op, ok := v.(part.Operator)
		if !ok {
			r.fail("build", "registered as an operator, but %T is not an part.Operator", v)
			return r
		}
		r.pass("build", fmt.Sprintf("%T", v))
		if e.Linear && !part.IsLinear(op) {
			r.fail("declared linear", "registered as linear, but %T does not report IsLinear() == true", v)
		}
		sub = CheckOperator(ctx, op, opt)
	case registry.KindNoise:
		nm, ok := v.(part.NoiseModel)
		if !ok {
			r.fail("build", "registered as a noise model, but %T is not an part.NoiseModel", v)
			return r
		}
		r.pass("build", fmt.Sprintf("%T", v))
		sub = CheckNoise(ctx, nm, opt)
	case registry.KindPrior:
		p, ok := v.(part.Prior)
		if !ok {
			r.fail("build", "registered as a prior, but %T is not a part.Prior", v)
			return r
		}
		r.pass("build", fmt.Sprintf("%T", v))
		sub = CheckPrior(ctx, p, opt)
	case registry.KindMetric:
		switch m := v.(type) {
		case part.Metric:
			r.pass("build", fmt.Sprintf("%T", v))
			sub = CheckMetric(ctx, m, opt)
		case part.SetMetric:
			r.pass("build", fmt.Sprintf("%T (set metric)", v))
			sub = CheckSetMetric(ctx, m, opt)
		default:
			r.fail("build", "registered as a metric, but %T is neither a part.Metric nor a part.SetMetric", v)
			return r
		}
	default:
		r.skip("kind", fmt.Sprintf("no conformance suite for a %s", e.Kind))
		return r
	}
	r.Checks = append(r.Checks, sub.Checks...)
	return r
}
