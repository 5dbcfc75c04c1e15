package flow

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// convNarrow is a 3x3 "same" convolution with bias, the same map and the same variables as
// nn.Conv2D(ctx, x, outChannels, 3, 1, true) (weights [3, 3, in, out] under ctx.In(nn.ConvScope),
// context initializer; biases zeros), computed for few output channels.
//
// nn.Conv2D's im2col on the portable backend copies nine shifted windows of the in-channel input,
// and its backward scatters nine in-channel adjoints; when out < in (the coupling networks' last
// layer: Hidden -> 2·⌈C/2⌉ channels) it is cheaper to multiply first and shift after:
//
//	P = x·K̃,  K̃ [in, 9·out] the kernel with taps moved next to the output channels,
//	y[i, j, o] = b[o] + Σ_{dy,dx} P₀[i+dy, j+dx, (3·dy+dx)·out + o],  P₀ = P zero-padded by 1,
//
// one matmul and nine out-channel windows (measured on the portable backend, 16x14x14, 32 -> 4
// channels: forward+backward 20 ms against 53 ms for im2col). Other backends and out >= in use
// nn.Convolve2D.
func convNarrow(ctx *context.Context, x *graph.Node, outChannels int) *graph.Node {
	ctx = ctx.In(nn.ConvScope)
	g := x.Graph()
	d := x.Shape().Dimensions
	n, h, w, in := d[0], d[1], d[2], d[3]
	kernel := ctx.VariableWithShape("weights", shapes.Make(x.DType(), 3, 3, in, outChannels)).ValueGraph(g)
	bias := ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapes.Make(x.DType(), outChannels)).ValueGraph(g)
	var y *graph.Node
	if !nn.PortableOps(g) || outChannels >= in {
		y = nn.Convolve2D(x, kernel, 1)
	} else {
		k := graph.Reshape(graph.TransposeAllAxes(kernel, 2, 0, 1, 3), in, 9*outChannels)
		p := nn.PadAxis(nn.PadAxis(nn.MatMul(x, k), 1, 1, 1), 2, 1, 1)
		for dy := range 3 {
			for dx := range 3 {
				tap := 3*dy + dx
				win := nn.Slice(p, []int{0, dy, dx, tap * outChannels}, []int{n, dy + h, dx + w, (tap + 1) * outChannels}, nil)
				if y == nil {
					y = win
				} else {
					y = graph.Add(y, win)
				}
			}
		}
	}
	return graph.Add(y, graph.ExpandLeftToRank(bias, 4))
}
