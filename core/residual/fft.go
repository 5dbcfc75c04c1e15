package residual

import (
	"math"
	"math/bits"
)

// fft2 transforms the h×w complex image (re, im), row-major, in place: the unnormalized 2-D
// discrete Fourier transform X[k,l] = Σ_{y,x} x[y,x] e^{-2πi(ky/h + lx/w)}, as rows then
// columns of 1-D transforms.
func fft2(re, im []float64, h, w int) {
	rr, ri := make([]float64, w), make([]float64, w)
	for y := range h {
		copy(rr, re[y*w:(y+1)*w])
		copy(ri, im[y*w:(y+1)*w])
		fft1(rr, ri)
		copy(re[y*w:], rr)
		copy(im[y*w:], ri)
	}
	cr, ci := make([]float64, h), make([]float64, h)
	for x := range w {
		for y := range h {
			cr[y], ci[y] = re[y*w+x], im[y*w+x]
		}
		fft1(cr, ci)
		for y := range h {
			re[y*w+x], im[y*w+x] = cr[y], ci[y]
		}
	}
}

// fft1 is the in-place 1-D DFT: iterative radix-2 Cooley-Tukey for a power-of-two length,
// the direct O(n²) sum otherwise (images here are small or powers of two).
func fft1(re, im []float64) {
	n := len(re)
	if n <= 1 {
		return
	}
	if n&(n-1) != 0 {
		dft(re, im)
		return
	}
	shift := 64 - uint(bits.TrailingZeros(uint(n)))
	for i := range n {
		j := int(bits.Reverse64(uint64(i)) >> shift)
		if j > i {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		step := -2 * math.Pi / float64(size)
		for start := 0; start < n; start += size {
			for k := range size / 2 {
				wr, wi := math.Cos(step*float64(k)), math.Sin(step*float64(k))
				a, b := start+k, start+k+size/2
				tr := wr*re[b] - wi*im[b]
				ti := wr*im[b] + wi*re[b]
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a], im[a] = re[a]+tr, im[a]+ti
			}
		}
	}
}

func dft(re, im []float64) {
	n := len(re)
	or, oi := make([]float64, n), make([]float64, n)
	for k := range n {
		for t := range n {
			a := -2 * math.Pi * float64(k*t%n) / float64(n)
			c, s := math.Cos(a), math.Sin(a)
			or[k] += re[t]*c - im[t]*s
			oi[k] += re[t]*s + im[t]*c
		}
	}
	copy(re, or)
	copy(im, oi)
}
