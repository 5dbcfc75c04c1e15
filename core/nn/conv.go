package nn

import (
	"fmt"
	"weak"

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
// See ConvolveBias2D for how it is computed on each backend.
func Conv2D(ctx *context.Context, x *graph.Node, outChannels, kernelSize, stride int, bias bool) *graph.Node {
	checkNHWC("Conv2D", x)
	ctx = ctx.In(ConvScope)
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	kernel := ctx.VariableWithShape("weights", shapeOf(x, kernelSize, kernelSize, c, outChannels)).ValueGraph(g)
	var b *graph.Node
	if bias {
		b = ctx.WithInitializer(initializers.Zero).VariableWithShape("biases", shapeOf(x, outChannels)).ValueGraph(g)
	}
	return ConvolveBias2D(x, kernel, b, stride)
}

// Convolve2D convolves x [N, H, W, C] with kernel [k, k, C, O] (k odd) at stride s with zero
// padding (k-1)/2, as documented in Conv2D, without bias: ConvolveBias2D(x, kernel, nil, s).
func Convolve2D(x, kernel *graph.Node, stride int) *graph.Node {
	return ConvolveBias2D(x, kernel, nil, stride)
}

// ConvolveBias2D is Convolve2D plus the bias [O] (nil for none) added to every output pixel.
//
// On the portable backend (PortableOps) it is im2col: zero padding by Concatenate, the k·k
// shifted (strided) windows by Slice, their concatenation along channels into
// [N, Ho, Wo, k·k·C (+1)] (order dy, dx, c: the kernel's row-major order; the last channel is
// ones when there is a bias) and one MatMul with the kernel reshaped to [k·k·C, O] (with the
// bias as its last row). So the bias costs one more contraction term, not a broadcast add
// (SimpleGo broadcasts element by element through an index iterator, 10-20x slower than a
// copy), and its gradient is part of the kernel's product instead of a reduction.
//
// At stride 1 the centre window is x itself, and, when it is the cheaper way (planConv), the
// gradient in x is computed as the transposed convolution of the output's adjoint v,
//
//	dx = conv(v, K'),  K'[dy, dx, o, c] = K[k-1-dy, k-1-dx, c, o]   (same padding, stride 1)
//
// another im2col product, instead of scattering the adjoint of each of the k·k windows back
// (two zero-padding copies and an add per window): see convRule. Wide-to-narrow convolutions
// multiply first and add shifted windows of the product (convolveShiftSum). Strided
// convolutions scatter. On other backends it is graph.Convolve, the native op, with the same
// padding and stride.
func ConvolveBias2D(x, kernel, bias *graph.Node, stride int) *graph.Node {
	checkNHWC("Convolve2D", x)
	kd := kernel.Shape().Dimensions
	if kernel.Rank() != 4 || kd[0] != kd[1] || kd[0]%2 == 0 || kd[2] != x.Shape().Dimensions[3] || stride < 1 {
		panic(fmt.Sprintf("nn.Convolve2D: need an odd square kernel [k, k, %d, O] and stride >= 1, got kernel %s, stride %d",
			x.Shape().Dimensions[3], kernel.Shape(), stride))
	}
	if bias != nil && (bias.Rank() != 1 || bias.Shape().Dimensions[0] != kd[3]) {
		panic(fmt.Sprintf("nn.Convolve2D: bias must be [%d], got %s", kd[3], bias.Shape()))
	}
	if PortableOps(x.Graph()) {
		switch plan := planConv(kd[0], kd[2], kd[3], stride); plan {
		case shiftSum:
			return convolveShiftSum(x, kernel, bias)
		default:
			return convolveIm2Col(x, kernel, bias, stride, plan == im2colTransposed)
		}
	}
	y := convolveNative(x, kernel, stride)
	if bias != nil {
		y = graph.Add(y, graph.ExpandLeftToRank(bias, 4))
	}
	return y
}

// convolveNative is Convolve2D with graph.Convolve.
func convolveNative(x, kernel *graph.Node, stride int) *graph.Node {
	p := (kernel.Shape().Dimensions[0] - 1) / 2
	return graph.Convolve(x, kernel).ChannelsAxis(images.ChannelsLast).
		Strides(stride).PaddingPerDim([][2]int{{p, p}, {p, p}}).Done()
}

// convolveIm2Col is ConvolveBias2D as im2col + MatMul (see ConvolveBias2D); at stride 1 with
// transposed set, the gradient in x is the transposed convolution (see convRule).
func convolveIm2Col(x, kernel, bias *graph.Node, stride int, transposed bool) *graph.Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	k, o := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[3]
	p := (k - 1) / 2
	ho, wo := (h-1)/stride+1, (w-1)/stride+1
	kmat := graph.Reshape(kernel, k*k*c, o)
	if bias != nil {
		kmat = graph.Concatenate([]*graph.Node{kmat, graph.Reshape(bias, 1, o)}, 0)
	}
	if k == 1 && stride == 1 {
		if bias == nil {
			return MatMul(x, kmat)
		}
		return MatMul(graph.Concatenate([]*graph.Node{x, onesChannel(x, n, h, w)}, 3), kmat)
	}
	xp := PadAxis(PadAxis(x, 1, p, p), 2, p, p)
	parts := make([]*graph.Node, 0, k*k+1)
	for dy := range k {
		for dx := range k {
			if stride == 1 && dy == p && dx == p {
				parts = append(parts, x) // the centre window
				continue
			}
			parts = append(parts, Slice(xp,
				[]int{0, dy, dx, 0},
				[]int{n, dy + (ho-1)*stride + 1, dx + (wo-1)*stride + 1, c},
				[]int{1, stride, stride, 1}))
		}
	}
	if bias != nil {
		parts = append(parts, onesChannel(x, n, ho, wo))
	}
	cols := graph.Concatenate(parts, 3)
	y := MatMul(cols, kmat)
	if transposed && stride == 1 && cols.Type() == graph.NodeTypeConcatenate && y.Type() == graph.NodeTypeDotGeneral {
		im := &im2colParams{kernel: weak.Make(kernel), center: p*k + p}
		record(cols, im)
		dp, _ := lookup[dotParams](y)
		dp.im2col = im
		rerecord(y, dp)
	}
	return y
}

// onesChannel is a [n, h, w, 1] tensor of ones in x's dtype.
func onesChannel(x *graph.Node, n, h, w int) *graph.Node {
	return graph.Ones(x.Graph(), shapeOf(x, n, h, w, 1))
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
