package main

import (
	"math"
	"math/bits"
	"math/cmplx"
)

// dft is a 1-D discrete Fourier transform of one length: radix-2 Cooley-Tukey for powers of
// two, the direct O(n²) sum otherwise (the sizes here are small). forward computes
// X_k = Σ x_j e^{-2πi jk/n}; the inverse uses e^{+2πi jk/n} and divides by n.
type dft struct {
	n   int
	tw  []complex128 // e^{-2πi k/n}, k < n
	pow bool
}

func newDFT(n int) *dft {
	d := &dft{n: n, tw: make([]complex128, n), pow: n&(n-1) == 0}
	for k := range n {
		d.tw[k] = cmplx.Exp(complex(0, -2*math.Pi*float64(k)/float64(n)))
	}
	return d
}

// transform replaces a (length n) by its DFT (inverse when inv), using scratch (length n).
func (d *dft) transform(a, scratch []complex128, inv bool) {
	n := d.n
	if n == 1 {
		return
	}
	tw := func(k int) complex128 {
		t := d.tw[k%n]
		if inv {
			return cmplx.Conj(t)
		}
		return t
	}
	if d.pow {
		shift := 64 - bits.Len(uint(n-1))
		for i := range n {
			if j := int(bits.Reverse64(uint64(i)) >> shift); j > i {
				a[i], a[j] = a[j], a[i]
			}
		}
		for size := 2; size <= n; size <<= 1 {
			step := n / size
			for start := 0; start < n; start += size {
				for k := range size / 2 {
					t := tw(k*step) * a[start+k+size/2]
					a[start+k+size/2] = a[start+k] - t
					a[start+k] += t
				}
			}
		}
	} else {
		for k := range n {
			var s complex128
			for j, v := range a {
				s += v * tw(j*k)
			}
			scratch[k] = s
		}
		copy(a, scratch)
	}
	if inv {
		for i := range a {
			a[i] /= complex(float64(n), 0)
		}
	}
}

// fft2 transforms an h x w row-major grid in place: rows, then columns.
func fft2(g []complex128, h, w int, rows, cols *dft, inv bool) {
	scratch := make([]complex128, max(h, w))
	col := make([]complex128, h)
	for y := range h {
		rows.transform(g[y*w:(y+1)*w], scratch, inv)
	}
	for x := range w {
		for y := range h {
			col[y] = g[y*w+x]
		}
		cols.transform(col, scratch, inv)
		for y := range h {
			g[y*w+x] = col[y]
		}
	}
}
