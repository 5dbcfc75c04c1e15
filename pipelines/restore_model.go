package pipelines

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/tiles"
	"github.com/flowdiff/flowdiff-go/core/train"
	"github.com/flowdiff/flowdiff-go/registry"
)

// WholeMaxPixels is the largest image (after padding) that tiling: auto restores whole; larger
// ones go by tiles. A 1024 x 1024 image through the flow holds a few hundred MB of activations
// per draw at the example configurations.
const WholeMaxPixels = 1 << 20

// restorer restores one normalized image at a time with a run's models: the flow's posterior
// (draws of b + G(z; b) with b = y) or DPS with the run's diffusion prior, on the whole image or
// on overlapping tiles blended with raised-cosine ramps (core/tiles).
type restorer struct {
	set   RestoreSettings
	align int // image sides must be multiples of this (2^flow levels; the U-Net's factor for dps)
	flow  *train.FlowGenerator
	ps    *priorSampler
	fwd   *Forward
	// corruption is the run's forward model as declared, for naming an operator in errors.
	corruption []registry.Spec
	machine    Machine // where the restoration runs, for the sidecars
}

// params returns the forward model's per-sample parameters of the image named name (core/observe's
// names: the file's relative name, "#pageK" for a page of a stack) of the given shape [1, H, W, C]:
// nil when it has none, the masks read from files for mask.file. Random parameters are an
// error (checkRestorable refuses them earlier where it can).
func (rs *restorer) params(ctx context.Context, name string, shape batch.Shape) (part.Params, error) {
	return fixedParams(ctx, rs.corruption, rs.fwd.Op, shape, 1, []string{name})
}

// padParams extends per-sample parameters of one h x w image to the padded hp x wp image as
// the image is padded: values with the image's height and width by reflection, any other (a
// per-image scalar) unchanged.
func padParams(p part.Params, h, w, hp, wp int) part.Params {
	if len(p) == 0 {
		return nil
	}
	out := part.Params{}
	for k, v := range p {
		if v.H == h && v.W == w {
			v = tiles.Reflect(v, hp, wp)
		}
		out[k] = v
	}
	return out
}

// tileParams gives the parameters of the padded image p (see padParams) to the tiles ts, n
// per call as cropTiles stacks them: image-sized values cropped like the image, others repeated.
func tileParams(p part.Params, hp, wp int, ts []tiles.Tile, side, n int) part.Params {
	if len(p) == 0 {
		return nil
	}
	out := part.Params{}
	for k, v := range p {
		if v.H == hp && v.W == wp {
			out[k] = cropTiles(v, ts, side, n)
			continue
		}
		r := batch.New(n, v.H, v.W, v.C)
		for i := range n {
			copy(r.Data[i*v.ImageSize():], v.Data[:v.ImageSize()])
		}
		out[k] = r
	}
	return out
}

// pageResult is the restoration of one image: the mean and standard deviation over the draws,
// and the first set.Samples draws.
type pageResult struct {
	Mean, Std *batch.Batch
	Samples   []*batch.Batch
}

// fileSeed is the seed of the random streams of the file named rel: the restoration of a file
// depends on its name and the seed, not on the other inputs, so shards and reruns agree.
func fileSeed(seed int64, rel string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(rel))
	return uint64(seed) ^ h.Sum64()
}

// tiled reports whether an h x w image (padded) goes by tiles.
func (rs *restorer) tiled(h, w int) bool {
	switch rs.set.Tiling {
	case "whole":
		return false
	case "tiles":
		return true
	}
	hp, wp := tiles.PadSize(h, rs.align, 1), tiles.PadSize(w, rs.align, 1)
	return hp*wp > WholeMaxPixels
}

// restore restores y, one normalized image [1, H, W, C], page page of the file named rel, with
// the forward model's parameters params of that image (for dps; nil when it has none).
// The image is padded by reflection to a multiple of the alignment (and to at least one tile),
// restored, and cropped back.
func (rs *restorer) restore(ctx context.Context, y *batch.Batch, params part.Params, rel string, page int) (*pageResult, error) {
	tiled := rs.tiled(y.H, y.W)
	least := 1
	if tiled {
		least = rs.set.Tile
	}
	hp, wp := tiles.PadSize(y.H, rs.align, least), tiles.PadSize(y.W, rs.align, least)
	yp := tiles.Reflect(y, hp, wp)
	pp := padParams(params, y.H, y.W, hp, wp)
	seed := fileSeed(rs.set.Seed, rel)
	var grid *tiles.Grid
	if tiled {
		var err error
		if grid, err = tiles.NewGrid(hp, wp, rs.set.Tile, rs.set.Overlap); err != nil {
			return nil, err
		}
	}
	k := rs.set.Draws
	sum := make([]float64, yp.Size())
	sq := make([]float64, yp.Size())
	res := &pageResult{}
	for j := range k {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var x *batch.Batch
		var err error
		if rs.set.Method == "dps" {
			x, err = rs.dps(ctx, yp, pp, grid, seed, page*k+j)
		} else {
			x, err = rs.flowDraw(yp, grid, rand.New(rand.NewPCG(seed, uint64(page)<<32|uint64(j))))
		}
		if err != nil {
			return nil, err
		}
		for i, v := range x.Data {
			sum[i] += float64(v)
			sq[i] += float64(v) * float64(v)
		}
		if j < rs.set.Samples {
			res.Samples = append(res.Samples, tiles.Crop(x, 0, 0, 0, y.H, y.W))
		}
	}
	mean, std := batch.New(1, hp, wp, y.C), batch.New(1, hp, wp, y.C)
	for i := range sum {
		m := sum[i] / float64(k)
		mean.Data[i] = float32(m)
		if k > 1 {
			std.Data[i] = float32(math.Sqrt(max(0, (sq[i]-float64(k)*m*m)/float64(k-1))))
		}
	}
	res.Mean, res.Std = tiles.Crop(mean, 0, 0, 0, y.H, y.W), tiles.Crop(std, 0, 0, 0, y.H, y.W)
	return res, nil
}

