package operators

import (
	"fmt"
	"github.com/flowdiff/flowdiff-go/core/nn"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// DenseMaxPixels is the largest image (H*W pixels) for which a general kernel's in-graph form
// may be one dense [HW,HW] matrix product (a 64 MiB matrix at the limit); larger images always
// use a sum of shifted windows. See useDense for the rule below the limit.
const DenseMaxPixels = 4096

// useDense reports whether the dense product is the cheaper in-graph form of a kernel with
// `taps` non-zero taps reaching an image of hw pixels. The product costs 2·hw² flops per image
// channel, the windows one scaled copy of the image per tap. Measured on SimpleGo (2 cores,
// docs/benchmarks-operators.md): a window tap costs 4-6 ns per pixel, the product 0.3 ns per
// flop in batches of 64 and 0.75 ns in batches of 16, so the windows win below hw/10 taps
// (batch 64) to hw/3 (batch 16); the rule takes hw/6.
func useDense(taps, hw int) bool { return hw <= DenseMaxPixels && 6*taps >= hw }

// reachingTaps counts the non-zero taps of the plan that reach an h x w image.
func (pl corrPlan) reachingTaps(h, w int) int {
	n := 0
	for a := range pl.w.H {
		for b := range pl.w.W {
			if pl.w.K[a*pl.w.W+b] != 0 && abs(a-pl.oy) < h && abs(b-pl.ox) < w {
				n++
			}
		}
	}
	return n
}

// withAdjoint returns fwd(x) whose gradient in x is adj(v), for a linear map fwd from x's shape
// to itself with adjoint adj. The forward's result passes through StopGradient, so autodiff
// never differentiates the ops inside fwd (SimpleGo lacks or crawls through some of those
// gradients; a StopGradient on fwd's input would not do, since GoMLX still builds the VJPs of
// the nodes between it and the output). The gradient enters through z - StopGradient(z), which
// is exactly 0 in value and the identity in gradient, with z = x carrying adj as its custom
// gradient.
func withAdjoint(x *graph.Node, fwd, adj func(*graph.Node) *graph.Node) *graph.Node {
	y := graph.StopGradient(fwd(x))
	if !y.Shape().Equal(x.Shape()) {
		panic(fmt.Sprintf("operators: withAdjoint needs a shape-preserving map, got %s -> %s", x.Shape(), y.Shape()))
	}
	z := graph.IdentityWithCustomGradient(x, func(_, v *graph.Node) *graph.Node { return adj(v) })
	return graph.Add(y, graph.Sub(z, graph.StopGradient(z)))
}

// constMatrix returns m, row-major [rows, cols] float32, as a constant of x's graph and dtype.
func constMatrix(x *graph.Node, m []float32, rows, cols int) *graph.Node {
	c := graph.ConstTensor(x.Graph(), tensors.FromFlatDataAndDimensions(m, rows, cols))
	if c.DType() != x.DType() {
		c = graph.ConvertDType(c, x.DType())
	}
	return c
}

// checkImageNode panics unless x is a rank-4 NHWC node; it returns the dimensions.
func checkImageNode(name string, x *graph.Node) (n, h, w, c int) {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("%s: input must be [N,H,W,C], got %s", name, x.Shape()))
	}
	d := x.Shape().Dimensions
	return d[0], d[1], d[2], d[3]
}

// separableGraph multiplies every image and channel of x [N,H,W,C] by the [H,H] matrix bh on
// the left and by bwᵀ on the right: Bh X Bwᵀ (transpose=false) or Bhᵀ X Bw (transpose=true).
func separableGraph(x, bh, bw *graph.Node, transpose bool) *graph.Node {
	ca := 1 // contract the matrix's column axis: (B x)[i] = Σ_j B[i,j] x[j]
	if transpose {
		ca = 0
	}
	t := graph.DotGeneral(x, []int{1}, nil, bh, []int{ca}, nil) // [N,W,C,H]
	u := graph.DotGeneral(t, []int{1}, nil, bw, []int{ca}, nil) // [N,C,H,W]
	return graph.TransposeAllAxes(u, 0, 2, 3, 1)
}

// denseGraph multiplies every image and channel of x [N,H,W,C], flattened to HW values, by the
// [HW,HW] matrix m (transpose=false) or mᵀ (transpose=true).
func denseGraph(x, m *graph.Node, transpose bool) *graph.Node {
	n, h, w, c := checkImageNode("denseGraph", x)
	ca := 1
	if transpose {
		ca = 0
	}
	if c == 1 {
		y := graph.DotGeneral(graph.Reshape(x, n, h*w), []int{1}, nil, m, []int{ca}, nil) // [N,HW]
		return graph.Reshape(y, n, h, w, 1)
	}
	y := graph.DotGeneral(graph.Reshape(x, n, h*w, c), []int{1}, nil, m, []int{ca}, nil) // [N,C,HW]
	return graph.Reshape(graph.TransposeAllAxes(y, 0, 2, 1), n, h, w, c)
}

// windowsGraph computes the correlation plan on x [N,H,W,C] as a sum of shifted windows of the
// zero-padded input, one scaled window per non-zero tap that reaches the image.
func windowsGraph(x *graph.Node, pl corrPlan) *graph.Node {
	_, h, w, _ := checkImageNode("windowsGraph", x)
	// Tap a reads rows [a-oy, a-oy+H); it matters only when that overlaps [0, H).
	aLo, aHi := max(0, pl.oy-h+1), min(pl.w.H-1, pl.oy+h-1)
	bLo, bHi := max(0, pl.ox-w+1), min(pl.w.W-1, pl.ox+w-1)
	top, bottom := max(0, pl.oy-aLo), max(0, aHi-pl.oy)
	left, right := max(0, pl.ox-bLo), max(0, bHi-pl.ox)
	xp := nn.PadAxis(nn.PadAxis(x, 1, top, bottom), 2, left, right)
	var sum *graph.Node
	for a := aLo; a <= aHi; a++ {
		for b := bLo; b <= bHi; b++ {
			wv := pl.w.K[a*pl.w.W+b]
			if wv == 0 {
				continue
			}
			r0, c0 := a-pl.oy+top, b-pl.ox+left
			win := graph.Slice(xp, graph.AxisRange(), graph.AxisRange(r0, r0+h), graph.AxisRange(c0, c0+w), graph.AxisRange())
			term := graph.MulScalar(win, wv)
			if sum == nil {
				sum = term
			} else {
				sum = graph.Add(sum, term)
			}
		}
	}
	if sum == nil {
		return graph.ZerosLike(x)
	}
	return sum
}

// perSample broadcasts a per-sample value s [N,1,1,1] against x [N,H,W,C].
func perSample(s, x *graph.Node) *graph.Node {
	return graph.BroadcastToDims(s, x.Shape().Dimensions...)
}
