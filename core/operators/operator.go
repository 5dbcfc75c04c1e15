package operators

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// GraphOperator is an operator with an in-graph, differentiable GoMLX form: ApplyGraph(x, p)
// computes Apply on a float32 node x [N,H,W,C], with p holding one node per Params key (same
// shapes). Its gradient in x equals VJP. Shape errors panic, as graph building does.
type GraphOperator interface {
	ApplyGraph(x *graph.Node, p map[string]*graph.Node) *graph.Node
}

// GraphNoise is a noise model with an in-graph NLL: per-sample [N] for y, ax [N,H,W,C],
// equal to NLL and differentiable in ax with the gradient NLLGrad.
type GraphNoise interface {
	NLLGraph(y, ax *graph.Node) *graph.Node
}

// checkSame returns an error unless a and b have equal shapes; name says which call failed.
func checkSame(name string, a, b *batch.Batch) error {
	if err := batch.SameShape(a, b); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// checkVJPArgs checks x against OutShape and v against the output shape.
func checkVJPArgs(ctx context.Context, op part.Operator, name string, x, v *batch.Batch) error {
	out, err := op.OutShape(ctx, x.Shape)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if v.Shape != out {
		return fmt.Errorf("%s: adjoint input v has shape %s, want A(x)'s shape %s", name, v.Shape, out)
	}
	return nil
}
