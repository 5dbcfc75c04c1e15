package operators

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// ChoiceKey is the Params key of a mixture's per-sample component index, [N,1,1,1] (the
// index stored as a float32: 0, 1, 2, ...).
const ChoiceKey = "choice"

// MixtureComponent is one component of a mixture.
type MixtureComponent struct {
	Weight float64         `yaml:"weight" default:"1" check:">0" doc:"relative probability of this component (weights are normalized to sum 1)"`
	Ops    []registry.Spec `yaml:"ops" doc:"the component's forward operators, applied in order; empty: the identity (the image is left as is)"`
}

// Check implements schema.Checker: every item must be a forward operator.
func (c *MixtureComponent) Check() []schema.Problem { return checkOperatorSpecs("ops", c.Ops) }

// MixtureConfig configures mixture.
type MixtureConfig struct {
	Components []MixtureComponent `yaml:"components" check:"nonempty" doc:"the operator chains among which each image draws one (the paper's mixed corruptions)"`
}

// Mixture is mixture: each image n draws a component j with probability w_j / Σw and is
// corrupted by that component's chain, y_n = A_j(x_n). Every component must map the input
// shape to the same output shape. Params: "choice" [N,1,1,1] (see ChoiceKey), and component
// j's own parameters, drawn for the whole batch, under "j." (so "1.0.mask" is the mask of part 0
// of component 1). Linear in x for fixed Params when every component is.
type Mixture struct {
	comps []*Compose
	cum   []float64 // cumulative normalized weights; cum[len-1] = 1
}

// NewMixture builds a mixture of the chains with the given positive weights.
func NewMixture(chains []*Compose, weights []float64) (*Mixture, error) {
	if len(chains) == 0 || len(chains) != len(weights) {
		return nil, fmt.Errorf("mixture: need one weight per component, got %d components and %d weights", len(chains), len(weights))
	}
	total := 0.0
	for j, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("mixture: component %d weight must be > 0, got %v", j, w)
		}
		total += w
	}
	m := &Mixture{comps: chains, cum: make([]float64, len(weights))}
	acc := 0.0
	for j, w := range weights {
		acc += w / total
		m.cum[j] = acc
	}
	m.cum[len(m.cum)-1] = 1
	return m, nil
}

// Components returns the component chains.
func (m *Mixture) Components() []*Compose { return m.comps }

// OutShape implements Operator.
func (m *Mixture) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	var out batch.Shape
	for j, c := range m.comps {
		s, err := c.OutShape(ctx, in)
		if err != nil {
			return in, fmt.Errorf("mixture component %d: %w", j, err)
		}
		if j > 0 && s != out {
			return in, fmt.Errorf("mixture: component %d gives shape %s but component 0 gives %s; all components must agree", j, s, out)
		}
		out = s
	}
	return out, nil
}

// SampleParams implements Operator: first the N choices (one uniform draw each), then each
// component's parameters for the whole batch, component by component.
func (m *Mixture) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	if _, err := m.OutShape(ctx, in); err != nil {
		return nil, err
	}
	choice := batch.New(in.N, 1, 1, 1)
	for n := range in.N {
		u := rng.Float64()
		j := 0
		for j < len(m.cum)-1 && u >= m.cum[j] {
			j++
		}
		choice.Data[n] = float32(j)
	}
	out := part.Params{ChoiceKey: choice}
	for j, c := range m.comps {
		p, err := c.SampleParams(ctx, rng, in)
		if err != nil {
			return nil, fmt.Errorf("mixture component %d: %w", j, err)
		}
		for k, v := range p {
			out[prefix(j)+k] = v
		}
	}
	return out, nil
}

// groups returns, per component, the indices of the samples that chose it.
func (m *Mixture) groups(p part.Params, n int) ([][]int, error) {
	choice, err := p.Get("mixture", ChoiceKey, n, batch.Shape{H: 1, W: 1, C: 1})
	if err != nil {
		return nil, err
	}
	g := make([][]int, len(m.comps))
	for i, v := range choice.Data {
		j := int(v)
		if float32(j) != v || j < 0 || j >= len(m.comps) {
			return nil, fmt.Errorf("mixture: sample %d chose component %v; there are %d", i, v, len(m.comps))
		}
		g[j] = append(g[j], i)
	}
	return g, nil
}

