// Package tiles restores images larger than a model's working size piece by piece: it cuts an
// image into overlapping square tiles, and blends the tiles' results back with a smooth
// window, so that the seams between tiles do not show. It also pads an image by reflection
// to a size a model accepts (a multiple of its downsampling factor).
//
// # Layout
//
// Along one axis of length L, tiles of side T start at 0, S, 2S, ... with stride S = T - O
// (O the overlap), and a last tile ends exactly at L (it may overlap its neighbour by more
// than O). When T and O are multiples of the model's alignment a and L is too (see PadSize),
// every tile starts at a multiple of a, so a model that works on 2^k x 2^k blocks sees the
// same blocks in a tile as in the whole image.
//
// # Blending
//
// Each tile's result is weighted by a separable window w(y, x) = r(y)·r(x) and the image is
// Σ_t w_t x_t / Σ_t w_t, a convex combination at every pixel (so a constant comes back
// exactly, and values stay within the tiles' range). Along an edge of the tile that lies inside
// the image, r rises over the first O pixels as a raised cosine (Hann ramp),
//
//	r(u) = ½ - ½ cos(π (u + ½) / O),   u = 0 .. O-1,
//
// and is 1 elsewhere, including along edges on the image border. r is positive everywhere, so
// every pixel has weight, and it is smooth, so a tile's contribution fades in and out rather
// than stepping (Preibisch et al. 2009 blend stitched microscopy tiles the same way).
//
// Images are core/batch batches (NHWC float32); the functions act on every image of a batch.
package tiles

import (
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Origins returns the start of every tile of side tile along an axis of length n, with the
// given overlap: 0, s, 2s, ... (s = tile - overlap) and n - tile last. It needs
// 1 <= tile <= n and 0 <= overlap < tile.
func Origins(n, tile, overlap int) ([]int, error) {
	if tile < 1 || tile > n || overlap < 0 || overlap >= tile {
		return nil, fmt.Errorf("tiles: tile %d and overlap %d for length %d: need 1 <= tile <= length and 0 <= overlap < tile", tile, overlap, n)
	}
	stride := tile - overlap
	var out []int
	for o := 0; ; o += stride {
		if o+tile >= n {
			out = append(out, n-tile)
			return out, nil
		}
		out = append(out, o)
	}
}

// Tile is one tile's top-left corner.
type Tile struct{ Y, X int }

// Grid is the tiling of an H x W image by square tiles of side Tile overlapping by Overlap.
type Grid struct {
	H, W, Tile, Overlap int
	Ys, Xs              []int // tile origins along each axis
}

// NewGrid plans the tiles of an h x w image (see Origins; the image must be at least one
// tile in each direction: pad it first).
func NewGrid(h, w, tile, overlap int) (*Grid, error) {
	ys, err := Origins(h, tile, overlap)
	if err != nil {
		return nil, err
	}
	xs, err := Origins(w, tile, overlap)
	if err != nil {
		return nil, err
	}
	return &Grid{H: h, W: w, Tile: tile, Overlap: overlap, Ys: ys, Xs: xs}, nil
}

// Tiles lists the tiles row by row.
func (g *Grid) Tiles() []Tile {
	out := make([]Tile, 0, len(g.Ys)*len(g.Xs))
	for _, y := range g.Ys {
		for _, x := range g.Xs {
			out = append(out, Tile{y, x})
		}
	}
	return out
}

// ramp returns the 1-D window of a tile starting at o on an axis of length n: raised-cosine
// ramps of length overlap at the ends inside the image, 1 elsewhere.
func (g *Grid) ramp(o, n int) []float64 {
	r := make([]float64, g.Tile)
	for i := range r {
		r[i] = 1
	}
	for u := range min(g.Overlap, g.Tile) {
		v := 0.5 - 0.5*math.Cos(math.Pi*(float64(u)+0.5)/float64(g.Overlap))
		if o > 0 {
			r[u] = min(r[u], v)
		}
		if o+g.Tile < n {
			r[g.Tile-1-u] = min(r[g.Tile-1-u], v)
		}
	}
	return r
}

// Window returns the blending weights of tile t, [Tile*Tile] row-major.
func (g *Grid) Window(t Tile) []float64 {
	ry, rx := g.ramp(t.Y, g.H), g.ramp(t.X, g.W)
	w := make([]float64, g.Tile*g.Tile)
	for y, a := range ry {
		for x, b := range rx {
			w[y*g.Tile+x] = a * b
		}
	}
	return w
}

// Blender accumulates weighted tile results into one image of the grid's size.
type Blender struct {
	g        *Grid
	c        int
	num, den []float64
}

// NewBlender starts an empty H x W image with c channels.
func NewBlender(g *Grid, c int) *Blender {
	return &Blender{g: g, c: c, num: make([]float64, g.H*g.W*c), den: make([]float64, g.H*g.W)}
}

// Add blends one tile's result, a [1, Tile, Tile, c] batch (or image k of a larger one).
func (b *Blender) Add(t Tile, img *batch.Batch, k int) {
	g := b.g
	if img.H != g.Tile || img.W != g.Tile || img.C != b.c || k < 0 || k >= img.N {
		panic(fmt.Sprintf("tiles: blend image %d of %s into %dx%d tiles of %d channels", k, img.Shape, g.Tile, g.Tile, b.c))
	}
	w := g.Window(t)
	src := img.Data[k*img.ImageSize():]
	for y := range g.Tile {
		for x := range g.Tile {
			wt := w[y*g.Tile+x]
			p := (t.Y+y)*g.W + t.X + x
			b.den[p] += wt
			for c := range b.c {
				b.num[p*b.c+c] += wt * float64(src[(y*g.Tile+x)*b.c+c])
			}
		}
	}
}

// Result returns the blended image, [1, H, W, c]. A pixel no tile covered (impossible for a
// grid from NewGrid) would be 0.
func (b *Blender) Result() *batch.Batch {
	out := batch.New(1, b.g.H, b.g.W, b.c)
	for p, d := range b.den {
		if d == 0 {
			continue
		}
		for c := range b.c {
			out.Data[p*b.c+c] = float32(b.num[p*b.c+c] / d)
		}
	}
	return out
}
