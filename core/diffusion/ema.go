package diffusion

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

const (
	// EMAScope is the root scope of the shadow (averaged) variables: the shadow of the variable
	// /unet/in/conv/weights is /ema/unet/in/conv/weights.
	EMAScope = "ema"
	// EMACountName is the variable, directly under /EMAScope/<tracked scope>, that counts the
	// updates applied to that scope's shadows.
	EMACountName = "#updates"
	// DefaultEMADecay is DDPM's decay of the weight average (Ho et al. 2020, appendix B).
	DefaultEMADecay = 0.9999
)

// UpdateEMA adds to g the update of the exponential moving average of every trainable variable
// under ctx.In(scope) (scope relative to ctx; "unet" for EpsModel's weights):
//
//	shadow <- decay·shadow + (1-decay)·w        (the first update sets shadow <- w)
//
// The shadows are non-trainable variables of the same shape and dtype under /EMAScope followed
// by the variable's own scope, created on first use; a counter (EMACountName) records how many
// updates were applied, so the first one copies the weights instead of averaging with zeros.
// w is the variable's current value in g: call UpdateEMA after the optimizer's UpdateGraph so
// the average includes this step's weights. decay must be in [0, 1). It panics (graph building)
// when the scope holds no trainable variable.
func UpdateEMA(ctx *context.Context, g *graph.Graph, scope string, decay float64) {
	if !(decay >= 0 && decay < 1) {
		panic(fmt.Sprintf("diffusion.UpdateEMA: decay must be in [0, 1), got %v", decay))
	}
	tracked := ctx.In(scope)
	vars := trackedVariables(tracked)
	if len(vars) == 0 {
		panic(fmt.Sprintf("diffusion.UpdateEMA: no trainable variables under %q (build the model first)", tracked.Scope()))
	}
	shadowCtx := ctx.Checked(false).WithInitializer(initializers.Zero)
	countVar := shadowCtx.InAbsPath(shadowScope(tracked.Scope())).
		VariableWithShape(EMACountName, shapes.Make(dtypes.Int64)).SetTrainable(false)
	count := countVar.ValueGraph(g)
	// d = 0 on the first update (copy the weights), decay afterwards.
	d := graph.Where(graph.Equal(count, graph.ScalarZero(g, dtypes.Int64)),
		graph.Scalar(g, dtypes.Float64, 0), graph.Scalar(g, dtypes.Float64, decay))
	for _, v := range vars {
		w := v.ValueGraph(g)
		s := shadowCtx.InAbsPath(shadowScope(v.Scope())).VariableWithShape(v.Name(), v.Shape()).SetTrainable(false)
		dv := graph.ConvertDType(d, w.DType())
		s.SetValueGraph(graph.Add(graph.Mul(dv, s.ValueGraph(g)), graph.Mul(graph.OneMinus(dv), w)))
	}
	countVar.SetValueGraph(graph.AddScalar(count, 1))
}

// EMAContext returns a new context holding, at the model's own scopes, the averaged values of
// the variables that UpdateEMA tracked under ctx.In(scope): give it to the samplers (or any
// graph that calls EpsModel) to evaluate the model with its EMA weights. The values are copies;
// ctx is not changed. It fails when the scope has no variables, a variable has no shadow, or
// the shadows were never updated.
func EMAContext(ctx *context.Context, scope string) (*context.Context, error) {
	tracked := ctx.In(scope)
	vars := trackedVariables(tracked)
	if len(vars) == 0 {
		return nil, fmt.Errorf("ema: no trainable variables under %q", tracked.Scope())
	}
	count := ctx.GetVariableByScopeAndName(shadowScope(tracked.Scope()), EMACountName)
	if count == nil || !count.HasValue() {
		return nil, fmt.Errorf("ema: the moving average of %q was never updated (call UpdateEMA in the training graph)", tracked.Scope())
	}
	out := context.New()
	for _, v := range vars {
		s := ctx.GetVariableByScopeAndName(shadowScope(v.Scope()), v.Name())
		if s == nil || !s.HasValue() {
			return nil, fmt.Errorf("ema: variable %s has no moving average (was it created after the last UpdateEMA?)", v.ScopeAndName())
		}
		val, err := s.Value()
		if err != nil {
			return nil, fmt.Errorf("ema: read %s: %w", s.ScopeAndName(), err)
		}
		c, err := val.LocalClone()
		if err != nil {
			return nil, fmt.Errorf("ema: copy %s: %w", s.ScopeAndName(), err)
		}
		out.InAbsPath(v.Scope()).VariableWithValue(v.Name(), c)
	}
	return out, nil
}

// EMAUpdates returns how many times UpdateEMA has updated the shadows of ctx.In(scope), 0 if
// never.
func EMAUpdates(ctx *context.Context, scope string) int64 {
	v := ctx.GetVariableByScopeAndName(shadowScope(ctx.In(scope).Scope()), EMACountName)
	if v == nil || !v.HasValue() {
		return 0
	}
	return v.MustValue().Value().(int64)
}

// trackedVariables lists the trainable variables under ctx's scope (shadows excluded), in the
// context's deterministic order.
func trackedVariables(ctx *context.Context) []*context.Variable {
	var vs []*context.Variable
	prefix := context.ScopeSeparator + EMAScope
	for v := range ctx.IterVariablesInScope() {
		if v.Trainable && v.Scope() != prefix && !strings.HasPrefix(v.Scope(), prefix+context.ScopeSeparator) {
			vs = append(vs, v)
		}
	}
	return vs
}

// shadowScope is the absolute scope of the shadows of variables in the absolute scope s.
func shadowScope(s string) string {
	if s == context.RootScope {
		return context.ScopeSeparator + EMAScope
	}
	return context.ScopeSeparator + EMAScope + s
}
