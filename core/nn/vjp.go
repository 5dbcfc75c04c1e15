package nn

import (
	"runtime"
	"slices"
	"sync"
	"weak"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// This file replaces entries of graph.VJPRegistration. The replacement rules look a node up in
// the table filled by this package's op wrappers (ops.go); a node they do not know is handed to
// the rule GoMLX registered originally, kept in orig.

var (
	installOnce sync.Once

	// orig holds GoMLX's rules as they were before Install replaced them.
	orig struct {
		dotGeneral, dot, slice, concatenate graph.VJP
	}
)

func init() { Install() }

// Install replaces, once per process, the GoMLX gradient rules this package improves (see the
// package documentation). It runs from the package's init, so importing the package is enough;
// calling it again is a no-op. Mutating graph.VJPRegistration is not safe while another goroutine
// builds a gradient, which is why it happens at init time.
func Install() {
	installOnce.Do(func() {
		reg := graph.VJPRegistration
		orig.dotGeneral = reg[graph.NodeTypeDotGeneral]
		orig.dot = reg[graph.NodeTypeDot]
		orig.slice = reg[graph.NodeTypeSlice]
		orig.concatenate = reg[graph.NodeTypeConcatenate]
		reg[graph.NodeTypeDotGeneral] = dotGeneralRule
		reg[graph.NodeTypeDot] = dotRule
		reg[graph.NodeTypeSlice] = sliceRule
		reg[graph.NodeTypeConcatenate] = concatenateRule
		// Rules GoMLX v0.26.0 lacks; kept only if a later GoMLX does not define its own.
		if _, ok := reg[graph.NodeTypeRsqrt]; !ok {
			reg[graph.NodeTypeRsqrt] = rsqrtRule
		}
		if _, ok := reg[graph.NodeTypeExpm1]; !ok {
			reg[graph.NodeTypeExpm1] = expm1Rule
		}
	})
}

// dotParams are the axes of a DotGeneral node (already normalized to non-negative values).
// im2col is set when the node is the product of a stride-1 convolution (convolveIm2Col) whose
// lhs is the recorded im2col concatenation.
type dotParams struct {
	lhsContract, lhsBatch, rhsContract, rhsBatch []int
	im2col                                       *im2colParams
}

// im2colParams mark the Concatenate node of a stride-1 im2col (convolveIm2Col): kernel is the
// convolution's [k, k, C, O] kernel and center the index of the input that is x itself. During
// the backward pass the product's rule leaves the output's adjoint in dy for the
// concatenation's rule (see convRule). The nodes are held weakly: a strong reference from the
// table would keep the whole graph, and with it the table's key, alive.
type im2colParams struct {
	kernel weak.Pointer[graph.Node]
	center int
	dy     weak.Pointer[graph.Node]
}

// sliceParams are the per-axis starts, limits and strides of a Slice node.
type sliceParams struct {
	starts, limits, strides []int
}

// nodeTable records the parameters of the nodes this package built. Keys are weak pointers, and
// an entry is deleted when its node is garbage collected, so a long training run that builds many
// graphs does not grow the table without bound.
var nodeTable = struct {
	sync.Mutex
	m map[weak.Pointer[graph.Node]]any
}{m: make(map[weak.Pointer[graph.Node]]any)}

// record stores params for node.
func record(node *graph.Node, params any) {
	key := weak.Make(node)
	nodeTable.Lock()
	nodeTable.m[key] = params
	nodeTable.Unlock()
	runtime.AddCleanup(node, func(key weak.Pointer[graph.Node]) {
		nodeTable.Lock()
		delete(nodeTable.m, key)
		nodeTable.Unlock()
	}, key)
}

// rerecord replaces the parameters recorded for node (which record registered).
func rerecord(node *graph.Node, params any) {
	nodeTable.Lock()
	nodeTable.m[weak.Make(node)] = params
	nodeTable.Unlock()
}

// lookup returns the parameters recorded for node, if they have type T.
func lookup[T any](node *graph.Node) (T, bool) {
	nodeTable.Lock()
	p, ok := nodeTable.m[weak.Make(node)]
	nodeTable.Unlock()
	t, ok2 := p.(T)
	return t, ok && ok2
}

// recorded reports whether node was built by this package's wrappers (used by tests).
func recorded(node *graph.Node) bool {
	nodeTable.Lock()
	defer nodeTable.Unlock()
	_, ok := nodeTable.m[weak.Make(node)]
	return ok
}

// dotGeneralRule is the VJP of a DotGeneral node as two DotGenerals (see dotGeneralGrads).
func dotGeneralRule(node *graph.Node, v []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	p, ok := lookup[dotParams](node)
	if !ok {
		return orig.dotGeneral(node, v, outputShape)
	}
	in := node.Inputs()
	if p.im2col != nil {
		return convRule(in[0], in[1], p, v[0])
	}
	dl, dr := dotGeneralGrads(in[0], in[1], p, v[0])
	return []*graph.Node{dl, dr}
}

// convRule is the VJP of the product y = cols·kmat of a stride-1 im2col convolution. The
// kernel matrix gets the usual colsᵀ·v. The adjoint of cols is not formed: v is handed to the
// concatenation's rule (concatenateRule) through the im2col record, which returns the adjoint
// of x directly as the transposed convolution of v (see ConvolveBias2D), so the k·k windows
// need no scatter. The adjoint returned for cols is a zeros node that concatenateRule
// ignores, so nothing reads it and the compiled graph prunes it.
func convRule(cols, kmat *graph.Node, p dotParams, v *graph.Node) []*graph.Node {
	p.im2col.dy = weak.Make(v)
	return []*graph.Node{graph.ZerosLike(cols), dotGeneralRhsGrad(cols, kmat, p, v)}
}

// concatenateRule is the VJP of a Concatenate node: for an im2col concatenation whose product
// left the output's adjoint (convRule), the adjoint of x, the centre input, is
//
//	dx = conv(v, K'),  K'[dy, dx, o, c] = K[k-1-dy, k-1-dx, c, o]
//
// (stride 1, same padding), and the other inputs (windows of the padded x, the ones channel)
// get none. Every other Concatenate node gets GoMLX's rule.
func concatenateRule(node *graph.Node, v []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	p, ok := lookup[*im2colParams](node)
	if !ok {
		return orig.concatenate(node, v, outputShape)
	}
	dy, kernel := p.dy.Value(), p.kernel.Value()
	if dy == nil || kernel == nil {
		return orig.concatenate(node, v, outputShape)
	}
	out := make([]*graph.Node, len(node.Inputs()))
	out[p.center] = Convolve2D(dy, flipTransposeKernel(kernel), 1)
	return out
}

// flipTransposeKernel returns K'[dy, dx, o, c] = K[k-1-dy, k-1-dx, c, o] for K [k, k, C, O]:
// the kernel of the transposed stride-1 convolution. Reversing the k·k taps of the row-major
// (dy, dx) order flips both axes at once.
func flipTransposeKernel(kernel *graph.Node) *graph.Node {
	d := kernel.Shape().Dimensions
	k, c, o := d[0], d[2], d[3]
	taps := graph.Reshape(kernel, k*k, c, o)
	rev := make([]*graph.Node, k*k)
	for i := range rev {
		t := k*k - 1 - i
		rev[i] = Slice(taps, []int{t, 0, 0}, []int{t + 1, c, o}, nil)
	}
	flipped := taps
	if k > 1 {
		flipped = graph.Concatenate(rev, 0)
	}
	return graph.Reshape(graph.TransposeAllAxes(flipped, 0, 2, 1), k, k, o, c)
}

// dotRule is the VJP of a Dot node (graph.Dot): its axes follow from the operands' ranks.
func dotRule(node *graph.Node, v []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	in := node.Inputs()
	var p dotParams
	switch {
	case in[0].Rank() == 1 && in[1].Rank() == 1:
		p = dotParams{lhsContract: []int{0}, rhsContract: []int{0}}
	case in[0].Rank() == 2 && (in[1].Rank() == 1 || in[1].Rank() == 2):
		p = dotParams{lhsContract: []int{1}, rhsContract: []int{0}}
	default:
		return orig.dot(node, v, outputShape)
	}
	dl, dr := dotGeneralGrads(in[0], in[1], p, v[0])
	return []*graph.Node{dl, dr}
}

// crossAxes returns, in increasing order, the axes of a rank-`rank` operand that are neither
// contracting nor batch axes.
func crossAxes(rank int, contract, batch []int) []int {
	var cross []int
	for a := range rank {
		if !slices.Contains(contract, a) && !slices.Contains(batch, a) {
			cross = append(cross, a)
		}
	}
	return cross
}

// seq returns [from, from+1, ..., from+n-1].
func seq(from, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = from + i
	}
	return s
}

