package data

import (
	"fmt"
	"math"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Fit center-crops every image of b to the aspect ratio h:w and resamples it to h x w (area
// average on a shrinking axis, bilinear on a growing one; see the package doc). An image
// that already has size h x w is copied unchanged.
func Fit(b *batch.Batch, h, w int) *batch.Batch {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("data.Fit: invalid target size %dx%d", w, h))
	}
	ch, cw := b.H, b.W
	if b.W*h > b.H*w { // too wide: keep the height
		cw = max(1, (b.H*w+h/2)/h)
	} else {
		ch = max(1, (b.W*h+w/2)/w)
	}
	return Resize(Crop(b, (b.H-ch)/2, (b.W-cw)/2, ch, cw), h, w)
}

// Crop returns the ch x cw window with top-left corner (y0, x0) of every image of b. It
// panics when the window leaves the image (a programmer error).
func Crop(b *batch.Batch, y0, x0, ch, cw int) *batch.Batch {
	if y0 < 0 || x0 < 0 || ch < 1 || cw < 1 || y0+ch > b.H || x0+cw > b.W {
		panic(fmt.Sprintf("data.Crop: window %dx%d at (%d,%d) outside %s", cw, ch, x0, y0, b.Shape))
	}
	out := batch.New(b.N, ch, cw, b.C)
	for n := range b.N {
		for y := range ch {
			src := b.Data[b.Index(n, y0+y, x0, 0) : b.Index(n, y0+y, x0+cw-1, b.C-1)+1]
			copy(out.Data[out.Index(n, y, 0, 0):], src)
		}
	}
	return out
}

// taps are the source indices and weights of one output sample of a 1-D resample.
type taps struct {
	idx []int
	wt  []float32
}

// resampleTaps returns, for each of dst outputs, the taps over src inputs: an exact area
// average when dst < src, bilinear with pixel centers at i+0.5 (clamped at the edges) when
// dst > src, and the identity when they are equal.
func resampleTaps(src, dst int) []taps {
	out := make([]taps, dst)
	s := float64(src) / float64(dst)
	for j := range out {
		switch {
		case src == dst:
			out[j] = taps{[]int{j}, []float32{1}}
		case dst < src:
			lo, hi := float64(j)*s, float64(j+1)*s
			for i := int(lo); i < src && float64(i) < hi; i++ {
				ov := math.Min(float64(i+1), hi) - math.Max(float64(i), lo)
				if ov > 1e-9 {
					out[j].idx = append(out[j].idx, i)
					out[j].wt = append(out[j].wt, float32(ov/s))
				}
			}
		default:
			u := math.Min(math.Max((float64(j)+0.5)*s-0.5, 0), float64(src-1))
			i0 := int(u)
			f := u - float64(i0)
			i1 := min(i0+1, src-1)
			out[j] = taps{[]int{i0, i1}, []float32{float32(1 - f), float32(f)}}
		}
	}
	return out
}

// Resize resamples every image of b to h x w without cropping, separably: first along x,
// then along y, with the taps of resampleTaps. Resizing to the same size returns a copy.
func Resize(b *batch.Batch, h, w int) *batch.Batch {
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("data.Resize: invalid target size %dx%d", w, h))
	}
	if h == b.H && w == b.W {
		return b.Clone()
	}
	tx, ty := resampleTaps(b.W, w), resampleTaps(b.H, h)
	c := b.C
	tmp := make([]float32, b.H*w*c)
	out := batch.New(b.N, h, w, c)
	for n := range b.N {
		img := b.Data[n*b.ImageSize() : (n+1)*b.ImageSize()]
		clear(tmp)
		for y := range b.H {
			row := img[y*b.W*c : (y+1)*b.W*c]
			dst := tmp[y*w*c : (y+1)*w*c]
			for x, t := range tx {
				for k, i := range t.idx {
					for ch := range c {
						dst[x*c+ch] += t.wt[k] * row[i*c+ch]
					}
				}
			}
		}
		o := out.Data[n*out.ImageSize() : (n+1)*out.ImageSize()]
		for y, t := range ty {
			dst := o[y*w*c : (y+1)*w*c]
			for k, i := range t.idx {
				src := tmp[i*w*c : (i+1)*w*c]
				for x := range dst {
					dst[x] += t.wt[k] * src[x]
				}
			}
		}
	}
	return out
}

// NormalizePercentile rescales every image of b in place so that its lo-th percentile maps
// to 0 and its hi-th percentile to 1, clipping to [0, 1] (percentiles in percent over all
// pixels and channels, linear interpolation between order statistics; see the package doc).
// An image whose two percentiles coincide becomes all zeros.
func NormalizePercentile(b *batch.Batch, lo, hi float64) error {
	if !(lo >= 0 && lo < hi && hi <= 100) {
		return fmt.Errorf("percentile normalization: need 0 <= low < high <= 100, got %v and %v", lo, hi)
	}
	sorted := make([]float32, b.ImageSize())
	for n := range b.N {
		img := b.Image(n).Data
		copy(sorted, img)
		slices.Sort(sorted)
		plo, phi := percentile(sorted, lo), percentile(sorted, hi)
		scale := float32(0)
		if phi > plo {
			scale = float32(1 / (phi - plo))
		}
		for i, v := range img {
			img[i] = min(max((v-float32(plo))*scale, 0), 1)
		}
	}
	return nil
}

// percentile returns the p-th percentile (0..100) of sorted values with linear interpolation
// between order statistics: position p/100*(n-1).
func percentile(sorted []float32, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return float64(sorted[len(sorted)-1])
	}
	f := pos - float64(i)
	return float64(sorted[i])*(1-f) + float64(sorted[i+1])*f
}
