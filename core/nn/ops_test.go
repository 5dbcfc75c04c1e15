package nn

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// dotCases cover the layouts the DotGeneral rule must handle: plain and transposed operands,
// batch axes in any position, several contracting axes paired out of order, vectors, and an
// outer product (no contracting axis).
var dotCases = []struct {
	name                   string
	lhs, rhs               []int
	lhsC, lhsB, rhsC, rhsB []int
}{
	{name: "matmul", lhs: []int{5, 4}, rhs: []int{4, 3}, lhsC: []int{1}, rhsC: []int{0}},
	{name: "lhs-transposed", lhs: []int{4, 5}, rhs: []int{4, 3}, lhsC: []int{0}, rhsC: []int{0}},
	{name: "rhs-transposed", lhs: []int{5, 4}, rhs: []int{3, 4}, lhsC: []int{1}, rhsC: []int{1}},
	{name: "last-axis-rank4", lhs: []int{2, 3, 3, 4}, rhs: []int{4, 5}, lhsC: []int{-1}, rhsC: []int{0}},
	{name: "batched", lhs: []int{2, 5, 4}, rhs: []int{2, 4, 3}, lhsC: []int{2}, lhsB: []int{0}, rhsC: []int{1}, rhsB: []int{0}},
	{name: "batch-axes-moved", lhs: []int{5, 2, 4}, rhs: []int{4, 3, 2}, lhsC: []int{2}, lhsB: []int{1}, rhsC: []int{0}, rhsB: []int{2}},
	{name: "two-contracting-crossed", lhs: []int{3, 2, 4}, rhs: []int{4, 5, 2}, lhsC: []int{1, 2}, rhsC: []int{2, 0}},
	{name: "vector-dot", lhs: []int{4}, rhs: []int{4}, lhsC: []int{0}, rhsC: []int{0}},
	{name: "outer", lhs: []int{3}, rhs: []int{2}},
}

// TestDotGeneralRuleMatchesOriginal compares, graph-level and on the same node, the replacement
// DotGeneral VJP with GoMLX's original rule (which is correct, only slow) in float64.
// Tolerance 1e-12 absolute + relative: both sum the same products in different orders.
func TestDotGeneralRuleMatchesOriginal(t *testing.T) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range dotCases {
			t.Run(tc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 1))
				lhs := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.lhs...)
				rhs := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.rhs...)
				e := graph.MustNewExec(b, func(in []*graph.Node) []*graph.Node {
					out := DotGeneral(in[0], tc.lhsC, tc.lhsB, in[1], tc.rhsC, tc.rhsB)
					if !recorded(out) {
						t.Errorf("DotGeneral node not recorded")
					}
					// Also a node this package did not build: the rule must delegate to the original.
					plain := graph.DotGeneral(in[0], normalizeAxes(tc.lhsC, len(tc.lhs)), tc.lhsB,
						in[1], normalizeAxes(tc.rhsC, len(tc.rhs)), tc.rhsB)
					v := graph.Sin(graph.Add(graph.IotaFull(in[0].Graph(), out.Shape()), graph.ScalarOne(in[0].Graph(), dtypes.Float64)))
					scalar := shapes.Make(dtypes.Float64)
					res := dotGeneralRule(out, []*graph.Node{v}, scalar)
					res = append(res, graph.VJPRegistration[graph.NodeTypeDotGeneral](plain, []*graph.Node{v}, scalar)...)
					res = append(res, orig.dotGeneral(out, []*graph.Node{v}, scalar)...)
					return res
				})
				got := e.MustExec(lhs, rhs)
				for k, what := range []string{"lhs", "rhs"} {
					gomlxtest.AssertClose(t, "new rule d"+what, gomlxtest.Flat64(got[k]), gomlxtest.Flat64(got[4+k]), 1e-12, 1e-12)
					gomlxtest.AssertClose(t, "fallback d"+what, gomlxtest.Flat64(got[2+k]), gomlxtest.Flat64(got[4+k]), 0, 0)
				}
			})
		}
	})
}

// TestDotRuleMatchesOriginal does the same for graph.Dot nodes (used by graph.MatMul and
// layers.Dense), whose rule is replaced for every node.
func TestDotRuleMatchesOriginal(t *testing.T) {
	cases := []struct {
		name     string
		lhs, rhs []int
	}{
		{"matrix-matrix", []int{5, 4}, []int{4, 3}},
		{"matrix-vector", []int{5, 4}, []int{4}},
		{"vector-vector", []int{4}, []int{4}},
	}
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 2))
				e := graph.MustNewExec(b, func(in []*graph.Node) []*graph.Node {
					out := graph.Dot(in[0], in[1])
					v := graph.Cos(graph.IotaFull(in[0].Graph(), out.Shape()))
					scalar := shapes.Make(dtypes.Float64)
					return append(dotRule(out, []*graph.Node{v}, scalar), orig.dot(out, []*graph.Node{v}, scalar)...)
				})
				got := e.MustExec(gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.lhs...), gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.rhs...))
				gomlxtest.AssertClose(t, "dlhs", gomlxtest.Flat64(got[0]), gomlxtest.Flat64(got[2]), 1e-12, 1e-12)
				gomlxtest.AssertClose(t, "drhs", gomlxtest.Flat64(got[1]), gomlxtest.Flat64(got[3]), 1e-12, 1e-12)
			})
		}
	})
}

// sliceCases include strides that leave a remainder, so the gradient needs both the trimming and
// the padding branch of scatterSlice.
var sliceCases = []struct {
	name                    string
	dims                    []int
	starts, limits, strides []int
}{
	{"inner-window", []int{3, 6, 5}, []int{0, 1, 2}, []int{3, 5, 5}, nil},
	{"stride2-even", []int{2, 8, 8, 3}, []int{0, 0, 1, 0}, []int{2, 8, 8, 3}, []int{1, 2, 2, 1}},
	{"stride3-trim", []int{7, 4}, []int{1, 0}, []int{7, 3}, []int{3, 2}},
	{"stride2-last-kept", []int{5, 3}, []int{0, 1}, []int{5, 3}, []int{2, 1}},
}

