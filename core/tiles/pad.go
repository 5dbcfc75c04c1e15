package tiles

import (
	"fmt"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// PadSize returns the smallest length >= max(n, least) that is a multiple of align (align >= 1).
func PadSize(n, align, least int) int {
	m := max(n, least)
	return (m + align - 1) / align * align
}

// Reflect returns b extended at the bottom and right to h x w (h >= b.H, w >= b.W) by mirror
// reflection about the last row and column without repeating them (NumPy's pad mode
// "reflect"), repeated as often as the padding needs: ... 2 1 0 1 2 ... n-2 n-1 n-2 ... A
// one-pixel side is repeated. It returns b itself when no padding is needed.
func Reflect(b *batch.Batch, h, w int) *batch.Batch {
	if h < b.H || w < b.W {
		panic(fmt.Sprintf("tiles.Reflect: pad %s to %dx%d would shrink it", b.Shape, h, w))
	}
	if h == b.H && w == b.W {
		return b
	}
	out := batch.New(b.N, h, w, b.C)
	for n := range b.N {
		for y := range h {
			sy := reflectIndex(y, b.H)
			for x := range w {
				sx := reflectIndex(x, b.W)
				copy(out.Data[out.Index(n, y, x, 0):out.Index(n, y, x, 0)+b.C], b.Data[b.Index(n, sy, sx, 0):])
			}
		}
	}
	return out
}

// reflectIndex maps i >= 0 into [0, n) by reflection with period 2(n-1).
func reflectIndex(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	i %= p
	if i >= n {
		i = p - i
	}
	return i
}

// Crop returns the h x w window of image k of b whose top-left corner is (y0, x0), as a
// [1, h, w, C] batch. It panics when the window leaves the image (a programmer error).
func Crop(b *batch.Batch, k, y0, x0, h, w int) *batch.Batch {
	if k < 0 || k >= b.N || y0 < 0 || x0 < 0 || h < 1 || w < 1 || y0+h > b.H || x0+w > b.W {
		panic(fmt.Sprintf("tiles.Crop: window %dx%d at (%d,%d) of image %d outside %s", w, h, x0, y0, k, b.Shape))
	}
	out := batch.New(1, h, w, b.C)
	row := w * b.C
	for y := range h {
		copy(out.Data[y*row:(y+1)*row], b.Data[b.Index(k, y0+y, x0, 0):])
	}
	return out
}
