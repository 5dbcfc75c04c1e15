package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// WidefieldConfig configures micro.widefield.
type WidefieldConfig struct {
	PSF        string  `yaml:"psf" default:"airy" check:"oneof=airy|gaussian" doc:"PSF model: airy (in-focus Airy pattern) or gaussian (its Gaussian approximation, or sigma_px)"`
	Wavelength float64 `yaml:"wavelength_nm" default:"520" check:">0" doc:"emission wavelength, nm"`
	NA         float64 `yaml:"na" default:"1.0" check:">0,<=1.7" doc:"numerical aperture of the objective"`
	Pixel      float64 `yaml:"pixel_nm" default:"100" check:">0" doc:"pixel size in the sample plane, nm"`
	Sigma      float64 `yaml:"sigma_px" default:"0" check:">=0" doc:"psf: gaussian only: standard deviation in pixels; 0 derives it from the optics (0.21 λ/NA)"`
	Radius     int     `yaml:"radius" default:"0" check:">=0,<=64" doc:"kernel half-width in pixels; 0 chooses 3σ (gaussian) or the third dark ring (airy)"`
}

// Check implements schema.Checker.
func (c *WidefieldConfig) Check() []schema.Problem {
	if c.PSF == "airy" && c.Sigma != 0 {
		return []schema.Problem{{Field: "sigma_px", Msg: "applies to psf: gaussian only"}}
	}
	return nil
}

// Widefield is the operator micro.widefield: y = k * x with the PSF k (odd square kernel).
type Widefield struct {
	k   []float64 // (2r+1)² taps, sums to 1, symmetric under flips
	r   int
	sep []float64 // gaussian: the 1-D taps with k = sep ⊗ sep, applied along H then W
}

// NewWidefield builds the PSF kernel from cfg.
func NewWidefield(cfg WidefieldConfig) (*Widefield, error) {
	pixel := cfg.Pixel / cfg.Wavelength // pixel size in wavelengths
	switch cfg.PSF {
	case "gaussian":
		s := cfg.Sigma
		if s == 0 {
			s = 0.21 / cfg.NA / pixel
		}
		r := cfg.Radius
		if r == 0 {
			r = int(math.Ceil(3 * s))
		}
		w := newKernel(r, func(x, y float64) float64 { return math.Exp(-(x*x + y*y) / (2 * s * s)) }, 1)
		w.sep = make([]float64, 2*r+1)
		sum := 0.0
		for i := range w.sep {
			w.sep[i] = math.Exp(-float64((i-r)*(i-r)) / (2 * s * s))
			sum += w.sep[i]
		}
		for i := range w.sep {
			w.sep[i] /= sum
		}
		return w, nil
	case "airy":
		r := cfg.Radius
		if r == 0 {
			r = int(math.Ceil(1.62 / cfg.NA / pixel)) // third zero of J1 at v = 10.17: r = 1.62 λ/NA
		}
		if r > 64 {
			return nil, fmt.Errorf("the Airy kernel would need a radius of %d pixels (> 64): increase pixel_nm or set radius", r)
		}
		airy := func(x, y float64) float64 {
			v := 2 * math.Pi * cfg.NA * math.Hypot(x, y) * pixel
			if v < 1e-9 {
				return 1
			}
			a := 2 * math.J1(v) / v
			return a * a
		}
		return newKernel(r, airy, 4), nil
	}
	return nil, fmt.Errorf("psf %q: use airy or gaussian", cfg.PSF)
}

// newKernel samples f (in pixels from the center) averaged over sub x sub points per pixel,
// normalized to sum 1.
func newKernel(r int, f func(x, y float64) float64, sub int) *Widefield {
	n := 2*r + 1
	k := make([]float64, n*n)
	sum := 0.0
	for i := range n {
		for j := range n {
			v := 0.0
			for a := range sub {
				for b := range sub {
					v += f(float64(j-r)+(float64(b)+0.5)/float64(sub)-0.5, float64(i-r)+(float64(a)+0.5)/float64(sub)-0.5)
				}
			}
			k[i*n+j] = v
			sum += v
		}
	}
	for i := range k {
		k[i] /= sum
	}
	return &Widefield{k: k, r: r}
}

