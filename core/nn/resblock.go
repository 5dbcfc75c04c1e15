package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// ResBlockScope is the scope ResBlock creates its variables under.
const ResBlockScope = "resblock"

// ResBlock is DDPM's residual block (Ho et al. 2020, after Zagoruyko & Komodakis 2016) on x
// [N, H, W, C] with an optional timestep embedding temb [N, T] (nil for none):
//
//	h = Conv3x3(SiLU(GroupNorm(x)))                       "norm0", "conv0"
//	h = h + Dense(SiLU(temb)) broadcast over H, W          "temb"
//	h = Conv3x3(SiLU(GroupNorm(h)))                       "norm1", "conv1" (zero-initialized)
//	y = skip(x) + h                                        skip: 1x1 conv "skip" if C != outChannels
//
// giving [N, H, W, outChannels]. Variables live under ctx.In(ResBlockScope) in the sub-scopes
// named above; GroupNorm uses NormGroups(channels) groups. As in DDPM the last convolution
// starts at zero, so the block starts as the identity (or the skip projection). DDPM's dropout is
// left out (the caller may add it).
func ResBlock(ctx *context.Context, x, temb *graph.Node, outChannels int) *graph.Node {
	checkNHWC("ResBlock", x)
	if temb != nil && (temb.Rank() != 2 || temb.Shape().Dimensions[0] != x.Shape().Dimensions[0]) {
		panic(fmt.Sprintf("nn.ResBlock: want temb [batch, dim] matching x %s, got %s", x.Shape(), temb.Shape()))
	}
	ctx = ctx.In(ResBlockScope)
	c := x.Shape().Dimensions[3]
	h := SiLU(GroupNorm(ctx.In("norm0"), x, NormGroups(c)))
	h = Conv2D(ctx.In("conv0"), h, outChannels, 3, 1, true)
	if temb != nil {
		proj := Dense(ctx.In("temb"), SiLU(temb), outChannels, true)
		h = graph.Add(h, graph.Reshape(proj, x.Shape().Dimensions[0], 1, 1, outChannels))
	}
	h = SiLU(GroupNorm(ctx.In("norm1"), h, NormGroups(outChannels)))
	h = Conv2D(ctx.In("conv1").WithInitializer(initializers.Zero), h, outChannels, 3, 1, true)
	if c != outChannels {
		x = Conv2D(ctx.In("skip"), x, outChannels, 1, 1, true)
	}
	return graph.Add(x, h)
}
