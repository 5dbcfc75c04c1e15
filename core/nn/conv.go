package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors/images"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// ConvScope is the scope Conv2D creates its variables under.
const ConvScope = "conv"

// Conv2D is a 2-D convolution (cross-correlation, as in every DL framework) of x, shaped
// [batch, height, width, inChannels], with a learned kernel of odd size k and stride s, zero
// padding p = (k-1)/2 on each side:
//
//	y[n, i, j, o] = b[o] + Σ_{dy,dx<k, c} x[n, s·i+dy-p, s·j+dx-p, c] · K[dy, dx, c, o]
//
// giving [batch, ⌊(H-1)/s⌋+1, ⌊(W-1)/s⌋+1, outChannels]: "same" size for s = 1, PyTorch's
// Conv2d(k, stride=s, padding=k//2) otherwise. Variables, under ctx.In(ConvScope):
//
//	weights [k, k, inChannels, outChannels]  context initializer (GoMLX default: He normal)
//	biases  [outChannels]                    zeros (only when bias is true)
//
// See Convolve2D for how it is computed on each backend.
func Conv2D(ctx *context.Context, x *graph.Node, outChannels, kernelSize, stride int, bias bool) *graph.Node {
	checkNHWC("Conv2D", x)
	ctx = ctx.In(ConvScope)
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	kernel := ctx.VariableWithShape("weights", shapeOf(x, kernelSize, kernelSize, c, outChannels)).ValueGraph(g)
	y := Convolve2D(x, kernel, stride)
	if bias {
		b := ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapeOf(x, outChannels)).ValueGraph(g)
		y = graph.Add(y, graph.ExpandLeftToRank(b, 4))
	}
	return y
}

