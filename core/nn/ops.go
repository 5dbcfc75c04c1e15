package nn

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// PortableBackend is the registration name of GoMLX's pure-Go backend (SimpleGo), the one on
// which this package replaces native ops by portable formulations.
const PortableBackend = "go"

// PortableBackendConfig is the configuration to create the pure-Go backend with
// (backends.NewWithConfig). SimpleGo v0.26.0 executes independent ops concurrently in a pool of
// 2·NumCPU goroutines when one program runs; ops that split their own work (batched DotGeneral,
// large unary ops) wait inside that pool for a free goroutine without yielding their own, so a
// graph with enough concurrently ready such ops (an attention block's gradient on a 2-core
// machine) deadlocks with the default settings. "parallelism=-1" makes the pool unbounded: a
// task starts at once in its own goroutine, nothing waits for a slot, and Go's scheduler spreads
// the goroutines over the cores. "ops_parallel" then runs independent ops at the same time,
// which fills the cores where one op alone does not (narrow products, element-wise ops): the
// joint training step at flowdiff.yaml's sizes is 1.17x faster than with ops run one after the
// other ("go:ops_sequential", the former setting), AmbientFlow's 1.30x (docs/benchmarks-nn.md).
const PortableBackendConfig = PortableBackend + ":ops_parallel,parallelism=-1"

// PortableOps reports whether layers built in g should use the portable formulations (im2col
// convolutions, Concatenate-based slice gradients): true on the pure-Go backend, false on
// backends with complete native ops (xla). It is decided by the backend's registration name.
func PortableOps(g *graph.Graph) bool {
	return g.Backend().String() == PortableBackend
}

// DotGeneral is graph.DotGeneral whose gradient is two DotGenerals (dLhs = v·rhsᵀ,
// dRhs = lhsᵀ·v, generalized to any batch and contracting axes) instead of GoMLX's
// broadcast-multiply-reduce. Axes may be negative. The output is laid out
// [batch..., lhs free axes..., rhs free axes...], as graph.DotGeneral's.
//
// The fast gradient applies on every backend: it is the textbook rule, and what XLA itself
// would pick.
func DotGeneral(lhs *graph.Node, lhsContract, lhsBatch []int, rhs *graph.Node, rhsContract, rhsBatch []int) *graph.Node {
	p := dotParams{
		lhsContract: normalizeAxes(lhsContract, lhs.Rank()),
		lhsBatch:    normalizeAxes(lhsBatch, lhs.Rank()),
		rhsContract: normalizeAxes(rhsContract, rhs.Rank()),
		rhsBatch:    normalizeAxes(rhsBatch, rhs.Rank()),
	}
	out := graph.DotGeneral(lhs, p.lhsContract, p.lhsBatch, rhs, p.rhsContract, p.rhsBatch)
	if out.Type() == graph.NodeTypeDotGeneral {
		record(out, p)
	}
	return out
}

// MatMul multiplies the last axis of x, shaped [..., K], by the matrix w, shaped [K, M], giving
// [..., M], with the fast gradient of DotGeneral.
func MatMul(x, w *graph.Node) *graph.Node {
	if w.Rank() != 2 || x.Rank() < 1 || x.Shape().Dimensions[x.Rank()-1] != w.Shape().Dimensions[0] {
		panic(fmt.Sprintf("nn.MatMul: cannot multiply %s by %s: want x [..., K] and w [K, M]", x.Shape(), w.Shape()))
	}
	return DotGeneral(x, []int{-1}, nil, w, []int{0}, nil)
}

// BatchMatMul multiplies a, shaped [B, N, K], by b, shaped [B, K, M], giving [B, N, M]: one
// matrix product per batch entry, with the fast gradient of DotGeneral.
func BatchMatMul(a, b *graph.Node) *graph.Node {
	return DotGeneral(a, []int{2}, []int{0}, b, []int{1}, []int{0})
}