// transposeIfNeeded applies graph.TransposeAllAxes(x, perm...) unless perm is the identity.
func transposeIfNeeded(x *graph.Node, perm []int) *graph.Node {
	for i, p := range perm {
		if i != p {
			return graph.TransposeAllAxes(x, perm...)
		}
	}
	return x
}

// dotGeneralGrads returns the adjoints of lhs and rhs of out = DotGeneral(lhs, rhs) given the
// adjoint v of out, laid out [batch..., lhsCross..., rhsCross...]:
//
//	dLhs = DotGeneral(v, contract over rhsCross, rhs, contract over its cross axes)  (= v·Bᵀ)
//	dRhs = DotGeneral(lhs, contract over lhsCross, v, contract over lhsCross)        (= Aᵀ·v)
//
// each followed by a transpose back to the operand's layout when that is not the identity. Both
// products are built with this package's DotGeneral, so higher-order gradients stay fast.
func dotGeneralGrads(lhs, rhs *graph.Node, p dotParams, v *graph.Node) (dLhs, dRhs *graph.Node) {
	return dotGeneralLhsGrad(lhs, rhs, p, v), dotGeneralRhsGrad(lhs, rhs, p, v)
}

// dotGeneralLhsGrad is the dLhs of dotGeneralGrads.
func dotGeneralLhsGrad(lhs, rhs *graph.Node, p dotParams, v *graph.Node) *graph.Node {
	lhsCross := crossAxes(lhs.Rank(), p.lhsContract, p.lhsBatch)
	rhsCross := crossAxes(rhs.Rank(), p.rhsContract, p.rhsBatch)
	nb, nlx := len(p.lhsBatch), len(lhsCross)
	vBatch := seq(0, nb)
	vRhsCross := seq(nb+nlx, len(rhsCross))

	// Result layout [batch..., lhsCross..., rhs contracting axes in increasing order].
	res := DotGeneral(v, vRhsCross, vBatch, rhs, rhsCross, p.rhsBatch)
	sortedRc := slices.Sorted(slices.Values(p.rhsContract))
	perm := make([]int, lhs.Rank())
	for i, a := range p.lhsBatch {
		perm[a] = i
	}
	for j, a := range lhsCross {
		perm[a] = nb + j
	}
	for i, a := range p.lhsContract {
		perm[a] = nb + nlx + slices.Index(sortedRc, p.rhsContract[i])
	}
	return transposeIfNeeded(res, perm)
}

