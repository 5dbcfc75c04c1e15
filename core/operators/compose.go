package operators

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// Build builds the operator that spec names; it is an error if the spec names a noise model or
// another kind of part.
func Build(ctx context.Context, spec *registry.Spec) (part.Operator, error) {
	v, err := spec.Build(ctx)
	if err != nil {
		return nil, err
	}
	op, ok := v.(part.Operator)
	if !ok {
		closeValue(v)
		return nil, fmt.Errorf("%s is %s, not a forward operator", spec.ID, kindName(spec.Entry.Kind))
	}
	return op, nil
}

// BuildNoise builds the noise model that spec names.
func BuildNoise(ctx context.Context, spec *registry.Spec) (part.NoiseModel, error) {
	v, err := spec.Build(ctx)
	if err != nil {
		return nil, err
	}
	nm, ok := v.(part.NoiseModel)
	if !ok {
		closeValue(v)
		return nil, fmt.Errorf("%s is %s, not a noise model", spec.ID, kindName(spec.Entry.Kind))
	}
	return nm, nil
}

// FromSpecs builds a corruption list: operators in order, then at most one noise model, which
// must come last. noise is nil when the list has none. On failure the parts already built are
// closed (a plugin part releases its handle).
func FromSpecs(ctx context.Context, specs []registry.Spec) (ops []part.Operator, noise part.NoiseModel, err error) {
	defer func() {
		if err != nil {
			closeAll(ops)
			ops = nil
		}
	}()
	for i := range specs {
		s := &specs[i]
		if s.Entry.Kind == registry.KindNoise {
			if i != len(specs)-1 {
				return ops, nil, fmt.Errorf("%s: the noise model %s must be the last item", where(s, i), s.ID)
			}
			if noise, err = BuildNoise(ctx, s); err != nil {
				return ops, nil, fmt.Errorf("%s: %w", where(s, i), err)
			}
			continue
		}
		op, err := Build(ctx, s)
		if err != nil {
			return ops, nil, fmt.Errorf("%s: %w", where(s, i), err)
		}
		ops = append(ops, op)
	}
	return ops, noise, nil
}

// where locates spec i for an error message.
func where(s *registry.Spec, i int) string {
	if s.Path != "" && s.Line > 0 {
		return fmt.Sprintf("%s (line %d)", s.Path, s.Line)
	}
	return fmt.Sprintf("item %d", i)
}

// kindName names a kind with its article, for messages.
func kindName(k registry.Kind) string {
	switch k {
	case registry.KindNoise:
		return "a noise model"
	case registry.KindOperator:
		return "a forward operator"
	}
	return "a " + string(k)
}

// checkOperatorSpecs reports, for a Checker, specs that name something other than an operator.
func checkOperatorSpecs(field string, specs []registry.Spec) []schema.Problem {
	var probs []schema.Problem
	for i, s := range specs {
		if s.Entry.New != nil && s.Entry.Kind != registry.KindOperator {
			probs = append(probs, schema.Problem{Field: fmt.Sprintf("%s[%d]", field, i),
				Msg: fmt.Sprintf("%s is %s; only forward operators go here (a noise model goes last in corruption)", s.ID, kindName(s.Entry.Kind))})
		}
	}
	return probs
}

// ComposeConfig configures compose.
type ComposeConfig struct {
	Ops []registry.Spec `yaml:"ops" check:"nonempty" doc:"forward operators applied in order, first to last, each a registry ID or a mapping with op: ID and its parameters"`
}

// Check implements schema.Checker: every item must be a forward operator.
func (c *ComposeConfig) Check() []schema.Problem { return checkOperatorSpecs("ops", c.Ops) }

// Compose is compose: A = A_k ∘ ... ∘ A_1 ∘ A_0 (A_0 applied first). Params: part i's keys
// prefixed with "i." (e.g. "1.mask"). Its VJP chains the parts' VJPs backwards, evaluating the
// forward pass only up to the last nonlinear part. Linear when every part is. An empty Compose
// is the identity.
type Compose struct{ ops []part.Operator }

