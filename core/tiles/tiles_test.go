package tiles

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

func TestOrigins(t *testing.T) {
	for _, tc := range []struct {
		n, tile, overlap int
		want             []int // nil: an error
	}{
		{10, 4, 1, []int{0, 3, 6}},
		{11, 4, 1, []int{0, 3, 6, 7}}, // the last tile ends at 11 and overlaps its neighbour by 3
		{4, 4, 0, []int{0}},
		{8, 4, 0, []int{0, 4}},
		{512, 64, 16, []int{0, 48, 96, 144, 192, 240, 288, 336, 384, 432, 448}},
		{3, 4, 0, nil},  // tile longer than the axis: pad first
		{8, 4, 4, nil},  // overlap must be below the tile
		{8, 0, 0, nil},  // empty tile
		{8, 4, -1, nil}, // negative overlap
	} {
		got, err := Origins(tc.n, tc.tile, tc.overlap)
		if tc.want == nil {
			if err == nil {
				t.Errorf("Origins(%d, %d, %d) = %v, want an error", tc.n, tc.tile, tc.overlap, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Origins(%d, %d, %d) = %v, %v; want %v", tc.n, tc.tile, tc.overlap, got, err, tc.want)
		}
	}
}

func randomImage(rng *rand.Rand, h, w, c int) *batch.Batch {
	b := batch.New(1, h, w, c)
	for i := range b.Data {
		b.Data[i] = float32(rng.Float64())
	}
	return b
}

// TestBlendReproducesImage: tiles cut from an image and blended back give the image (the
// blend is a convex combination of equal values), for grids with and without overlap and with
// a last tile that overlaps more. Tolerance 1e-6: float32 rounding of the division.
func TestBlendReproducesImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ h, w, c, tile, overlap int }{
		{64, 64, 1, 32, 8}, {70, 45, 3, 16, 4}, {16, 16, 1, 16, 0}, {40, 24, 1, 8, 0}, {33, 37, 2, 9, 5},
	} {
		img := randomImage(rng, tc.h, tc.w, tc.c)
		g, err := NewGrid(tc.h, tc.w, tc.tile, tc.overlap)
		if err != nil {
			t.Fatal(err)
		}
		bl := NewBlender(g, tc.c)
		for _, tl := range g.Tiles() {
			bl.Add(tl, Crop(img, 0, tl.Y, tl.X, tc.tile, tc.tile), 0)
		}
		got := bl.Result()
		for i, v := range got.Data {
			if math.Abs(float64(v-img.Data[i])) > 1e-6 {
				t.Fatalf("%+v: pixel %d = %v, want %v", tc, i, v, img.Data[i])
			}
		}
	}
}

// TestBlendHasNoSeams gives every tile a result that disagrees with its neighbours (the image
// plus a different constant per tile, 0 or 1) and measures the largest jump between adjacent
// pixels of the blend, beyond the image's own. Where two tiles overlap by exactly O, their
// ramps sum to 1 (r(O-1-u) = 1 - r(u)), so the blend moves from one constant to the other
// along the ramp, whose largest step is sin(π/(2O)) ≈ 0.098 for O = 16; corners mix four
// tiles with products of such ramps. Without overlap the same tiles leave a jump of 1.
func TestBlendHasNoSeams(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const h, w, tile = 100, 90, 32
	img := randomImage(rng, h, w, 1)
	jump := func(overlap int) float64 {
		g, err := NewGrid(h, w, tile, overlap)
		if err != nil {
			t.Fatal(err)
		}
		bl := NewBlender(g, 1)
		for i, tl := range g.Tiles() {
			c := Crop(img, 0, tl.Y, tl.X, tile, tile)
			for k := range c.Data {
				c.Data[k] += float32(i % 2)
			}
			bl.Add(tl, c, 0)
		}
		out := bl.Result()
		worst := 0.0
		for y := range h {
			for x := range w {
				for _, d := range [][2]int{{0, 1}, {1, 0}} {
					y2, x2 := y+d[0], x+d[1]
					if y2 >= h || x2 >= w {
						continue
					}
					step := math.Abs(float64(out.At(0, y2, x2, 0)-out.At(0, y, x, 0)) - float64(img.At(0, y2, x2, 0)-img.At(0, y, x, 0)))
					worst = max(worst, step)
				}
			}
		}
		return worst
	}
	if j := jump(16); j > 0.11 {
		t.Errorf("overlap 16: largest seam step %.4f, want <= 0.11 (sin(pi/32) = 0.098)", j)
	}
	if j := jump(0); j < 0.99 {
		t.Errorf("overlap 0: largest seam step %.4f, want the full 1 (the test must see seams)", j)
	}
}

func TestWindowPositiveAndFlatOnBorders(t *testing.T) {
	g, err := NewGrid(64, 64, 32, 8)
	if err != nil {
		t.Fatal(err)
	}
	corner := g.Window(Tile{0, 0}) // top-left tile: ramps only on its right and bottom edges
	if corner[0] != 1 || corner[31*32+31] >= 0.01 {
		t.Errorf("corner window: w(0,0) = %v (want 1), w(31,31) = %v (want a small ramp value)", corner[0], corner[31*32+31])
	}
	for _, tl := range g.Tiles() {
		for i, v := range g.Window(tl) {
			if !(v > 0 && v <= 1) {
				t.Fatalf("tile %+v: weight %d = %v, want in (0, 1]", tl, i, v)
			}
		}
	}
}

func TestReflect(t *testing.T) {
	row := func(vals ...float32) *batch.Batch {
		b := batch.New(1, 1, len(vals), 1)
		copy(b.Data, vals)
		return b
	}
	for _, tc := range []struct {
		in   []float32
		w    int
		want []float32
	}{
		{[]float32{0, 1, 2, 3}, 7, []float32{0, 1, 2, 3, 2, 1, 0}},
		{[]float32{0, 1, 2}, 8, []float32{0, 1, 2, 1, 0, 1, 2, 1}}, // padding longer than the image
		{[]float32{5}, 3, []float32{5, 5, 5}},
		{[]float32{0, 1}, 2, []float32{0, 1}},
	} {
		got := Reflect(row(tc.in...), 1, tc.w)
		if !slices.Equal(got.Data, tc.want) {
			t.Errorf("Reflect(%v, %d) = %v, want %v", tc.in, tc.w, got.Data, tc.want)
		}
	}
	// Two dimensions and channels: pixel (y, x) of the padding is pixel (reflect(y), reflect(x)).
	img := randomImage(rand.New(rand.NewPCG(5, 6)), 5, 4, 2)
	p := Reflect(img, 9, 7)
	for y := range 9 {
		for x := range 7 {
			for c := range 2 {
				if p.At(0, y, x, c) != img.At(0, reflectIndex(y, 5), reflectIndex(x, 4), c) {
					t.Fatalf("pixel (%d,%d,%d) wrong", y, x, c)
				}
			}
		}
	}
}

func TestPadSize(t *testing.T) {
	for _, tc := range []struct{ n, align, least, want int }{
		{512, 8, 64, 512}, {200, 8, 64, 200}, {201, 8, 64, 208}, {30, 8, 64, 64}, {65, 16, 64, 80},
	} {
		if got := PadSize(tc.n, tc.align, tc.least); got != tc.want {
			t.Errorf("PadSize(%d, %d, %d) = %d, want %d", tc.n, tc.align, tc.least, got, tc.want)
		}
	}
}

func TestCropPanicsOutside(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Crop outside the image did not panic")
		}
	}()
	Crop(batch.New(1, 4, 4, 1), 0, 2, 2, 3, 3)
}
