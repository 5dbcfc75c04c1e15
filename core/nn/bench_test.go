package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// Benchmarks run on the pure-Go backend in float32. Each layer benchmark has a MatMulRef sibling:
// forward+backward of a plain matrix product [M,K]x[K,N] with the same FLOP count as the layer's
// own matrix products (6·M·K·N: the forward product, dA and dB), measured in the same run; the
// ratio of the two GFLOP/s figures is the "% of matmul rate" of docs/benchmarks-nn.md.
// GFLOP/s counts only the products' FLOPs, so copies, norms and activations show as lost rate.
//
//	go test -bench . -run XXX -benchtime 3x ./core/nn/

// benchGrad compiles loss = Σ fn(x...)⊙r and its gradient with respect to all inputs and all
// trainable variables, then times its execution; flops is the work per execution.
func benchGrad(b *testing.B, flops float64, fn gomlxtest.LayerFn, inputs ...*tensors.Tensor) {
	be := gomlxtest.Backend(b, testGoConfig)
	ctx := context.New().Checked(false)
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		b.Fatal(err)
	}
	n := len(inputs)
	out, _ := runCtx(b, be, 1, fn, inputs...)
	r := gomlxtest.RandTensor(rand.New(rand.NewPCG(1, 1)), dtypes.Float32, 1, out.Shape().Dimensions...)
	e := context.MustNewExec(be, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		loss := graph.ReduceAllSum(graph.Mul(fn(ctx, in[:n]), in[n]))
		wrt := append([]*graph.Node(nil), in[:n]...)
		for _, v := range gomlxtest.TrainableVars(ctx) {
			wrt = append(wrt, v.ValueGraph(loss.Graph()))
		}
		return graph.Gradient(loss, wrt...)
	})
	args := append(gomlxtest.AnySlice(inputs), r)
	release := func(ts []*tensors.Tensor) {
		for _, t := range ts {
			t.FinalizeAll()
		}
	}
	release(e.MustExec(args...)) // compile and initialize variables outside the timer
	b.ResetTimer()
	for range b.N {
		release(e.MustExec(args...))
	}
	b.StopTimer()
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// benchMatMulRef times forward+backward of [m,k]x[k,n] with this package's MatMul.
func benchMatMulRef(b *testing.B, m, k, n int) {
	rng := rand.New(rand.NewPCG(2, 2))
	benchGrad(b, 6*float64(m)*float64(k)*float64(n),
		func(_ *context.Context, in []*graph.Node) *graph.Node { return MatMul(in[0], in[1]) },
		gomlxtest.RandTensor(rng, dtypes.Float32, 1, m, k), gomlxtest.RandTensor(rng, dtypes.Float32, 1, k, n))
}

// Conv 3x3, 64->64 channels, 28x28, batch 64: the im2col product is [64·28·28, 576]x[576, 64].
const (
	convN, convHW, convC = 64, 28, 64
)

func BenchmarkConv3x3FwdBwd(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	m := convN * convHW * convHW
	benchGrad(b, 6*float64(m)*9*convC*convC,
		func(_ *context.Context, in []*graph.Node) *graph.Node { return Convolve2D(in[0], in[1], 1) },
		gomlxtest.RandTensor(rng, dtypes.Float32, 1, convN, convHW, convHW, convC),
		gomlxtest.RandTensor(rng, dtypes.Float32, 1, 3, 3, convC, convC))
}

func BenchmarkConv3x3MatMulRef(b *testing.B) {
	benchMatMulRef(b, convN*convHW*convHW, 9*convC, convC)
}

// Dense: [64·28·28, 64] -> 64 with bias, the per-pixel projection of a ResBlock.
func BenchmarkDenseFwdBwd(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	m := convN * convHW * convHW
	benchGrad(b, 6*float64(m)*convC*convC,
		func(ctx *context.Context, in []*graph.Node) *graph.Node { return Dense(ctx, in[0], convC, true) },
		gomlxtest.RandTensor(rng, dtypes.Float32, 1, m, convC))
}

func BenchmarkDenseMatMulRef(b *testing.B) {
	benchMatMulRef(b, convN*convHW*convHW, convC, convC)
}

