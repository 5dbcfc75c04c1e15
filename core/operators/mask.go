package operators

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// MaskKey is the Params key of a mask operator's per-sample mask: [N,H,W,C], 1 where a pixel is
// observed and 0 where it is dropped, equal across the channels of a pixel.
const MaskKey = "mask"

// maskOp is the shared core of the mask operators: y = m ⊙ x, with the per-sample mask m under
// MaskKey. It is linear and self-adjoint: VJP(x, v) = m ⊙ v.
type maskOp struct {
	name string
	// drop marks, for one image of h x w pixels, the pixels to drop (flat index y*w+x).
	drop func(rng *rand.Rand, h, w int) []int
	// fits returns an error when the mask cannot be drawn for an h x w image.
	fits func(h, w int) error
}

// OutShape implements Operator: the output has the input's shape.
func (m *maskOp) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	if !in.Valid() {
		return in, fmt.Errorf("%s: invalid input shape %s", m.name, in)
	}
	if m.fits != nil {
		if err := m.fits(in.H, in.W); err != nil {
			return in, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return in, nil
}

// SampleParams implements Operator: one mask per image, drawn image by image from rng.
func (m *maskOp) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	if _, err := m.OutShape(ctx, in); err != nil {
		return nil, err
	}
	mask := batch.New(in.N, in.H, in.W, in.C)
	for i := range mask.Data {
		mask.Data[i] = 1
	}
	for n := range in.N {
		for _, px := range m.drop(rng, in.H, in.W) {
			base := (n*in.H*in.W + px) * in.C
			clear(mask.Data[base : base+in.C])
		}
	}
	return part.Params{MaskKey: mask}, nil
}

// IsLinear implements LinearOperator.
func (m *maskOp) IsLinear() bool { return true }

// Apply implements Operator: y = m ⊙ x.
func (m *maskOp) Apply(_ context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	return m.mul(x, p)
}

// VJP implements Operator: m ⊙ v.
func (m *maskOp) VJP(_ context.Context, x, v *batch.Batch, p part.Params) (*batch.Batch, error) {
	if err := checkSame(m.name+" VJP", x, v); err != nil {
		return nil, err
	}
	return m.mul(v, p)
}

func (m *maskOp) mul(x *batch.Batch, p part.Params) (*batch.Batch, error) {
	mask, err := p.Get(m.name, MaskKey, x.N, x.Shape)
	if err != nil {
		return nil, err
	}
	out := batch.New(x.N, x.H, x.W, x.C)
	for i, v := range x.Data {
		out.Data[i] = v * mask.Data[i]
	}
	return out, nil
}

// ApplyGraph implements GraphOperator: an elementwise product (its gradient is m ⊙ v).
func (m *maskOp) ApplyGraph(x *graph.Node, p map[string]*graph.Node) *graph.Node {
	mask, ok := p[MaskKey]
	if !ok {
		panic(fmt.Sprintf("%s: missing per-sample parameter %q", m.name, MaskKey))
	}
	return graph.Mul(x, mask)
}

// RandomMaskConfig configures mask.random.
type RandomMaskConfig struct {
	Fraction float64 `yaml:"fraction" default:"0.5" check:">=0,<=1" doc:"fraction of the pixels of each image dropped (all channels of a pixel together), in [0, 1]"`
}

// RandomMask is mask.random: each image loses exactly round(fraction·H·W) pixels chosen
// uniformly at random without replacement (all channels of a dropped pixel are 0). Params:
// "mask" [N,H,W,C] (see MaskKey).
type RandomMask struct{ maskOp }

// NewRandomMask builds mask.random. (The zero fraction keeps every pixel: the schema applies
// the documented default 0.5 when the key is absent.)
func NewRandomMask(cfg RandomMaskConfig) (*RandomMask, error) {
	f := cfg.Fraction
	if !(f >= 0 && f <= 1) {
		return nil, fmt.Errorf("mask.random: fraction must be in [0, 1], got %v", f)
	}
	return &RandomMask{maskOp{name: "mask.random", drop: func(rng *rand.Rand, h, w int) []int {
		k := int(math.Round(f * float64(h*w)))
		return rng.Perm(h * w)[:k]
	}}}, nil
}

// BoxMaskConfig configures mask.box.
type BoxMaskConfig struct {
	Size int `yaml:"size" default:"14" check:">=1" doc:"side of the square box of dropped pixels, pixels; must fit in the image"`
}

// BoxMask is mask.box: each image loses a size x size square of pixels whose top-left corner is
// uniform over the positions where the box fits (rows 0..H-size, columns 0..W-size, drawn in
// that order). Params: "mask" [N,H,W,C] (see MaskKey).
type BoxMask struct{ maskOp }

// NewBoxMask builds mask.box; a zero size takes the documented default.
func NewBoxMask(cfg BoxMaskConfig) (*BoxMask, error) {
	schema.FillDefaults(&cfg)
	s := cfg.Size
	if s < 1 {
		return nil, fmt.Errorf("mask.box: size must be >= 1, got %d", s)
	}
	return &BoxMask{maskOp{
		name: "mask.box",
		fits: func(h, w int) error {
			if s > h || s > w {
				return fmt.Errorf("a %dx%d box does not fit a %dx%d image", s, s, h, w)
			}
			return nil
		},
		drop: func(rng *rand.Rand, h, w int) []int {
			y0, x0 := rng.IntN(h-s+1), rng.IntN(w-s+1)
			px := make([]int, 0, s*s)
			for y := y0; y < y0+s; y++ {
				for x := x0; x < x0+s; x++ {
					px = append(px, y*w+x)
				}
			}
			return px
		},
	}}, nil
}

func init() {
	registry.Register(registry.Entry{
		ID:      "mask.random",
		Kind:    registry.KindOperator,
		Linear:  true,
		Summary: "drop a random fraction of the pixels of each image (inpainting); per-sample mask",
		Config:  func() any { return &RandomMaskConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewRandomMask(*cfg.(*RandomMaskConfig)) },
	})
	registry.Register(registry.Entry{
		ID:      "mask.box",
		Kind:    registry.KindOperator,
		Linear:  true,
		Summary: "drop a size x size box at a random position in each image (box inpainting); per-sample mask",
		Config:  func() any { return &BoxMaskConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewBoxMask(*cfg.(*BoxMaskConfig)) },
	})
}

var (
	_ part.LinearOperator = (*RandomMask)(nil)
	_ GraphOperator       = (*RandomMask)(nil)
	_ part.LinearOperator = (*BoxMask)(nil)
	_ GraphOperator       = (*BoxMask)(nil)
)
