package operators

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// GraphRunner runs an operator's in-graph form on a GoMLX backend: Apply executes ApplyGraph,
// and VJP executes graph.Gradient of <ApplyGraph(x, p), v> in x, each compiled once per input
// shape and parameter set (compilation happens at the first call with a new shape). It is
// itself an Operator (OutShape and SampleParams are the wrapped operator's), so the
// conformance suite can check the in-graph form against the same rules as the plain one.
type GraphRunner struct {
	op      part.Operator
	g       GraphOperator
	backend backends.Backend

	mu    sync.Mutex
	execs map[string]*graph.Exec // "apply|keys" or "vjp|keys"
}

// NewGraphRunner wraps op, which must have an in-graph form (see HasGraph).
func NewGraphRunner(b backends.Backend, op part.Operator) (*GraphRunner, error) {
	if !HasGraph(op) {
		return nil, fmt.Errorf("%T has no in-graph form", op)
	}
	return &GraphRunner{op: op, g: op.(GraphOperator), backend: b, execs: map[string]*graph.Exec{}}, nil
}

// OutShape implements Operator.
func (r *GraphRunner) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	return r.op.OutShape(ctx, in)
}

// SampleParams implements Operator.
func (r *GraphRunner) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	return r.op.SampleParams(ctx, rng, in)
}

// IsLinear implements LinearOperator.
func (r *GraphRunner) IsLinear() bool { return part.IsLinear(r.op) }

// exec returns the compiled executable for kind ("apply" or "vjp") and the parameter keys.
func (r *GraphRunner) exec(kind string, keys []string) (*graph.Exec, error) {
	id := kind + "|" + strings.Join(keys, ",")
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.execs[id]; ok {
		return e, nil
	}
	skip := 1
	if kind == "vjp" {
		skip = 2
	}
	params := func(in []*graph.Node) map[string]*graph.Node {
		p := make(map[string]*graph.Node, len(keys))
		for i, k := range keys {
			p[k] = in[skip+i]
		}
		return p
	}
	var e *graph.Exec
	var err error
	if kind == "apply" {
		e, err = graph.NewExec(r.backend, func(in []*graph.Node) *graph.Node {
			return r.g.ApplyGraph(in[0], params(in))
		})
	} else {
		e, err = graph.NewExec(r.backend, func(in []*graph.Node) *graph.Node {
			x, v := in[0], in[1]
			y := r.g.ApplyGraph(x, params(in))
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x)[0]
		})
	}
	if err != nil {
		return nil, err
	}
	r.execs[id] = e.WithName("operators." + kind)
	return e, nil
}

// run executes kind on inputs (x, then v for "vjp") and p, returning the single output.
func (r *GraphRunner) run(ctx context.Context, kind string, inputs []*batch.Batch, p part.Params) (out *batch.Batch, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("in-graph %s of %T: %v", kind, r.op, rec)
		}
	}()
	keys := p.Keys()
	e, err := r.exec(kind, keys)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, len(inputs)+len(keys))
	for _, b := range inputs {
		args = append(args, ToTensor(b))
	}
	for _, k := range keys {
		args = append(args, ToTensor(p[k]))
	}
	res, err := e.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("in-graph %s of %T: %w", kind, r.op, err)
	}
	defer func() {
		for _, t := range res {
			t.FinalizeAll()
		}
	}()
	return FromTensor(res[0])
}

// Apply implements Operator by executing ApplyGraph.
func (r *GraphRunner) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	return r.run(ctx, "apply", []*batch.Batch{x}, p)
}

// VJP implements Operator by executing the gradient of <ApplyGraph(x, p), v> in x.
func (r *GraphRunner) VJP(ctx context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	if err := checkVJPArgs(ctx, r.op, "in-graph VJP", x, v); err != nil {
		return nil, err
	}
	return r.run(ctx, "vjp", []*batch.Batch{x, v}, p)
}

// ToTensor copies a batch into a float32 tensor [N,H,W,C].
func ToTensor(b *batch.Batch) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(b.Data, b.Dims()...)
}

// FromTensor copies a rank-4 float32 tensor into a batch.
func FromTensor(t *tensors.Tensor) (*batch.Batch, error) {
	d := t.Shape().Dimensions
	if len(d) != 4 {
		return nil, fmt.Errorf("tensor %s is not [N,H,W,C]", t.Shape())
	}
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	return batch.FromData(batch.Shape{N: d[0], H: d[1], W: d[2], C: d[3]}, data)
}

var _ part.LinearOperator = (*GraphRunner)(nil)