// ConvNarrow is a 3x3 "same" convolution with bias, the same map and the same variables as
// Conv2D(ctx, x, outChannels, 3, 1, true) (weights [3, 3, in, out] under ctx.In(ConvScope),
// context initializer; biases zeros), computed for few output channels.
//
// Conv2D's im2col on the portable backend copies nine shifted windows of the in-channel input,
// and its backward scatters nine in-channel adjoints; when out < in (for example the last layer
// of a flow's coupling network: hidden -> 2·⌈C/2⌉ channels) it is cheaper to multiply first and
// shift after:
//
//	P = x·K̃,  K̃ [in, 9·out] the kernel with taps moved next to the output channels,
//	y[i, j, o] = b[o] + Σ_{dy,dx} P₀[i+dy, j+dx, (3·dy+dx)·out + o],  P₀ = P zero-padded by 1,
//
// one matmul and nine out-channel windows (measured on the portable backend, 16x14x14, 32 -> 4
// channels: forward+backward 20 ms against 53 ms for im2col; BenchmarkConvNarrow). Other
// backends and out >= in use Convolve2D.
func ConvNarrow(ctx *context.Context, x *graph.Node, outChannels int) *graph.Node {
	checkNHWC("ConvNarrow", x)
	ctx = ctx.In(ConvScope)
	g := x.Graph()
	d := x.Shape().Dimensions
	n, h, w, in := d[0], d[1], d[2], d[3]
	kernel := ctx.VariableWithShape("weights", shapeOf(x, 3, 3, in, outChannels)).ValueGraph(g)
	bias := ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapeOf(x, outChannels)).ValueGraph(g)
	var y *graph.Node
	if !PortableOps(g) || outChannels >= in {
		y = Convolve2D(x, kernel, 1)
	} else {
		k := graph.Reshape(graph.TransposeAllAxes(kernel, 2, 0, 1, 3), in, 9*outChannels)
		p := PadAxis(PadAxis(MatMul(x, k), 1, 1, 1), 2, 1, 1)
		for dy := range 3 {
			for dx := range 3 {
				tap := 3*dy + dx
				win := Slice(p, []int{0, dy, dx, tap * outChannels}, []int{n, dy + h, dx + w, (tap + 1) * outChannels}, nil)
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

// Convolve2D convolves x [N, H, W, C] with kernel [k, k, C, O] (k odd) at stride s with zero
// padding (k-1)/2, as documented in Conv2D, without bias.
//
// On the portable backend (PortableOps) it is im2col: zero padding by Concatenate, the k·k
// shifted (strided) windows by Slice, their concatenation along channels into
// [N, Ho, Wo, k·k·C] (order dy, dx, c: the kernel's row-major order) and one MatMul with the
// kernel reshaped to [k·k·C, O]. Its gradient is two matmuls plus copies, so it trains at close
// to the matmul rate; it holds a k·k times larger activation. On other backends it is
// graph.Convolve, the native op, with the same padding and stride.
func Convolve2D(x, kernel *graph.Node, stride int) *graph.Node {
	checkNHWC("Convolve2D", x)
	kd := kernel.Shape().Dimensions
	if kernel.Rank() != 4 || kd[0] != kd[1] || kd[0]%2 == 0 || kd[2] != x.Shape().Dimensions[3] || stride < 1 {
		panic(fmt.Sprintf("nn.Convolve2D: need an odd square kernel [k, k, %d, O] and stride >= 1, got kernel %s, stride %d",
			x.Shape().Dimensions[3], kernel.Shape(), stride))
	}
	if PortableOps(x.Graph()) {
		return convolveIm2Col(x, kernel, stride)
	}
	return convolveNative(x, kernel, stride)
}

// convolveNative is Convolve2D with graph.Convolve.
func convolveNative(x, kernel *graph.Node, stride int) *graph.Node {
	p := (kernel.Shape().Dimensions[0] - 1) / 2
	return graph.Convolve(x, kernel).ChannelsAxis(images.ChannelsLast).
		Strides(stride).PaddingPerDim([][2]int{{p, p}, {p, p}}).Done()
}

// convolveIm2Col is Convolve2D as im2col + MatMul (see Convolve2D).
func convolveIm2Col(x, kernel *graph.Node, stride int) *graph.Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	k, o := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[3]
	p := (k - 1) / 2
	ho, wo := (h-1)/stride+1, (w-1)/stride+1
	xp := PadAxis(PadAxis(x, 1, p, p), 2, p, p)
	cols := xp
	if k > 1 || stride > 1 {
		windows := make([]*graph.Node, 0, k*k)
		for dy := range k {
			for dx := range k {
				windows = append(windows, Slice(xp,
					[]int{0, dy, dx, 0},
					[]int{n, dy + (ho-1)*stride + 1, dx + (wo-1)*stride + 1, c},
					[]int{1, stride, stride, 1}))
			}
		}
		cols = graph.Concatenate(windows, 3)
	}
	return MatMul(cols, graph.Reshape(kernel, k*k*c, o))
}

// AvgPool2 averages x [N, H, W, C] over non-overlapping 2x2 windows, giving [N, H/2, W/2, C]
// (H and W even), with Reshape and ReduceSum only.
func AvgPool2(x *graph.Node) *graph.Node {
	checkNHWC("AvgPool2", x)
	d := x.Shape().Dimensions
	if d[1]%2 != 0 || d[2]%2 != 0 {
		panic(fmt.Sprintf("nn.AvgPool2: height and width must be even, got %s", x.Shape()))
	}
	y := graph.Reshape(x, d[0], d[1]/2, 2, d[2]/2, 2, d[3])
	return graph.MulScalar(graph.ReduceSum(y, 2, 4), 0.25)
}

// Upsample2 repeats each pixel of x [N, H, W, C] into a 2x2 block (nearest neighbour), giving
// [N, 2H, 2W, C], with Reshape and a broadcast (whose gradient is a ReduceSum).
func Upsample2(x *graph.Node) *graph.Node {
	checkNHWC("Upsample2", x)
	d := x.Shape().Dimensions
	y := graph.Reshape(x, d[0], d[1], 1, d[2], 1, d[3])
	y = graph.BroadcastToDims(y, d[0], d[1], 2, d[2], 2, d[3])
	return graph.Reshape(y, d[0], 2*d[1], 2*d[2], d[3])
}

// Downsample halves the spatial size of x [N, H, W, C]: a 3x3 convolution of stride 2 to
// outChannels (DDPM's downsampling), variables under ctx.In("downsample").
func Downsample(ctx *context.Context, x *graph.Node, outChannels int) *graph.Node {
	return Conv2D(ctx.In("downsample"), x, outChannels, 3, 2, true)
}

// Upsample doubles the spatial size of x [N, H, W, C]: nearest-neighbour Upsample2 then a 3x3
// convolution to outChannels (DDPM's upsampling), variables under ctx.In("upsample").
func Upsample(ctx *context.Context, x *graph.Node, outChannels int) *graph.Node {
	return Conv2D(ctx.In("upsample"), Upsample2(x), outChannels, 3, 1, true)
}

// SpaceToDepth moves each f x f spatial block of x [N, H, W, C] into channels, giving
// [N, H/f, W/f, f·f·C] with channel index (dy·f + dx)·C + c (Glow's "squeeze"; H and W divisible
// by f). It is a permutation, so it is invertible (DepthToSpace) with log-determinant 0.
func SpaceToDepth(x *graph.Node, f int) *graph.Node {
	checkNHWC("SpaceToDepth", x)
	d := x.Shape().Dimensions
	if f < 1 || d[1]%f != 0 || d[2]%f != 0 {
		panic(fmt.Sprintf("nn.SpaceToDepth: height and width of %s must be divisible by %d", x.Shape(), f))
	}
	y := graph.Reshape(x, d[0], d[1]/f, f, d[2]/f, f, d[3])
	y = graph.TransposeAllAxes(y, 0, 1, 3, 2, 4, 5)
	return graph.Reshape(y, d[0], d[1]/f, d[2]/f, f*f*d[3])
}

// DepthToSpace is the inverse of SpaceToDepth: [N, H, W, f·f·C] to [N, f·H, f·W, C].
func DepthToSpace(x *graph.Node, f int) *graph.Node {
	checkNHWC("DepthToSpace", x)
	d := x.Shape().Dimensions
	if f < 1 || d[3]%(f*f) != 0 {
		panic(fmt.Sprintf("nn.DepthToSpace: channels of %s must be divisible by %d", x.Shape(), f*f))
	}
	c := d[3] / (f * f)
	y := graph.Reshape(x, d[0], d[1], d[2], f, f, c)
	y = graph.TransposeAllAxes(y, 0, 1, 3, 2, 4, 5)
	return graph.Reshape(y, d[0], d[1]*f, d[2]*f, c)
}

// checkNHWC panics unless x has rank 4.
func checkNHWC(op string, x *graph.Node) {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("nn.%s: want x shaped [batch, height, width, channels], got %s", op, x.Shape()))
	}
}