// IsLinear implements LinearOperator.
func (m *Mixture) IsLinear() bool {
	for _, c := range m.comps {
		if !c.IsLinear() {
			return false
		}
	}
	return true
}

// Apply implements Operator: each component runs on the samples that chose it.
func (m *Mixture) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	return m.run(ctx, x, nil, p)
}

// VJP implements Operator: each component's VJP on the samples that chose it.
func (m *Mixture) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	if err := checkVJPArgs(ctx, m, "mixture VJP", x, v); err != nil {
		return nil, err
	}
	return m.run(ctx, x, v, p)
}

// run applies (v == nil) or differentiates the components group by group and scatters the
// results back in sample order.
func (m *Mixture) run(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	o, err := m.OutShape(ctx, x.Shape)
	if err != nil {
		return nil, err
	}
	groups, err := m.groups(p, x.N)
	if err != nil {
		return nil, err
	}
	if v != nil {
		o = x.Shape // a VJP has the input's shape
	}
	out := batch.New(o.N, o.H, o.W, o.C)
	sz := out.ImageSize()
	for j, idx := range groups {
		if len(idx) == 0 {
			continue
		}
		pj := p.Prefixed(prefix(j)).Gather(idx)
		var y *batch.Batch
		if v == nil {
			y, err = m.comps[j].Apply(ctx, x.Gather(idx), pj)
		} else {
			y, err = m.comps[j].VJP(ctx, x.Gather(idx), v.Gather(idx), pj)
		}
		if err != nil {
			return nil, fmt.Errorf("mixture component %d: %w", j, err)
		}
		for r, i := range idx {
			copy(out.Data[i*sz:(i+1)*sz], y.Data[r*sz:(r+1)*sz])
		}
	}
	return out, nil
}

// ApplyGraph implements GraphOperator: every component runs on the whole batch and each sample
// keeps its chosen component's output (graph.Where), so the gradient reaches x only through
// the chosen component.
func (m *Mixture) ApplyGraph(x *graph.Node, p map[string]*graph.Node) *graph.Node {
	choice, ok := p[ChoiceKey]
	if !ok {
		panic(fmt.Sprintf("mixture: missing per-sample parameter %q", ChoiceKey))
	}
	var out *graph.Node
	for j, c := range m.comps {
		y := c.ApplyGraph(x, prefixedNodes(p, prefix(j)))
		if j == 0 {
			out = y
			continue
		}
		sel := graph.Equal(choice, graph.Scalar(x.Graph(), choice.DType(), j))
		out = graph.Where(perSample(sel, y), y, out)
	}
	return out
}

func (m *Mixture) hasGraph() bool {
	for _, c := range m.comps {
		if !c.hasGraph() {
			return false
		}
	}
	return true
}

func init() {
	registry.Register(registry.Entry{
		ID:         "op.mixture",
		Deprecated: []string{"mixture"},
		Kind:       registry.KindOperator,
		Summary:    "per-image random choice among operator chains with weights (mixed corruptions); per-sample choice",
		Config:     func() any { return &MixtureConfig{} },
		Example:    "components:\n  - {weight: 1, ops: [{op: blur.gaussian, size: 9, sigma: 1.5}]}\n  - {weight: 1, ops: [{op: mask.random, fraction: 0.5}]}\n",
		New: func(ctx context.Context, cfg any) (any, error) {
			c := cfg.(*MixtureConfig)
			chains := make([]*Compose, len(c.Components))
			weights := make([]float64, len(c.Components))
			for j, comp := range c.Components {
				ch, err := buildChain(ctx, comp.Ops)
				if err != nil {
					return nil, fmt.Errorf("components[%d].%w", j, err)
				}
				chains[j], weights[j] = ch, comp.Weight
			}
			return NewMixture(chains, weights)
		},
	})
}

var (
	_ part.LinearOperator = (*Mixture)(nil)
	_ io.Closer           = (*Mixture)(nil)
	_ GraphOperator       = (*Mixture)(nil)
	_ schema.Checker      = (*MixtureComponent)(nil)
)

// Close closes every component's parts (see Compose.Close).
func (m *Mixture) Close() error {
	var errs []error
	for _, c := range m.comps {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
