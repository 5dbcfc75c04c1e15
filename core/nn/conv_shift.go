package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// convPlan is how the portable backend computes a convolution (see ConvolveBias2D).
type convPlan int

const (
	// im2colScatter: im2col product; the gradient in x scatters each window's adjoint back.
	im2colScatter convPlan = iota
	// im2colTransposed: im2col product; the gradient in x is the transposed convolution.
	im2colTransposed
	// shiftSum: multiply first, then add k·k shifted windows of the product (convolveShiftSum).
	shiftSum
)

// planConv picks, for a k x k convolution from c to o channels at the given stride, the
// formulation with the least estimated work on SimpleGo. The estimate per output position
// (forward and backward) counts each matrix product at its size in SimpleGo's 32x32 blocks
// (it pads the contraction and the output to multiples of 32: a product over 4 channels costs
// as much as one over 32) and about 10 multiply-adds for each element copied, the ratio of a
// copy to a blocked multiply-add measured on the 2-core machine of docs/benchmarks-nn.md:
//
//	im2col:    2·B(k²c+1, o)  + 10·20c            forward product and kernel gradient; the windows
//	  + scatter:    B(o, k²c+1) + 10·51c          columns' adjoint, then per window a slice, two
//	                                              zero-padding copies and an add
//	  + transposed: B(k²o, c)   + 10·20o          the im2col of the adjoint and its product
//	shift-sum: 3·B(c+1, k²o) + 10·(2c + 107o)     three products with k²·o outputs; the padded
//	                                              product, its k² windows and their sum, and the
//	                                              im2col of the adjoint
//
// with B(a, b) = ⌈a/32⌉·⌈b/32⌉·1024. Wide-to-narrow layers (the flow's last coupling layer) come
// out as shift-sum, equal widths as im2col with the transposed gradient, narrow-to-wide as
// im2col with the scatter. Strided convolutions always scatter.
func planConv(k, c, o, stride int) convPlan {
	if stride != 1 || k == 1 {
		return im2colScatter
	}
	pad := func(n int) int { return (n + 31) / 32 * 32 }
	const copyCost = 10
	forward := 2*pad(k*k*c+1)*pad(o) + copyCost*(2*k*k+2)*c
	scatter := forward + pad(o)*pad(k*k*c+1) + copyCost*(5*k*k+6)*c
	transposed := forward + pad(k*k*o)*pad(c) + copyCost*(2*k*k+2)*o
	shift := 3*pad(c+1)*pad(k*k*o) + copyCost*(2*c+(12*k*k-1)*o)
	switch {
	case shift < min(scatter, transposed):
		return shiftSum
	case transposed <= scatter:
		return im2colTransposed
	}
	return im2colScatter
}

// shiftWindow marks the k·k window Slices of a shift-sum convolution. The window that starts
// at (0, 0) (primary) returns the adjoint of the whole padded product; the others return none
// (see shiftSumAdjoint).
type shiftWindow struct {
	primary bool
	k, o    int
}

// convolveShiftSum is ConvolveBias2D at stride 1 as multiply-then-shift: with K̃ [C(+1), k·k·O]
// the kernel with its taps moved next to the output channels (and the bias in the centre tap's
// columns of the row for a ones channel),
//
//	P = [x, 1]·K̃,   y[i, j, o] = Σ_{dy,dx} P̂[i+dy, j+dx, (k·dy+dx)·O + o],   P̂ = P zero-padded by p
//
// one product with k·k·O outputs and k·k windows of O channels, instead of copying k·k windows
// of C channels: cheaper when O is much smaller than C. The adjoint of P̂ is, in its interior,
// the im2col of the output's adjoint v with the taps in reverse order,
//
//	dP[i, j, (k·dy+dx)·O + o] = v[i+p-dy, j+p-dx, o]   (zero outside),
//
// which the primary window's rule returns (padded back to P̂'s shape; the padding's adjoint is
// discarded) in place of k·k scatters.
func convolveShiftSum(x, kernel, bias *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	k, o := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[3]
	p := (k - 1) / 2
	g := x.Graph()
	kt := graph.Reshape(graph.TransposeAllAxes(kernel, 2, 0, 1, 3), c, k*k*o)
	lhs := x
	if bias != nil {
		center := p*k + p
		row := []*graph.Node{graph.Reshape(bias, 1, o)}
		if center > 0 {
			row = append([]*graph.Node{graph.Zeros(g, shapeOf(x, 1, center*o))}, row...)
			row = append(row, graph.Zeros(g, shapeOf(x, 1, (k*k-1-center)*o)))
		}
		kt = graph.Concatenate([]*graph.Node{kt, graph.Concatenate(row, 1)}, 0)
		lhs = graph.Concatenate([]*graph.Node{x, onesChannel(x, n, h, w)}, 3)
	}
	pp := PadAxis(PadAxis(MatMul(lhs, kt), 1, p, p), 2, p, p)
	var y *graph.Node
	for dy := range k {
		for dx := range k {
			tap := dy*k + dx
			win := Slice(pp, []int{0, dy, dx, tap * o}, []int{n, dy + h, dx + w, (tap + 1) * o}, nil)
			if PortableOps(g) && win.Type() == graph.NodeTypeSlice {
				rerecord(win, &shiftWindow{primary: tap == 0, k: k, o: o})
			}
			if y == nil {
				y = win
			} else {
				y = graph.Add(y, win)
			}
		}
	}
	return y
}

// shiftSumAdjoint is the adjoint of the padded product P̂ of convolveShiftSum given the adjoint v
// [N, H, W, O] of its output: the reversed-tap im2col of v, zero-padded by p like P̂.
func shiftSumAdjoint(v *graph.Node, sw *shiftWindow) *graph.Node {
	d := v.Shape().Dimensions
	n, h, w := d[0], d[1], d[2]
	k, o := sw.k, sw.o
	p := (k - 1) / 2
	vp := PadAxis(PadAxis(v, 1, p, p), 2, p, p)
	parts := make([]*graph.Node, 0, k*k)
	for dy := range k {
		for dx := range k {
			ey, ex := k-1-dy, k-1-dx
			if ey == p && ex == p {
				parts = append(parts, v)
				continue
			}
			parts = append(parts, Slice(vp, []int{0, ey, ex, 0}, []int{n, ey + h, ex + w, o}, nil))
		}
	}
	return PadAxis(PadAxis(graph.Concatenate(parts, 3), 1, p, p), 2, p, p)
}
