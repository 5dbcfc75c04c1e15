package nn

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// DenseScope is the scope Dense creates its variables under.
const DenseScope = "dense"

// Dense is the affine map y = x·W (+ b) over the last axis of x, shaped [..., inDim], giving
// [..., outDim]; any leading axes are kept. Variables, under ctx.In(DenseScope):
//
//	weights [inDim, outDim]  initialized by the context's initializer (GoMLX default: He normal)
//	biases  [outDim]         zeros (only when bias is true)
//
// both with x's dtype. The product is this package's MatMul, so its gradient is two matmuls.
// On the portable backend the bias is folded into the product, y = [x, 1]·[W; b] (see
// ConvolveBias2D for why); elsewhere it is added.
func Dense(ctx *context.Context, x *graph.Node, outDim int, bias bool) *graph.Node {
	if x.Rank() < 1 || outDim < 1 {
		panic(fmt.Sprintf("nn.Dense: need x of rank >= 1 and outDim >= 1, got x %s, outDim %d", x.Shape(), outDim))
	}
	ctx = ctx.In(DenseScope)
	g := x.Graph()
	inDim := x.Shape().Dimensions[x.Rank()-1]
	w := ctx.VariableWithShape("weights", shapeOf(x, inDim, outDim)).ValueGraph(g)
	if !bias {
		return MatMul(x, w)
	}
	b := ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapeOf(x, outDim)).ValueGraph(g)
	if PortableOps(g) {
		onesDims := slices.Clone(x.Shape().Dimensions)
		onesDims[x.Rank()-1] = 1
		xo := graph.Concatenate([]*graph.Node{x, graph.Ones(g, shapeOf(x, onesDims...))}, -1)
		return MatMul(xo, graph.Concatenate([]*graph.Node{w, graph.Reshape(b, 1, outDim)}, 0))
	}
	y := MatMul(x, w)
	return graph.Add(y, graph.ExpandLeftToRank(b, y.Rank()))
}