// BenchmarkMatMulOriginalRule is the im2col product of a batch of 8 ([6272, 576]x[576, 64])
// built with graph.DotGeneral directly, so its gradient is GoMLX's original rule (broadcast
// multiply + reduce, materializing [6272, 576, 64]); BenchmarkMatMulNewRule is the same product
// with this package's rule.
func BenchmarkMatMulOriginalRule(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	const m = 8 * convHW * convHW
	benchGrad(b, 6*float64(m)*9*convC*convC,
		func(_ *context.Context, in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{1}, nil, in[1], []int{0}, nil)
		},
		gomlxtest.RandTensor(rng, dtypes.Float32, 1, m, 9*convC), gomlxtest.RandTensor(rng, dtypes.Float32, 1, 9*convC, convC))
}

func BenchmarkMatMulNewRule(b *testing.B) {
	benchMatMulRef(b, 8*convHW*convHW, 9*convC, convC)
}

// BenchmarkGroupNormFwdBwd normalizes [64, 28, 28, 64] in 32 groups. It has no matrix products;
// its GFLOP/s figure is the conv's FLOP count over its time, i.e. how it compares with the 3x3
// convolution on the same tensor.
func BenchmarkGroupNormFwdBwd(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 6))
	m := convN * convHW * convHW
	benchGrad(b, 6*float64(m)*9*convC*convC,
		func(ctx *context.Context, in []*graph.Node) *graph.Node {
			return GroupNorm(ctx, in[0], NormGroups(convC))
		},
		gomlxtest.RandTensor(rng, dtypes.Float32, 1, convN, convHW, convHW, convC))
}

// BenchmarkResBlockFwdBwd: ResBlock 64->64 channels on [64, 28, 28, 64] with a 256-wide time
// embedding; FLOPs are those of its two 3x3 convolutions and the embedding projection.
func BenchmarkResBlockFwdBwd(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 7))
	m := convN * convHW * convHW
	const tdim = 256
	benchGrad(b, 2*6*float64(m)*9*convC*convC+6*float64(convN)*tdim*convC,
		func(ctx *context.Context, in []*graph.Node) *graph.Node { return ResBlock(ctx, in[0], in[1], convC) },
		gomlxtest.RandTensor(rng, dtypes.Float32, 1, convN, convHW, convHW, convC), gomlxtest.RandTensor(rng, dtypes.Float32, 1, convN, tdim))
}

// BenchmarkMatMul1024Fwd is the forward product of two 1024x1024 matrices (2·1024³ FLOPs), the
// quiet-machine rate of SimpleGo's matmul quoted in docs/benchmarks-nn.md.
func BenchmarkMatMul1024Fwd(b *testing.B) {
	be := gomlxtest.Backend(b, testGoConfig)
	rng := rand.New(rand.NewPCG(8, 8))
	x := gomlxtest.RandTensor(rng, dtypes.Float32, 1, 1024, 1024)
	e := graph.MustNewExec(be, func(x, y *graph.Node) *graph.Node { return MatMul(x, y) })
	e.MustExec(x, x)[0].FinalizeAll()
	b.ResetTimer()
	for range b.N {
		e.MustExec(x, x)[0].FinalizeAll()
	}
	b.StopTimer()
	b.ReportMetric(2*1024*1024*1024*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkConvNarrow is forward+backward of a 3x3 convolution from 64 to 4 channels with bias
// on [16, 14, 14, 64] (the flow's last coupling layer at 28x28 images, hidden 64): the
// shift-sum formulation ConvolveBias2D picks for it (planConv) against im2col with the
// scattered gradient. GFLOP/s counts the k·k·C·O convolution arithmetic (6·M·9·64·4), the same
// for both, so the rates compare directly.
func BenchmarkConvNarrow(b *testing.B) {
	const n, hw, c, o = 16, 14, 64, 4
	flops := 6 * float64(n*hw*hw) * 9 * c * o
	for _, impl := range []struct {
		name string
		fn   func(x, k, b *graph.Node) *graph.Node
	}{
		{"shift-sum", func(x, k, b *graph.Node) *graph.Node { return convolveShiftSum(x, k, b) }},
		{"im2col", func(x, k, b *graph.Node) *graph.Node { return convolveIm2Col(x, k, b, 1, false) }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(9, 9))
			benchGrad(b, flops, func(_ *context.Context, in []*graph.Node) *graph.Node {
				return impl.fn(in[0], in[1], in[2])
			}, gomlxtest.RandTensor(rng, dtypes.Float32, 1, n, hw, hw, c), gomlxtest.RandTensor(rng, dtypes.Float32, 1, 3, 3, c, o),
				gomlxtest.RandTensor(rng, dtypes.Float32, 1, o))
		})
	}
}
