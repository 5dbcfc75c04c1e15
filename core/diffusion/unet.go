package diffusion

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/nn"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// UNetScope is the scope EpsModel creates its variables under (ctx.In(UNetScope)).
const UNetScope = "unet"

// U-Net defaults: the zero value of each UNetConfig field means these. They are sized for the
// pure-Go backend (docs/diffusion.md has the step times behind the choice): on MNIST-sized
// images the default runs 28x28 -> patch 2 -> 14x14 (16 channels) -> 7x7 (32 channels).
const (
	DefaultChannels  = 16
	DefaultResBlocks = 1
	DefaultTimeEmbed = 64
	DefaultPatch     = 2
)

// DefaultMultipliers are the per-level channel multipliers of the default U-Net (two levels
// after the patch folding; see UNetConfig.Patch).
var DefaultMultipliers = []int{1, 2}

// UNetConfig configures the noise-prediction U-Net eps_theta(x_t, t) of EpsModel. The zero value
// of every field means its documented default.
type UNetConfig struct {
	// Channels is the width of the first level; level l has Channels * Multipliers[l] channels.
	Channels int `yaml:"channels" default:"16" check:">=1" doc:"channels of the first U-Net level (level l has channels x multipliers[l]), >= 1"`
	// Multipliers holds one channel multiplier per resolution level; each level after the first
	// halves the height and width.
	Multipliers []int `yaml:"multipliers" default:"[1, 2]" doc:"channel multiplier per resolution level, each >= 1; each level after the first halves height and width"`
	// ResBlocks is the number of residual blocks per level, on the way down and on the way up.
	ResBlocks int `yaml:"res_blocks" default:"1" check:">=1" doc:"residual blocks per level on each path, >= 1"`
	// Attention adds a single-head self-attention block in the middle of the network, at the
	// lowest resolution.
	Attention bool `yaml:"attention" default:"false" doc:"self-attention at the lowest resolution (middle block)"`
	// TimeEmbed is the width of the timestep embedding (also the sinusoid's dimension).
	TimeEmbed int `yaml:"time_embed" default:"64" check:">=4" doc:"width of the timestep embedding, even, >= 4"`
	// Patch folds each Patch x Patch block of pixels into channels before the first level
	// (nn.SpaceToDepth) and unfolds the output (nn.DepthToSpace); 1 works on the pixels.
	Patch int `yaml:"patch" default:"2" check:">=1" doc:"side of the pixel blocks folded into channels before the first level (1: none); the first level runs at height/patch x width/patch"`
}

// WithDefaults returns c with every zero field replaced by its documented default.
func (c UNetConfig) WithDefaults() UNetConfig {
	if c.Channels == 0 {
		c.Channels = DefaultChannels
	}
	if len(c.Multipliers) == 0 {
		c.Multipliers = slices.Clone(DefaultMultipliers)
	}
	if c.ResBlocks == 0 {
		c.ResBlocks = DefaultResBlocks
	}
	if c.TimeEmbed == 0 {
		c.TimeEmbed = DefaultTimeEmbed
	}
	if c.Patch == 0 {
		c.Patch = DefaultPatch
	}
	return c
}

// Check implements schema.Checker: the rules the field tags cannot state.
func (c *UNetConfig) Check() []schema.Problem {
	var ps []schema.Problem
	d := c.WithDefaults()
	for i, m := range d.Multipliers {
		if m < 1 {
			ps = append(ps, schema.Problem{Field: "multipliers", Msg: fmt.Sprintf("multiplier %d is %d, want >= 1", i, m)})
		}
	}
	if d.TimeEmbed%2 != 0 {
		ps = append(ps, schema.Problem{Field: "time_embed", Msg: fmt.Sprintf("must be even, got %d", d.TimeEmbed)})
	}
	return ps
}

// Validate returns an error unless the U-Net (after defaults) can act on images of h x w pixels
// and c channels: every field in range, and h and w divisible by Patch·2^(levels-1), so that
// the patch folding and each level's halving are exact.
func (c UNetConfig) Validate(h, w, ch int) error {
	d := c.WithDefaults()
	if d.Channels < 1 || d.ResBlocks < 1 || d.TimeEmbed < 4 || d.Patch < 1 {
		return fmt.Errorf("unet: need channels >= 1, res_blocks >= 1, time_embed >= 4, patch >= 1; got %d, %d, %d, %d",
			d.Channels, d.ResBlocks, d.TimeEmbed, d.Patch)
	}
	if ps := d.Check(); len(ps) > 0 {
		return fmt.Errorf("unet: %s: %s", ps[0].Field, ps[0].Msg)
	}
	if h < 1 || w < 1 || ch < 1 {
		return fmt.Errorf("unet: invalid image size %dx%dx%d", h, w, ch)
	}
	levels := len(d.Multipliers)
	if f := d.Patch << (levels - 1); h%f != 0 || w%f != 0 {
		return fmt.Errorf("unet: height and width must be divisible by %d (patch %d x 2^%d for %d levels), got %dx%d; "+
			"change patch or multipliers, or pad the images", f, d.Patch, levels-1, levels, h, w)
	}
	return nil
}

