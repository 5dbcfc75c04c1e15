package operators

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Kernel is a 2-D blur kernel, row-major: K[a*W+b] is tap (a, b). Its center is
// ((H-1)/2, (W-1)/2), as in scipy.signal.convolve2d(mode="same").
type Kernel struct {
	H, W int
	K    []float64
}

// center returns the kernel center (cy, cx).
func (k *Kernel) center() (int, int) { return (k.H - 1) / 2, (k.W - 1) / 2 }

// At returns tap (a, b).
func (k *Kernel) At(a, b int) float64 { return k.K[a*k.W+b] }

// Sum returns the sum of the taps.
func (k *Kernel) Sum() float64 {
	s := 0.0
	for _, v := range k.K {
		s += v
	}
	return s
}

// flipped returns the kernel rotated by 180 degrees.
func (k *Kernel) flipped() *Kernel {
	out := &Kernel{H: k.H, W: k.W, K: make([]float64, len(k.K))}
	for i, v := range k.K {
		out.K[len(k.K)-1-i] = v
	}
	return out
}

// corrPlan is a correlation out[i,j] = Σ_{a,b} w[a,b] in[i+a-oy, j+b-ox] with zero padding;
// both the convolution with k and its adjoint are of this form (see convPlan).
type corrPlan struct {
	w      *Kernel
	oy, ox int
}

// convPlan returns the correlation that computes the "same" convolution with k
// (adjoint=false) or its adjoint (adjoint=true).
//
// Forward: y[i,j] = Σ k[a,b] x[i+cy-a, j+cx-b] = Σ k'[a',b'] x[i+a'-(kh-1-cy), ...] with k'
// the flipped kernel. Adjoint: x̂[p,q] = Σ k[a,b] v[p+a-cy, q+b-cx].
func convPlan(k *Kernel, adjoint bool) corrPlan {
	cy, cx := k.center()
	if adjoint {
		return corrPlan{w: k, oy: cy, ox: cx}
	}
	return corrPlan{w: k.flipped(), oy: k.H - 1 - cy, ox: k.W - 1 - cx}
}

// correlate applies the plan to every image and channel of src (each channel independently),
// splitting the images over GOMAXPROCS goroutines. Sums are accumulated in float64.
func (pl corrPlan) correlate(ctx context.Context, src *batch.Batch) (*batch.Batch, error) {
	dst := batch.New(src.N, src.H, src.W, src.C)
	H, W, C := src.H, src.W, src.C
	row := W * C
	err := parallelImages(ctx, src.N, func(n int) {
		in := src.Data[n*H*row : (n+1)*H*row]
		out := dst.Data[n*H*row : (n+1)*H*row]
		acc := make([]float64, row)
		for i := range H {
			clear(acc)
			for a := range pl.w.H {
				ii := i + a - pl.oy
				if ii < 0 || ii >= H {
					continue
				}
				inRow := in[ii*row : (ii+1)*row]
				for b := range pl.w.W {
					wv := pl.w.K[a*pl.w.W+b]
					if wv == 0 {
						continue
					}
					dx := b - pl.ox // out[j] += wv * in[j+dx]
					j0, j1 := max(0, -dx), min(W, W-dx)
					if j0 >= j1 {
						continue
					}
					o := acc[j0*C : j1*C]
					s := inRow[(j0+dx)*C : (j1+dx)*C]
					for t := range o {
						o[t] += wv * float64(s[t])
					}
				}
			}
			dstRow := out[i*row : (i+1)*row]
			for t, v := range acc {
				dstRow[t] = float32(v)
			}
		}
	})
	return dst, err
}

// separable1D applies, along one axis (1 = height, 2 = width) of every image and channel, the
// 1-D "same" convolution with g (centered at (len(g)-1)/2) or its adjoint, with zero padding.
func separable1D(ctx context.Context, src *batch.Batch, g []float64, axis int, adjoint bool) (*batch.Batch, error) {
	k := &Kernel{H: 1, W: len(g), K: g}
	if axis == 1 {
		k = &Kernel{H: len(g), W: 1, K: g}
	}
	return convPlan(k, adjoint).correlate(ctx, src)
}

// parallelImages calls fn(n) for n in [0, count) on up to GOMAXPROCS goroutines and returns
// ctx's error if it was cancelled (remaining images are then skipped).
func parallelImages(ctx context.Context, count int, fn func(n int)) error {
	workers := min(runtime.GOMAXPROCS(0), count)
	if workers <= 1 {
		for n := range count {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(n)
		}
		return nil
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				fn(n)
			}
		}()
	}
	var err error
	for n := range count {
		if err = ctx.Err(); err != nil {
			break
		}
		next <- n
	}
	close(next)
	wg.Wait()
	return err
}

// bandedMatrix returns the [n,n] matrix B, row-major, of the 1-D "same" convolution with g
// with zero padding: (B x)[i] = Σ_a g[a] x[i+c-a], c = (len(g)-1)/2.
func bandedMatrix(g []float64, n int) []float32 {
	m := make([]float32, n*n)
	c := (len(g) - 1) / 2
	for i := range n {
		for a, v := range g {
			if j := i + c - a; j >= 0 && j < n {
				m[i*n+j] += float32(v)
			}
		}
	}
	return m
}

// denseMatrix returns the [HW,HW] matrix M, row-major, of the "same" convolution with k on an
// H x W image with zero padding: y[i*W+j] = Σ_p M[i*W+j, p] x[p].
func denseMatrix(k *Kernel, h, w int) []float32 {
	hw := h * w
	m := make([]float32, hw*hw)
	cy, cx := k.center()
	for i := range h {
		for j := range w {
			r := (i*w + j) * hw
			for a := range k.H {
				ii := i + cy - a
				if ii < 0 || ii >= h {
					continue
				}
				for b := range k.W {
					jj := j + cx - b
					if jj >= 0 && jj < w {
						m[r+ii*w+jj] += float32(k.K[a*k.W+b])
					}
				}
			}
		}
	}
	return m
}

// gaussian1D returns the normalized 1-D Gaussian of the given odd size and sigma (pixels),
// sampled at integer offsets from the center.
func gaussian1D(size int, sigma float64) []float64 {
	g := make([]float64, size)
	c := (size - 1) / 2
	s := 0.0
	for i := range g {
		d := float64(i - c)
		g[i] = math.Exp(-d * d / (2 * sigma * sigma))
		s += g[i]
	}
	for i := range g {
		g[i] /= s
	}
	return g
}

// validateKernel checks that k has a usable size and finite taps.
func validateKernel(k *Kernel) error {
	if k.H < 1 || k.W < 1 || len(k.K) != k.H*k.W {
		return fmt.Errorf("kernel of %dx%d with %d taps", k.H, k.W, len(k.K))
	}
	if k.H > MaxKernelSize || k.W > MaxKernelSize {
		return fmt.Errorf("kernel is %dx%d; at most %dx%d is supported", k.H, k.W, MaxKernelSize, MaxKernelSize)
	}
	for i, v := range k.K {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("kernel tap (%d,%d) is %v", i/k.W, i%k.W, v)
		}
	}
	return nil
}

// MaxKernelSize is the largest kernel height or width accepted, in pixels.
const MaxKernelSize = 255
