package pipelines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/flowdiff/flowdiff-go/registry"
)

// ConfigureReport says what Configure checked.
type ConfigureReport struct {
	// Configured counts the pipeline items built (a composition counts once).
	Configured int
	// Skipped lists the items not built offline ("corruption[0] (micro.widefield)").
	Skipped []string
	// Notes lists metrics that cannot run on this machine (LPIPS without its weights): the run
	// reports them as unavailable, it does not fail.
	Notes []string
	// Deferred lists the items with auto parameters, which only the run can build, once it
	// has estimated them ("corruption[1] (noise.gaussian: sigma auto)").
	Deferred []string
}

// Configure builds every part the pipeline names (corruption, train.priors,
// evaluate.metrics) and closes it again, so that every rule a part has is checked before a
// run: decoding checks each parameter's type and range, while a part's cross-field rules and
// its constructor run only when it is built, and a plugin part's run in the plugin's process
// (which Configure starts). A refusal is a located problem of a *LoadError, like a decoding
// error. offline skips the items that involve plugin parts (nothing is started) and lists
// them in the report.
func (p *Pipeline) Configure(ctx context.Context, offline bool) (ConfigureReport, error) {
	return p.configure(ctx, p.specs(), offline)
}

func (p *Pipeline) configure(ctx context.Context, specs []*registry.Spec, offline bool) (ConfigureReport, error) {
	var rep ConfigureReport
	var errs schema.Errors
	for _, s := range specs {
		if keys := p.autoKeys(s); len(keys) > 0 {
			rep.Deferred = append(rep.Deferred, fmt.Sprintf("%s (%s: %s auto)", s.Path, s.ID, strings.Join(keys, ", ")))
			continue
		}
		if offline {
			if ids := pluginIDs(s); len(ids) > 0 {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s (%s)", s.Path, strings.Join(ids, ", ")))
				continue
			}
		}
		v, err := s.Build(ctx)
		if c, ok := v.(io.Closer); ok && err == nil {
			err = c.Close()
		}
		switch {
		case err == nil:
			rep.Configured++
		case errors.Is(err, metrics.ErrUnavailable):
			rep.Configured++
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %v", s.Path, err))
		default:
			errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line, Msg: refusal(s, err)})
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return rep, &LoadError{File: p.file, Errs: errs}
	}
	return rep, nil
}

// forwardParts builds the corruption's operators and noise model for a run; a part that
// cannot be built is a located problem of a *LoadError, and the parts built before it are
// closed.
func (p *Pipeline) forwardParts(ctx context.Context) (ops []part.Operator, noise part.NoiseModel, err error) {
	defer func() {
		if err != nil {
			for _, op := range ops {
				if c, ok := op.(io.Closer); ok {
					c.Close()
				}
			}
			ops = nil
		}
	}()
	for i := range p.Corruption {
		s := &p.Corruption[i]
		if s.Entry.Kind == registry.KindNoise {
			noise, err = operators.BuildNoise(ctx, s)
		} else {
			var op part.Operator
			if op, err = operators.Build(ctx, s); err == nil {
				ops = append(ops, op)
			}
		}
		if err != nil {
			return ops, nil, &LoadError{File: p.file, Errs: schema.Errors{{Path: s.Path, Line: s.Line, Msg: refusal(s, err)}}}
		}
	}
	return ops, noise, nil
}

// autoKeys returns the parameters of corruption item s written auto and not yet estimated.
func (p *Pipeline) autoKeys(s *registry.Spec) []string {
	var keys []string
	for _, a := range p.auto {
		if a.item < len(p.Corruption) && &p.Corruption[a.item] == s {
			keys = append(keys, a.key)
		}
	}
	return keys
}

// specs lists the pipeline's part items in document order.
func (p *Pipeline) specs() []*registry.Spec {
	var out []*registry.Spec
	for i := range p.Corruption {
		out = append(out, &p.Corruption[i])
	}
	if p.Train != nil {
		for i := range p.Train.Priors {
			out = append(out, &p.Train.Priors[i].Spec)
		}
	}
	out = append(out, p.problemSpecs()...)
	if p.Evaluate != nil {
		for i := range p.Evaluate.Metrics {
			out = append(out, &p.Evaluate.Metrics[i])
		}
	}
	return out
}

// refusal is what to tell the user about a part that could not be built: a plugin that
// refused its parameters is quoted without the transport details (the plugin works; the
// pipeline needs changing).
func refusal(s *registry.Spec, err error) string {
	var he *host.Error
	if errors.As(err, &he) && he.Refused && strings.HasSuffix(he.Op, " "+s.ID) {
		return fmt.Sprintf("%s: %v (refused by plugin %s)", s.ID, he.Err, he.Plugin)
	}
	return err.Error()
}

// pluginIDs returns the IDs of the plugin parts in s, s itself and the items of its
// parameters (op.compose's ops, op.mixture's components).
func pluginIDs(s *registry.Spec) []string {
	var ids []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			if sp, ok := addr(v).(*registry.Spec); ok {
				if sp.Entry.Origin != "" && sp.Entry.Origin != registry.BuiltIn {
					ids = append(ids, sp.ID)
				}
				walk(reflect.ValueOf(sp.Config))
				return
			}
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		}
	}
	walk(reflect.ValueOf(s))
	return ids
}

// addr returns a pointer to v's value, or nil when v is not addressable.
func addr(v reflect.Value) any {
	if !v.CanAddr() {
		return nil
	}
	return v.Addr().Interface()
}