// NewCompose chains ops, applied in the order given.
func NewCompose(ops ...part.Operator) *Compose { return &Compose{ops: ops} }

// Ops returns the parts, in application order.
func (c *Compose) Ops() []part.Operator { return c.ops }

func prefix(i int) string { return strconv.Itoa(i) + "." }

// shapes returns the input shape of every part and the final output shape.
func (c *Compose) shapes(ctx context.Context, in batch.Shape) ([]batch.Shape, batch.Shape, error) {
	ins := make([]batch.Shape, len(c.ops))
	s := in
	for i, op := range c.ops {
		ins[i] = s
		out, err := op.OutShape(ctx, s)
		if err != nil {
			return nil, s, fmt.Errorf("compose part %d: %w", i, err)
		}
		s = out
	}
	return ins, s, nil
}

// OutShape implements Operator.
func (c *Compose) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	if !in.Valid() {
		return in, fmt.Errorf("compose: invalid input shape %s", in)
	}
	_, out, err := c.shapes(ctx, in)
	return out, err
}

// SampleParams implements Operator: the parts draw in order from rng.
func (c *Compose) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	return c.params(ctx, rng, nil, in)
}

// ParamsFor implements NamedParams: the parts that implement it get the observations' names,
// the others draw from rng as in SampleParams.
func (c *Compose) ParamsFor(ctx context.Context, rng *rand.Rand, names []string, in batch.Shape) (part.Params, error) {
	if len(names) != in.N {
		return nil, fmt.Errorf("compose: %d names for %d images", len(names), in.N)
	}
	return c.params(ctx, rng, names, in)
}

func (c *Compose) params(ctx context.Context, rng *rand.Rand, names []string, in batch.Shape) (part.Params, error) {
	ins, _, err := c.shapes(ctx, in)
	if err != nil {
		return nil, err
	}
	var out part.Params
	for i, op := range c.ops {
		var p part.Params
		if np, ok := op.(NamedParams); ok && names != nil {
			p, err = np.ParamsFor(ctx, rng, names, ins[i])
		} else {
			p, err = op.SampleParams(ctx, rng, ins[i])
		}
		if err != nil {
			return nil, fmt.Errorf("compose part %d: %w", i, err)
		}
		for k, v := range p {
			if out == nil {
				out = part.Params{}
			}
			out[prefix(i)+k] = v
		}
	}
	return out, nil
}

// IsLinear implements LinearOperator.
func (c *Compose) IsLinear() bool {
	for _, op := range c.ops {
		if !part.IsLinear(op) {
			return false
		}
	}
	return true
}

// Apply implements Operator.
func (c *Compose) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	for i, op := range c.ops {
		y, err := op.Apply(ctx, x, p.Prefixed(prefix(i)))
		if err != nil {
			return nil, fmt.Errorf("compose part %d: %w", i, err)
		}
		x = y
	}
	return x, nil
}

// VJP implements Operator.
func (c *Compose) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	if err := checkVJPArgs(ctx, c, "compose VJP", x, v); err != nil {
		return nil, err
	}
	ins, _, _ := c.shapes(ctx, x.Shape)
	lastNonlinear := -1
	for i, op := range c.ops {
		if !part.IsLinear(op) {
			lastNonlinear = i
		}
	}
	// Inputs of the parts: real values up to the last nonlinear part, which needs them; a
	// linear part's VJP reads only the shape of its input.
	xs := make([]*batch.Batch, len(c.ops))
	cur := x
	for i, op := range c.ops {
		if i > lastNonlinear {
			if i > 0 {
				xs[i] = batch.New(ins[i].N, ins[i].H, ins[i].W, ins[i].C)
			} else {
				xs[i] = x
			}
			continue
		}
		xs[i] = cur
		if i < lastNonlinear {
			y, err := op.Apply(ctx, cur, p.Prefixed(prefix(i)))
			if err != nil {
				return nil, fmt.Errorf("compose part %d: %w", i, err)
			}
			cur = y
		}
	}
	for i := len(c.ops) - 1; i >= 0; i-- {
		g, err := c.ops[i].VJP(ctx, xs[i], v, p.Prefixed(prefix(i)))
		if err != nil {
			return nil, fmt.Errorf("compose part %d VJP: %w", i, err)
		}
		v = g
	}
	return v, nil
}