// TestSliceValuesAndGradient checks Slice against direct indexing (exact) and its gradient
// against the scatter of the adjoint computed in plain Go (exact: only copies and zeros).
// GoMLX's own Slice gradient cannot serve as reference on SimpleGo (it needs Pad).
func TestSliceValuesAndGradient(t *testing.T) {
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range sliceCases {
			t.Run(tc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 3))
				x := gomlxtest.RandTensor(rng, dtypes.Float64, 1, tc.dims...)
				var outDims []int
				e := graph.MustNewExec(b, func(x, r *graph.Node) []*graph.Node {
					out := Slice(x, tc.starts, tc.limits, tc.strides)
					return []*graph.Node{out, graph.Gradient(graph.ReduceAllSum(graph.Mul(out, r)), x)[0]}
				})
				strides := tc.strides
				if strides == nil {
					strides = []int{1, 1, 1, 1}[:len(tc.dims)]
				}
				for a := range tc.dims {
					outDims = append(outDims, (tc.limits[a]-tc.starts[a]+strides[a]-1)/strides[a])
				}
				r := gomlxtest.RandTensor(rng, dtypes.Float64, 1, outDims...)
				got := e.MustExec(x, r)
				// Reference: walk the output index space.
				xs, rs := gomlxtest.Flat64(x), gomlxtest.Flat64(r)
				wantOut := make([]float64, len(rs))
				wantGrad := make([]float64, len(xs))
				idx := make([]int, len(outDims))
				for o := range rs {
					rem, src := o, 0
					for a := len(outDims) - 1; a >= 0; a-- {
						idx[a] = rem % outDims[a]
						rem /= outDims[a]
					}
					for a := range tc.dims {
						src = src*tc.dims[a] + tc.starts[a] + idx[a]*strides[a]
					}
					wantOut[o] = xs[src]
					wantGrad[src] += rs[o]
				}
				gomlxtest.AssertClose(t, "slice values", gomlxtest.Flat64(got[0]), wantOut, 0, 0)
				gomlxtest.AssertClose(t, "slice gradient", gomlxtest.Flat64(got[1]), wantGrad, 0, 0)
			})
		}
	})
}

// TestOpsFiniteDifferences checks the gradients of the wrappers and of the added unary rules
// against central finite differences in float64 (tolerance in gomlxtest.GradCheck).
func TestOpsFiniteDifferences(t *testing.T) {
	cases := []struct {
		name string
		fn   gomlxtest.LayerFn
		dims [][]int
	}{
		{"matmul", func(_ *context.Context, in []*graph.Node) *graph.Node { return MatMul(in[0], in[1]) },
			[][]int{{2, 3, 4}, {4, 5}}},
		{"batch-matmul", func(_ *context.Context, in []*graph.Node) *graph.Node { return BatchMatMul(in[0], in[1]) },
			[][]int{{2, 3, 4}, {2, 4, 2}}},
		{"pad-axis", func(_ *context.Context, in []*graph.Node) *graph.Node { return PadAxis(in[0], 1, 2, 1) },
			[][]int{{2, 3, 2}}},
		{"strided-slice", func(_ *context.Context, in []*graph.Node) *graph.Node {
			return Slice(in[0], []int{0, 1, 0}, []int{2, 7, 3}, []int{1, 2, 2})
		}, [][]int{{2, 7, 3}}},
		{"rsqrt", func(_ *context.Context, in []*graph.Node) *graph.Node {
			return graph.Rsqrt(graph.AddScalar(graph.Square(in[0]), 0.5))
		}, [][]int{{3, 4}}},
		{"tanh-log-sqrt-div", func(_ *context.Context, in []*graph.Node) *graph.Node {
			sq := graph.AddScalar(graph.Square(in[0]), 1)
			return graph.Add(graph.Tanh(in[0]), graph.Div(graph.Log(sq), graph.Sqrt(sq)))
		}, [][]int{{3, 4}}},
		{"softmax", func(_ *context.Context, in []*graph.Node) *graph.Node { return Softmax(in[0], -1) },
			[][]int{{2, 3, 5}}},
		{"silu", func(_ *context.Context, in []*graph.Node) *graph.Node { return SiLU(in[0]) },
			[][]int{{3, 4}}},
		{"expm1", func(_ *context.Context, in []*graph.Node) *graph.Node { return graph.Expm1(in[0]) },
			[][]int{{3, 4}}},
	}
	gomlxtest.ForEachBackend(t, testGoConfig, func(t *testing.T, b backends.Backend) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 4))
				var ins []*tensors.Tensor
				for _, d := range tc.dims {
					ins = append(ins, gomlxtest.RandTensor(rng, dtypes.Float64, 1, d...))
				}
				gomlxtest.GradCheck(t, b, uint64(i), tc.fn, ins...)
			})
		}
	})
}

// TestNodeTableReleasesNodes checks that recorded parameters do not outlive their graph.
func TestNodeTableReleasesNodes(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	size := func() int {
		nodeTable.Lock()
		defer nodeTable.Unlock()
		return len(nodeTable.m)
	}
	build := func() {
		g := graph.NewGraph(b, "table")
		x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 64, 8))
		for range 100 {
			x = MatMul(x, graph.Ones(g, shapes.Make(dtypes.Float32, 8, 8)))
		}
	}
	build()
	for range 50 {
		runtime.GC()
		if size() < 100 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("node table still holds %d entries after the graph was dropped", size())
}
