package nn

import (
	"testing"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// TestCountProducts checks the FLOP count against the textbook arithmetic of each case, worked
// out by hand (2·M·K·N per [M,K]x[K,N] product; a gradient adds 2·M·K·N per operand it is taken
// for, and an operand no root depends on costs nothing).
func TestCountProducts(t *testing.T) {
	const m, k, n = 6, 5, 4
	cases := []struct {
		name     string
		build    func(x, w *graph.Node) []*graph.Node // x [m, k], w [k, n]
		flops    float64
		products int
		unknown  int
	}{
		{"forward", func(x, w *graph.Node) []*graph.Node { return []*graph.Node{MatMul(x, w)} },
			2 * m * k * n, 1, 0},
		{"gradient in both operands", func(x, w *graph.Node) []*graph.Node {
			return graph.Gradient(graph.ReduceAllSum(graph.Sin(MatMul(x, w))), x, w)
		}, 6 * m * k * n, 3, 0},
		{"gradient in the weights only", func(x, w *graph.Node) []*graph.Node {
			return graph.Gradient(graph.ReduceAllSum(graph.Sin(MatMul(x, w))), w)
		}, 4 * m * k * n, 2, 0},
		{"shared product counted once", func(x, w *graph.Node) []*graph.Node {
			y := MatMul(x, w)
			return []*graph.Node{graph.Add(y, y), graph.Neg(y)}
		}, 2 * m * k * n, 1, 0},
		{"graph.Dot", func(x, w *graph.Node) []*graph.Node { return []*graph.Node{graph.Dot(x, w)} },
			2 * m * k * n, 1, 0},
		{"batched", func(x, w *graph.Node) []*graph.Node {
			a := graph.Reshape(graph.Concatenate([]*graph.Node{x, x, x}, 0), 3, m, k)
			b := graph.Reshape(graph.Concatenate([]*graph.Node{w, w, w}, 0), 3, k, n)
			return []*graph.Node{BatchMatMul(a, b)}
		}, 3 * 2 * m * k * n, 1, 0},
		{"not built by nn", func(x, w *graph.Node) []*graph.Node {
			return []*graph.Node{graph.DotGeneral(x, []int{1}, nil, w, []int{0}, nil)}
		}, 0, 1, 1},
	}
	be := gomlxtest.Backend(t, testGoConfig)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.NewGraph(be, "flops")
			defer g.Finalize()
			x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, m, k))
			w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, k, n))
			got := CountProducts(tc.build(x, w)...)
			if got.FLOPs != tc.flops || got.Products != tc.products || got.Unknown != tc.unknown {
				t.Errorf("got %+v, want FLOPs %v, Products %d, Unknown %d", got, tc.flops, tc.products, tc.unknown)
			}
		})
	}
}

// TestCountProductsConv checks that a 3x3 convolution on the portable backend counts as its
// im2col product, 2·(N·H·W)·(9·C)·O, forward, and three times that with the gradient in the
// input and the kernel.
func TestCountProductsConv(t *testing.T) {
	const batch, h, w, c, o = 2, 6, 4, 3, 5
	fwd := 2.0 * batch * h * w * 9 * c * o
	be := gomlxtest.Backend(t, testGoConfig)
	g := graph.NewGraph(be, "conv")
	defer g.Finalize()
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, batch, h, w, c))
	kernel := graph.Parameter(g, "k", shapes.Make(dtypes.Float32, 3, 3, c, o))
	y := Convolve2D(x, kernel, 1)
	if got := CountProducts(y); got.FLOPs != fwd || got.Unknown != 0 {
		t.Errorf("forward: got %+v, want %v FLOPs", got, fwd)
	}
	grads := graph.Gradient(graph.ReduceAllSum(graph.Sin(y)), x, kernel)
	if got := CountProducts(grads...); got.FLOPs != 3*fwd || got.Unknown != 0 {
		t.Errorf("gradients: got %+v, want %v FLOPs", got, 3*fwd)
	}
}