// flowDraw draws one posterior sample of the padded image yp: z is one standard normal field
// over the whole image, so that a tile sees the z its pixels have in the whole image, and the
// tiled and whole restorations differ only by what the flow sees beyond a tile's edges.
func (rs *restorer) flowDraw(yp *batch.Batch, grid *tiles.Grid, rng *rand.Rand) (*batch.Batch, error) {
	z := batch.New(1, yp.H, yp.W, yp.C)
	for i := range z.Data {
		z.Data[i] = float32(rng.NormFloat64())
	}
	if grid == nil {
		return rs.flow.Generate(z, yp)
	}
	bl := tiles.NewBlender(grid, yp.C)
	err := rs.forTiles(grid, func(ts []tiles.Tile) (*batch.Batch, error) {
		return rs.flow.Generate(cropTiles(z, ts, grid.Tile, rs.set.Batch), cropTiles(yp, ts, grid.Tile, rs.set.Batch))
	}, bl)
	if err != nil {
		return nil, err
	}
	return bl.Result(), nil
}

// dps draws one DPS restoration of the padded image yp with the forward model's parameters pp
// of the padded image (draw number draw of the file, whose noise streams start at draw times
// the tile count).
func (rs *restorer) dps(ctx context.Context, yp *batch.Batch, pp part.Params, grid *tiles.Grid, seed uint64, draw int) (*batch.Batch, error) {
	run := func(y *batch.Batch, params part.Params, first int) (*batch.Batch, error) {
		w, err := diffusion.DPSWeights(ctx, rs.fwd.Noise, y)
		if err != nil {
			return nil, err
		}
		prob := diffusion.DPSProblem{Op: diffusion.InModelRange(rs.fwd.Op), Params: params, Y: y, Zeta: rs.set.Zeta, Weight: w, Steps: rs.set.Steps}
		x, err := rs.ps.s.DPS(ctx, y.Shape, prob, diffusion.SampleOptions{Seed: int64(seed & (1<<62 - 1)), FirstIndex: first, Clip: diffusion.ModelClip})
		if err != nil {
			return nil, err
		}
		return diffusion.ToImage(x), nil
	}
	if grid == nil {
		return run(yp, pp, draw)
	}
	n := len(grid.Tiles())
	bl := tiles.NewBlender(grid, yp.C)
	first := draw * n
	err := rs.forTiles(grid, func(ts []tiles.Tile) (*batch.Batch, error) {
		x, err := run(cropTiles(yp, ts, grid.Tile, rs.set.Batch), tileParams(pp, yp.H, yp.W, ts, grid.Tile, rs.set.Batch), first)
		first += len(ts)
		return x, err
	}, bl)
	if err != nil {
		return nil, err
	}
	return bl.Result(), nil
}

// forTiles runs the grid's tiles through model in batches of set.Batch and blends the results.
func (rs *restorer) forTiles(grid *tiles.Grid, model func([]tiles.Tile) (*batch.Batch, error), bl *tiles.Blender) error {
	all := grid.Tiles()
	for from := 0; from < len(all); from += rs.set.Batch {
		ts := all[from:min(len(all), from+rs.set.Batch)]
		x, err := model(ts)
		if err != nil {
			return err
		}
		for i, t := range ts {
			bl.Add(t, x, i)
		}
	}
	return nil
}

// cropTiles stacks the tiles ts of image b into one batch of n images (the last tile repeated
// when there are fewer: every call then has one shape and compiles once).
func cropTiles(b *batch.Batch, ts []tiles.Tile, side, n int) *batch.Batch {
	out := batch.New(n, side, side, b.C)
	sz := out.ImageSize()
	for i := range n {
		t := ts[min(i, len(ts)-1)]
		copy(out.Data[i*sz:(i+1)*sz], tiles.Crop(b, 0, t.Y, t.X, side, side).Data)
	}
	return out
}

// checkTile validates the tile geometry against the alignment.
func (s *RestoreSettings) checkTile(align int) error {
	switch {
	case s.Tile < align || s.Tile%align != 0:
		return fmt.Errorf("--tile %d must be a positive multiple of %d (the models' downsampling factor)", s.Tile, align)
	case s.Overlap < 0 || s.Overlap >= s.Tile || s.Overlap%align != 0:
		return fmt.Errorf("--overlap %d must be a multiple of %d below the tile size %d", s.Overlap, align, s.Tile)
	}
	return nil
}