// OutShape implements part.Operator: y has x's shape.
func (w *Widefield) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	if !in.Valid() {
		return in, fmt.Errorf("micro.widefield: invalid input shape %s", in)
	}
	return in, nil
}

// SampleParams implements part.Operator: the PSF has no per-sample parameters.
func (w *Widefield) SampleParams(context.Context, *rand.Rand, batch.Shape) (part.Params, error) {
	return nil, nil
}

// IsLinear implements part.LinearOperator.
func (w *Widefield) IsLinear() bool { return true }

// Apply implements part.Operator.
func (w *Widefield) Apply(ctx context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	return w.conv(ctx, x)
}

// VJP implements part.Operator: the kernel is symmetric, so the adjoint (a correlation
// with zero padding) is the same convolution.
func (w *Widefield) VJP(ctx context.Context, x, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	if v.Shape != x.Shape {
		return nil, fmt.Errorf("micro.widefield VJP: v has shape %s, want %s", v.Shape, x.Shape)
	}
	return w.conv(ctx, v)
}

// conv convolves every image and channel with k, images in parallel.
func (w *Widefield) conv(ctx context.Context, x *batch.Batch) (*batch.Batch, error) {
	y := batch.New(x.N, x.H, x.W, x.C)
	n, r := 2*w.r+1, w.r
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for img := range next {
				if w.sep != nil {
					w.separable(x, y, img)
					continue
				}
				for yy := range x.H {
					for xx := range x.W {
						for c := range x.C {
							s := 0.0
							for i := max(0, r-yy); i < min(n, x.H-yy+r); i++ {
								row := w.k[i*n:]
								for j := max(0, r-xx); j < min(n, x.W-xx+r); j++ {
									s += row[j] * float64(x.At(img, yy+i-r, xx+j-r, c))
								}
							}
							y.Set(img, yy, xx, c, float32(s))
						}
					}
				}
			}
		})
	}
	var err error
	for img := range x.N {
		if err = ctx.Err(); err != nil {
			break
		}
		next <- img
	}
	close(next)
	wg.Wait()
	return y, err
}

// separable convolves image img of x with sep along H, then along W, into y.
func (w *Widefield) separable(x, y *batch.Batch, img int) {
	r, n := w.r, len(w.sep)
	tmp := make([]float64, x.H*x.W*x.C)
	off := img * x.H * x.W * x.C
	for yy := range x.H {
		for i := max(0, r-yy); i < min(n, x.H-yy+r); i++ {
			src := x.Data[off+(yy+i-r)*x.W*x.C:][:x.W*x.C]
			dst := tmp[yy*x.W*x.C:][:x.W*x.C]
			k := w.sep[i]
			for j, v := range src {
				dst[j] += k * float64(v)
			}
		}
	}
	out := y.Data[off:][:x.H*x.W*x.C]
	for yy := range x.H {
		row := tmp[yy*x.W*x.C:][:x.W*x.C]
		for xx := range x.W {
			for c := range x.C {
				s := 0.0
				for j := max(0, r-xx); j < min(n, x.W-xx+r); j++ {
					s += w.sep[j] * row[(xx+j-r)*x.C+c]
				}
				out[(yy*x.W+xx)*x.C+c] = float32(s)
			}
		}
	}
}

var widefieldEntry = registry.Entry{
	ID: "micro.widefield", Kind: registry.KindOperator, Linear: true,
	Summary: "widefield microscope PSF (Airy pattern or its Gaussian approximation) from wavelength, NA and pixel size",
	Config:  func() any { return &WidefieldConfig{} },
	Example: "psf: airy\nwavelength_nm: 520\nna: 1.2\npixel_nm: 130\n",
	New:     func(_ context.Context, cfg any) (any, error) { return NewWidefield(*cfg.(*WidefieldConfig)) },
}

var (
	_ part.LinearOperator = (*Widefield)(nil)
	_ schema.Checker      = (*WidefieldConfig)(nil)
)