// dotGeneralRhsGrad is the dRhs of dotGeneralGrads.
func dotGeneralRhsGrad(lhs, rhs *graph.Node, p dotParams, v *graph.Node) *graph.Node {
	lhsCross := crossAxes(lhs.Rank(), p.lhsContract, p.lhsBatch)
	rhsCross := crossAxes(rhs.Rank(), p.rhsContract, p.rhsBatch)
	nb := len(p.lhsBatch)
	vBatch := seq(0, nb)
	vLhsCross := seq(nb, len(lhsCross))

	// Result layout [batch..., lhs contracting axes in increasing order, rhsCross...].
	res := DotGeneral(lhs, lhsCross, p.lhsBatch, v, vLhsCross, vBatch)
	sortedLc := slices.Sorted(slices.Values(p.lhsContract))
	nc := len(p.lhsContract)
	perm := make([]int, rhs.Rank())
	for i, a := range p.rhsBatch {
		perm[a] = i
	}
	for i, a := range p.rhsContract {
		perm[a] = nb + slices.Index(sortedLc, p.lhsContract[i])
	}
	for j, a := range rhsCross {
		perm[a] = nb + nc + j
	}
	return transposeIfNeeded(res, perm)
}

// sliceRule is the VJP of a Slice node: the adjoint scattered back into a zero tensor of the
// input's shape, built with graph.Concatenate and graph.Reshape only (see scatterSlice).
func sliceRule(node *graph.Node, v []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	if sw, ok := lookup[*shiftWindow](node); ok {
		if sw.primary {
			return []*graph.Node{shiftSumAdjoint(v[0], sw)}
		}
		return []*graph.Node{nil}
	}
	p, ok := lookup[sliceParams](node)
	if !ok {
		return orig.slice(node, v, outputShape)
	}
	return []*graph.Node{scatterSlice(v[0], node.Inputs()[0].Shape(), p)}
}

// scatterSlice places v, the result shape of a slice with params p of a tensor shaped full, at
// the positions the slice read from, zeros elsewhere. Per axis with stride s > 1 it interleaves
// s-1 zeros after each element (Concatenate on a new axis, then Reshape); then it trims (with a
// recorded Slice) or zero-pads (PadAxis) to the input's extent.
func scatterSlice(v *graph.Node, full shapes.Shape, p sliceParams) *graph.Node {
	out := v
	for axis := range full.Rank() {
		start, stride, dim := p.starts[axis], max(p.strides[axis], 1), full.Dimensions[axis]
		if stride > 1 {
			n := out.Shape().Dimensions[axis]
			expanded := graph.InsertAxes(out, axis+1)
			zeros := expanded.Shape().Clone()
			zeros.Dimensions[axis+1] = stride - 1
			expanded = graph.Concatenate([]*graph.Node{expanded, graph.Zeros(out.Graph(), zeros)}, axis+1)
			dims := slices.Clone(out.Shape().Dimensions)
			dims[axis] = n * stride
			out = graph.Reshape(expanded, dims...)
		}
		length := out.Shape().Dimensions[axis]
		high := dim - start - length
		if high < 0 {
			out = sliceAxis(out, axis, 0, length+high)
			high = 0
		}
		out = PadAxis(out, axis, start, high)
	}
	return out
}

// rsqrtRule: d/dx x^(-1/2) = -1/2 · x^(-3/2) = -1/2 · y³ with y the node's output.
func rsqrtRule(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
	y3 := graph.Mul(node, graph.Mul(node, node))
	return []*graph.Node{graph.Mul(v[0], graph.MulScalar(y3, -0.5))}
}

// expm1Rule: d/dx (eˣ - 1) = eˣ = y + 1.
func expm1Rule(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
	return []*graph.Node{graph.Mul(v[0], graph.AddScalar(node, 1))}
}
