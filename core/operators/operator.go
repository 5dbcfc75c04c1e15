package operators

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Params are the per-sample parameters of an operator for one batch, stored with each
// observation: a mask per image ([N,H,W,C]), a mixture choice per image ([N,1,1,1]), ... Every
// value's leading axis is the sample axis, of the batch's length N. The keys an operator uses
// are documented on its type; a composition prefixes its parts' keys with their position
// ("1.mask").
type Params map[string]*batch.Batch

// Keys returns the keys in sorted order.
func (p Params) Keys() []string { return slices.Sorted(maps.Keys(p)) }

// Slice returns the parameters of samples [from, to), sharing memory with p.
func (p Params) Slice(from, to int) Params {
	if p == nil {
		return nil
	}
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = v.Slice(from, to)
	}
	return out
}

// Gather returns the parameters of the samples at idx, in that order (a copy).
func (p Params) Gather(idx []int) Params {
	if p == nil {
		return nil
	}
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = v.Gather(idx)
	}
	return out
}

// Prefixed returns the entries of p whose key starts with prefix, with the prefix removed;
// nil when there are none.
func (p Params) Prefixed(prefix string) Params {
	var out Params
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if out == nil {
				out = Params{}
			}
			out[rest] = v
		}
	}
	return out
}

// get returns p[key], checking that it exists and has n samples and the given image shape.
func (p Params) get(op, key string, n int, want batch.Shape) (*batch.Batch, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return nil, fmt.Errorf("%s: missing per-sample parameter %q (draw it with SampleParams)", op, key)
	}
	want.N = n
	if v.Shape != want {
		return nil, fmt.Errorf("%s: parameter %q has shape %s, want %s", op, key, v.Shape, want)
	}
	return v, nil
}

// Operator is a forward operator A acting on batches [N,H,W,C].
type Operator interface {
	// OutShape returns the shape of A(x) for an input of shape in, or an error if the operator
	// cannot act on it.
	OutShape(in batch.Shape) (batch.Shape, error)
	// SampleParams draws the per-sample parameters for a batch of shape in (nil when the
	// operator has none). It is deterministic given rng.
	SampleParams(rng *rand.Rand, in batch.Shape) (Params, error)
	// Apply returns A(x) with the per-sample parameters p.
	Apply(ctx context.Context, x *batch.Batch, p Params) (*batch.Batch, error)
	// VJP returns J_A(x)ᵀ v, shaped like x, for v shaped like A(x) (Aᵀ v for a linear A).
	VJP(ctx context.Context, x, v *batch.Batch, p Params) (*batch.Batch, error)
}

// LinearOperator is an operator that says whether it is linear in x for fixed Params.
type LinearOperator interface {
	Operator
	IsLinear() bool
}

// GraphOperator is an operator with an in-graph, differentiable GoMLX form: ApplyGraph(x, p)
// computes Apply on a float32 node x [N,H,W,C], with p holding one node per Params key (same
// shapes). Its gradient in x equals VJP. Shape errors panic, as graph building does.
type GraphOperator interface {
	ApplyGraph(x *graph.Node, p map[string]*graph.Node) *graph.Node
}

// NoiseModel is the noise N of y = N(A(x)), independent per element given A(x).
type NoiseModel interface {
	// Sample draws y given ax = A(x); deterministic given rng.
	Sample(rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error)
	// NLL returns the per-sample negative log-likelihood -log p(y | ax), summed over the pixels
	// of each image, up to constants in ax that each model documents.
	NLL(y, ax *batch.Batch) ([]float64, error)
	// NLLGrad returns d(Σ_samples NLL)/d(ax), shaped like ax.
	NLLGrad(y, ax *batch.Batch) (*batch.Batch, error)
}

// NoiseMoments is a noise model that states the elementwise mean and variance of y given ax;
// the conformance suite checks samples against them.
type NoiseMoments interface {
	Moments(ax *batch.Batch) (mean, variance *batch.Batch, err error)
}

// GraphNoise is a noise model with an in-graph NLL: per-sample [N] for y, ax [N,H,W,C],
// equal to NLL and differentiable in ax with the gradient NLLGrad.
type GraphNoise interface {
	NLLGraph(y, ax *graph.Node) *graph.Node
}

// IsLinear reports whether op declares itself linear.
func IsLinear(op Operator) bool {
	l, ok := op.(LinearOperator)
	return ok && l.IsLinear()
}

// checkSame returns an error unless a and b have equal shapes; name says which call failed.
func checkSame(name string, a, b *batch.Batch) error {
	if err := batch.SameShape(a, b); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// checkVJPArgs checks x against OutShape and v against the output shape.
func checkVJPArgs(op Operator, name string, x, v *batch.Batch) error {
	out, err := op.OutShape(x.Shape)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if v.Shape != out {
		return fmt.Errorf("%s: adjoint input v has shape %s, want A(x)'s shape %s", name, v.Shape, out)
	}
	return nil
}