// EpsModel is the noise-prediction network eps_theta(x_t, t) of DDPM (Ho et al. 2020, after
// the PixelCNN++ U-Net), built from core/nn layers so that it trains on every backend. With
// L = len(Multipliers) and C_l = Channels·Multipliers[l]:
//
//	temb = TimeEmbedding(t): sinusoid(TimeEmbed) -> Dense -> SiLU -> Dense      [N, TimeEmbed]
//	x    = SpaceToDepth(x_t, Patch)                      [N, H/P, W/P, P·P·C]   (Patch > 1)
//	h    = Conv3x3(x) to C_0                                                     "in"
//	down, l = 0..L-1: ResBlocks x resBlock(h, temb) to C_l, each output kept as a skip;
//	                  AvgPool2 between levels                                    "down<l>_<r>"
//	middle: resBlock to C_{L-1}, then SelfAttention if Attention                 "mid", "mid_attention"
//	up, l = L-1..0:   ResBlocks x resBlock(h + skip, temb) to C_l                "up<l>_<r>"
//	                  between levels: 1x1 projection to C_{l-1} (if it differs)  "up<l>_proj"
//	                  and nearest-neighbour Upsample2
//	out  = Conv3x3(SiLU(GroupNorm(h))) to P·P·C, zero-initialized                "out_norm", "out"
//	eps  = DepthToSpace(out, Patch)                                              [N, H, W, C]
//
// Departures from DDPM, all for speed on the pure-Go backend, where SimpleGo's per-element
// costs make every full-resolution activation expensive (docs/diffusion.md has the figures):
// the patch folding (as in Hoogeboom et al. 2023, "simple diffusion"); skips added rather than
// concatenated; one middle ResBlock instead of two; resampling without convolution (DDPM's
// resamp_with_conv=False); ResBlocks (not ResBlocks+1) blocks per level on the way up. The
// residual block (resBlock) takes the timestep as a scale and shift after its normalization.
// The last convolution starts at zero, so eps_theta starts at 0, as in DDPM.
//
// xt is [N, H, W, C] (float32, or float64 for gradient checks); t is [N], the step index
// 0..T-1 as a float (any float dtype). The output is shaped like xt. Variables live under
// ctx.In(UNetScope). On sizes the network cannot take it panics (graph building) with the
// error cfg.Validate returns.
func EpsModel(ctx *context.Context, cfg UNetConfig, xt, t *graph.Node) *graph.Node {
	if xt.Rank() != 4 {
		panic(fmt.Sprintf("diffusion.EpsModel: want xt [N, H, W, C], got %s", xt.Shape()))
	}
	return UNet(ctx, cfg, xt, t, xt.Shape().Dimensions[3])
}

// UNet is EpsModel's network with out output channels instead of x's C: the same layers and
// variables (under ctx.In(UNetScope)), the first convolution taking x's channels and the last
// producing out. It serves networks whose input carries more than the image, such as Ambient
// Diffusion's [Ã x_t, Ã] (2C channels in, an x0 estimate of C channels out; core/baselines).
// x is [N, H, W, Cin], t [N]; the output is [N, H, W, out].
func UNet(ctx *context.Context, cfg UNetConfig, xt, t *graph.Node, out int) *graph.Node {
	if xt.Rank() != 4 {
		panic(fmt.Sprintf("diffusion.UNet: want x [N, H, W, C], got %s", xt.Shape()))
	}
	if out < 1 {
		panic(fmt.Sprintf("diffusion.UNet: want out >= 1 output channels, got %d", out))
	}
	d := xt.Shape().Dimensions
	if t.Rank() != 1 || t.Shape().Dimensions[0] != d[0] {
		panic(fmt.Sprintf("diffusion.UNet: want t [%d] (one step index per sample), got %s", d[0], t.Shape()))
	}
	if err := cfg.Validate(d[1], d[2], d[3]); err != nil {
		panic(err)
	}
	cfg = cfg.WithDefaults()
	if t.DType() != xt.DType() {
		t = graph.ConvertDType(t, xt.DType())
	}
	ctx = ctx.In(UNetScope)
	temb := nn.TimeEmbedding(ctx, t, cfg.TimeEmbed, cfg.TimeEmbed)
	width := func(l int) int { return cfg.Channels * cfg.Multipliers[l] }

	x := xt
	if cfg.Patch > 1 {
		x = nn.SpaceToDepth(x, cfg.Patch)
	}
	h := nn.Conv2D(ctx.In("in"), x, width(0), 3, 1, true)
	levels := len(cfg.Multipliers)
	skips := make([]*graph.Node, 0, levels*cfg.ResBlocks)
	for l := range levels {
		if l > 0 {
			h = nn.AvgPool2(h)
		}
		for r := range cfg.ResBlocks {
			h = resBlock(ctx.Inf("down%d_%d", l, r), h, temb, width(l))
			skips = append(skips, h)
		}
	}

	h = resBlock(ctx.In("mid"), h, temb, width(levels-1))
	if cfg.Attention {
		h = nn.SelfAttention(ctx.In("mid_attention"), h)
	}

	for l := levels - 1; l >= 0; l-- {
		for r := range cfg.ResBlocks {
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			h = resBlock(ctx.Inf("up%d_%d", l, r), graph.Add(h, skip), temb, width(l))
		}
		if l > 0 {
			if width(l) != width(l-1) {
				h = nn.Dense(ctx.Inf("up%d_proj", l), h, width(l-1), true)
			}
			h = nn.Upsample2(h)
		}
	}

	h = nn.SiLU(nn.GroupNorm(ctx.In("out_norm"), h, normGroups(width(0))))
	y := nn.Conv2D(ctx.In("out").WithInitializer(initializers.Zero), h, out*cfg.Patch*cfg.Patch, 3, 1, true)
	if cfg.Patch > 1 {
		y = nn.DepthToSpace(y, cfg.Patch)
	}
	return y
}

