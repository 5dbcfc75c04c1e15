package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// ProductCount is the arithmetic of the matrix products a computation executes (see
// CountProducts).
type ProductCount struct {
	// FLOPs is Σ 2·(output elements)·(contracted elements) over the counted products: one
	// multiply and one add per term, the convention of matmul benchmarks (2·M·K·N for
	// [M,K]x[K,N]).
	FLOPs float64
	// Products is the number of DotGeneral and Dot nodes counted.
	Products int
	// Unknown is the number of product nodes whose contraction could not be read from their
	// shapes: DotGeneral nodes not built by this package's wrappers and ConvGeneral nodes (the
	// native convolutions of non-portable backends). Their work is missing from FLOPs, so a
	// caller reporting a rate should require Unknown == 0.
	Unknown int
}

// CountProducts walks the graph backwards from roots (the outputs of a computation, for a
// training step its loss and the new values of the variables it updates) and adds up the
// matrix products the computation needs: nodes not reachable from roots are not executed by
// the backend and are not counted, nor is any node twice.
//
// A DotGeneral built by this package's DotGeneral (every layer of the package, and the
// gradients of its products, which its rules build the same way) is counted from its recorded
// axes: 2·(output size)·Π(lhs contracting dimensions). A Dot (graph.Dot) contracts the last
// axis of its first operand. On the portable backend the convolutions are such products
// (im2col), so the count is the convolution arithmetic as the backend runs it. Elementwise
// ops, reductions and copies are not counted: a rate computed from FLOPs shows their time as
// lost rate.
func CountProducts(roots ...*graph.Node) ProductCount {
	var c ProductCount
	seen := make(map[*graph.Node]bool)
	stack := make([]*graph.Node, 0, len(roots))
	for _, r := range roots {
		if r != nil && !seen[r] {
			seen[r] = true
			stack = append(stack, r)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch n.Type() {
		case graph.NodeTypeDotGeneral:
			c.Products++
			if p, ok := lookup[dotParams](n); ok {
				lhs := n.Inputs()[0].Shape().Dimensions
				contracted := 1
				for _, a := range p.lhsContract {
					contracted *= lhs[a]
				}
				c.FLOPs += 2 * float64(n.Shape().Size()) * float64(contracted)
			} else {
				c.Unknown++
			}
		case graph.NodeTypeDot:
			c.Products++
			lhs := n.Inputs()[0].Shape()
			c.FLOPs += 2 * float64(n.Shape().Size()) * float64(lhs.Dimensions[lhs.Rank()-1])
		case graph.NodeTypeConvGeneral:
			c.Products++
			c.Unknown++
		}
		for _, in := range n.Inputs() {
			if !seen[in] {
				seen[in] = true
				stack = append(stack, in)
			}
		}
	}
	return c
}