// Slice returns x[starts[i]:limits[i]:strides[i]] on every axis i (strides may be nil for all
// ones; a stride of 0 means 1). On the portable backend its gradient scatters the adjoint back by
// zero Concatenation (and zero interleaving for strides > 1) instead of Pad, which SimpleGo
// lacks; on other backends it is graph.Slice with its native gradient.
func Slice(x *graph.Node, starts, limits, strides []int) *graph.Node {
	rank := x.Rank()
	if len(starts) != rank || len(limits) != rank || (strides != nil && len(strides) != rank) {
		panic(fmt.Sprintf("nn.Slice: x %s needs %d starts, limits (and strides), got %v, %v, %v",
			x.Shape(), rank, starts, limits, strides))
	}
	p := sliceParams{starts: slices.Clone(starts), limits: slices.Clone(limits), strides: make([]int, rank)}
	specs := make([]graph.SliceAxisSpec, rank)
	for i, dim := range x.Shape().Dimensions {
		p.strides[i] = 1
		if strides != nil && strides[i] > 1 {
			p.strides[i] = strides[i]
		}
		if starts[i] < 0 || limits[i] > dim || starts[i] >= limits[i] {
			panic(fmt.Sprintf("nn.Slice: axis %d range [%d, %d) is empty or outside [0, %d) of x %s",
				i, starts[i], limits[i], dim, x.Shape()))
		}
		specs[i] = graph.SliceAxisSpec{Start: starts[i], End: limits[i], StrideValue: p.strides[i]}
	}
	out := graph.Slice(x, specs...)
	if PortableOps(x.Graph()) && out.Type() == graph.NodeTypeSlice {
		record(out, p)
	}
	return out
}

// sliceAxis slices x[start:limit] on one axis, keeping the others whole.
func sliceAxis(x *graph.Node, axis, start, limit int) *graph.Node {
	starts := make([]int, x.Rank())
	limits := slices.Clone(x.Shape().Dimensions)
	starts[axis], limits[axis] = start, limit
	return Slice(x, starts, limits, nil)
}

// PadAxis adds lo zeros before and hi zeros after x along axis, by Concatenate (SimpleGo has no
// Pad op); its gradient is a Slice of the adjoint, which needs no Pad either.
func PadAxis(x *graph.Node, axis, lo, hi int) *graph.Node {
	axis = normalizeAxis(axis, x.Rank())
	if lo == 0 && hi == 0 {
		return x
	}
	parts := make([]*graph.Node, 0, 3)
	zeros := func(n int) *graph.Node {
		s := x.Shape().Clone()
		s.Dimensions[axis] = n
		return graph.Zeros(x.Graph(), s)
	}
	if lo > 0 {
		parts = append(parts, zeros(lo))
	}
	parts = append(parts, x)
	if hi > 0 {
		parts = append(parts, zeros(hi))
	}
	return graph.Concatenate(parts, axis)
}

// normalizeAxis maps a negative axis to rank+axis and panics when out of range.
func normalizeAxis(axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panic(fmt.Sprintf("nn: axis %d out of range for rank %d", axis, rank))
	}
	return axis
}

// normalizeAxes applies normalizeAxis to each axis; nil stays nil.
func normalizeAxes(axes []int, rank int) []int {
	if axes == nil {
		return nil
	}
	out := make([]int, len(axes))
	for i, a := range axes {
		out[i] = normalizeAxis(a, rank)
	}
	return out
}

// shapeOf is a convenience for shapes.Make with the dtype of x.
func shapeOf(x *graph.Node, dims ...int) shapes.Shape {
	return shapes.Make(x.DType(), dims...)
}

// SiLU is the sigmoid-weighted linear unit x·σ(x) (Swish; Elfwing et al. 2018), DDPM's
// nonlinearity. Its gradient uses the Logistic rule.
func SiLU(x *graph.Node) *graph.Node {
	return graph.Mul(x, graph.Logistic(x))
}

// Softmax normalizes exp(x) along axis. The maximum subtracted for stability is wrapped in
// StopGradient: it cancels out of the value, so its (ReduceMax) gradient is not needed.
func Softmax(x *graph.Node, axis int) *graph.Node {
	axis = normalizeAxis(axis, x.Rank())
	m := graph.StopGradient(graph.ReduceAndKeep(x, graph.ReduceMax, axis))
	e := graph.Exp(graph.Sub(x, m))
	return graph.Div(e, graph.ReduceAndKeep(e, graph.ReduceSum, axis))
}