// MinGroupChannels is the fewest channels per GroupNorm group the U-Net uses (when the channel
// count allows): a group of one channel is instance normalization, which erases each channel's
// mean, brightness included.
const MinGroupChannels = 4

// normGroups is the GroupNorm group count for c channels: the largest divisor of c that is at
// most nn.DefaultGroupNormGroups and leaves at least MinGroupChannels channels per group (1 if
// none does). DDPM's 32 groups on 128+ channels have 4 or more per group too.
func normGroups(c int) int {
	for g := min(nn.DefaultGroupNormGroups, c/MinGroupChannels); g > 1; g-- {
		if c%g == 0 {
			return g
		}
	}
	return 1
}

// resBlock is the U-Net's residual block on x [N, H, W, C] with the timestep embedding temb
// [N, T], after DDPM's with the timestep entering as a scale and shift of the second
// normalization ("scale-shift norm", Nichol & Dhariwal 2021; Dhariwal & Nichol 2021):
//
//	h      = Conv3x3(SiLU(GroupNorm(x)))                        "norm0", "conv0"
//	s, b   = Dense(SiLU(temb)) split in two halves of out     "temb" (zero-initialized)
//	h      = GroupNorm(h)·(1 + s) + b                          "norm1"
//	h      = Conv3x3(SiLU(h))                                   "conv1" (zero-initialized)
//	y      = skip(x) + h                                        "skip": 1x1 if C != out
//
// Variables under ctx.In("resblock"). nn.ResBlock adds temb before a GroupNorm instead; with
// nn.NormGroups' one channel per group below 33 channels, that normalization subtracts each
// channel's mean and so removes the timestep entirely. Adding it after the normalization keeps
// it whatever the group size.
func resBlock(ctx *context.Context, x, temb *graph.Node, out int) *graph.Node {
	ctx = ctx.In("resblock")
	d := x.Shape().Dimensions
	h := nn.SiLU(nn.GroupNorm(ctx.In("norm0"), x, normGroups(d[3])))
	h = nn.Conv2D(ctx.In("conv0"), h, out, 3, 1, true)
	ss := nn.Dense(ctx.In("temb").WithInitializer(initializers.Zero), nn.SiLU(temb), 2*out, true)
	ss = graph.Reshape(ss, d[0], 1, 1, 2*out)
	scale := nn.Slice(ss, []int{0, 0, 0, 0}, []int{d[0], 1, 1, out}, nil)
	shift := nn.Slice(ss, []int{0, 0, 0, out}, []int{d[0], 1, 1, 2 * out}, nil)
	h = nn.GroupNorm(ctx.In("norm1"), h, normGroups(out))
	h = graph.Add(graph.Mul(h, graph.OnePlus(scale)), shift)
	h = nn.Conv2D(ctx.In("conv1").WithInitializer(initializers.Zero), nn.SiLU(h), out, 3, 1, true)
	if d[3] != out {
		x = nn.Conv2D(ctx.In("skip"), x, out, 1, 1, true)
	}
	return graph.Add(x, h)
}

// InitUNet creates the U-Net's variables in ctx for float32 images of h x w pixels and c
// channels and initializes them (the context's initializer: He normal unless set; seed it with
// ctx.SetRNGStateFromSeed for reproducible weights), without training. Variables that already
// have values keep them. It is how an untrained model is set up for a sampler, for example in
// benchmarks; training graphs create the variables themselves.
func InitUNet(b backends.Backend, ctx *context.Context, cfg UNetConfig, img batch.Shape) (err error) {
	if err := cfg.Validate(img.H, img.W, img.C); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unet: initialize: %v", r)
		}
	}()
	g := graph.NewGraph(b, "unet_init")
	defer g.Finalize()
	x := graph.Zeros(g, shapes.Make(dtypes.Float32, 1, img.H, img.W, img.C))
	t := graph.Zeros(g, shapes.Make(dtypes.Float32, 1))
	EpsModel(ctx.Checked(false), cfg, x, t)
	if err := ctx.InitializeVariables(b, nil); err != nil {
		return fmt.Errorf("unet: initialize: %w", err)
	}
	return nil
}

var _ schema.Checker = (*UNetConfig)(nil)