// ApplyGraph implements GraphOperator; every part must have an in-graph form (see HasGraph).
func (c *Compose) ApplyGraph(x *graph.Node, p map[string]*graph.Node) *graph.Node {
	for i, op := range c.ops {
		g, ok := op.(GraphOperator)
		if !ok {
			panic(fmt.Sprintf("compose part %d (%T) has no in-graph form", i, op))
		}
		x = g.ApplyGraph(x, prefixedNodes(p, prefix(i)))
	}
	return x
}

func (c *Compose) hasGraph() bool {
	for _, op := range c.ops {
		if !HasGraph(op) {
			return false
		}
	}
	return true
}

// prefixedNodes is Params.Prefixed for graph nodes.
func prefixedNodes(p map[string]*graph.Node, pre string) map[string]*graph.Node {
	out := map[string]*graph.Node{}
	for k, v := range p {
		if len(k) > len(pre) && k[:len(pre)] == pre {
			out[k[len(pre):]] = v
		}
	}
	return out
}

// HasGraph reports whether op has a usable in-graph form: it implements GraphOperator and, for
// a composite (compose, mixture), so does every part.
func HasGraph(op part.Operator) bool {
	if _, ok := op.(GraphOperator); !ok {
		return false
	}
	if c, ok := op.(interface{ hasGraph() bool }); ok {
		return c.hasGraph()
	}
	return true
}

// buildChain builds the operators of specs as a Compose.
func buildChain(ctx context.Context, specs []registry.Spec) (*Compose, error) {
	ops := make([]part.Operator, 0, len(specs))
	for i := range specs {
		op, err := Build(ctx, &specs[i])
		if err != nil {
			closeAll(ops)
			return nil, fmt.Errorf("ops[%d]: %w", i, err)
		}
		ops = append(ops, op)
	}
	return NewCompose(ops...), nil
}

func init() {
	registry.Register(registry.Entry{
		ID:         "op.compose",
		Deprecated: []string{"compose"},
		Kind:       registry.KindOperator,
		Summary:    "a chain of operators applied in order (ops: a list of registry specs); linear when every part is",
		Config:     func() any { return &ComposeConfig{} },
		Example:    "ops:\n  - {op: blur.gaussian, size: 9, sigma: 1.5}\n  - {op: mask.random, fraction: 0.3}\n",
		New: func(ctx context.Context, cfg any) (any, error) {
			c := cfg.(*ComposeConfig)
			if len(c.Ops) == 0 {
				return nil, fmt.Errorf("compose: ops must not be empty")
			}
			return buildChain(ctx, c.Ops)
		},
	})
}

var (
	_ NamedParams         = (*Compose)(nil)
	_ part.LinearOperator = (*Compose)(nil)
	_ io.Closer           = (*Compose)(nil)
	_ GraphOperator       = (*Compose)(nil)
	_ schema.Checker      = (*ComposeConfig)(nil)
)

// Close closes every part that holds resources (an io.Closer, such as a plugin's operator),
// last part first, and returns their errors joined.
func (c *Compose) Close() error { return closeAll(c.ops) }

// closeValue closes v when it holds resources; used when a built part is rejected.
func closeValue(v any) {
	if c, ok := v.(io.Closer); ok {
		c.Close()
	}
}

// closeAll closes, in reverse order, the operators that are io.Closers.
func closeAll(ops []part.Operator) error {
	var errs []error
	for i := len(ops) - 1; i >= 0; i-- {
		if cl, ok := ops[i].(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}
