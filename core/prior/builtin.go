package prior

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// DefaultEpsilon is the default smoothing epsilon of prior.tv and prior.l1, in [0,1]
// intensity units: well below the contrast of an edge, large enough that the energies stay
// smooth where a difference or an intensity is near 0.
const DefaultEpsilon = 0.01

// SmoothConfig configures prior.tv and prior.l1.
type SmoothConfig struct {
	Epsilon float64 `yaml:"epsilon" default:"0.01" check:">0" doc:"Charbonnier smoothing epsilon, in [0,1] intensity units: sqrt(u² + eps²) - eps replaces |u|"`
}

// charbonnier returns sqrt(u² + eps²) - eps and its derivative u / sqrt(u² + eps²).
func charbonnier(u, eps float64) (value, slope float64) {
	s := math.Sqrt(u*u + eps*eps)
	return s - eps, u / s
}

// TV is prior.tv, the smoothed isotropic total variation (Rudin, Osher & Fatemi 1992, with
// the Charbonnier smoothing of Charbonnier et al. 1994) of each image, channels separately:
//
//	E(x) = Σ_{i,j,c} sqrt(dh[i,j,c]² + dv[i,j,c]² + eps²) - eps
//	dh[i,j,c] = x[i,j+1,c] - x[i,j,c],   dv[i,j,c] = x[i+1,j,c] - x[i,j,c]
//
// with forward differences that are 0 past the last row and column (Neumann boundary), so a
// constant image has energy 0. As eps -> 0 it tends to the isotropic TV Σ |∇x|.
type TV struct{ eps float64 }

// NewTV builds prior.tv; a zero epsilon takes DefaultEpsilon.
func NewTV(cfg SmoothConfig) (*TV, error) {
	eps, err := epsilon("prior.tv", cfg.Epsilon)
	return &TV{eps}, err
}

// Energy implements Prior.
func (p *TV) Energy(ctx context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	energy := make([]float64, x.N)
	grad := make([]float64, x.Size())
	h, w, c := x.H, x.W, x.C
	at := func(n, i, j, k int) float64 { return float64(x.Data[((n*h+i)*w+j)*c+k]) }
	for n := range x.N {
		for i := range h {
			for j := range w {
				for k := range c {
					v := at(n, i, j, k)
					var dh, dv float64
					if j+1 < w {
						dh = at(n, i, j+1, k) - v
					}
					if i+1 < h {
						dv = at(n, i+1, j, k) - v
					}
					s := math.Sqrt(dh*dh + dv*dv + p.eps*p.eps)
					energy[n] += s - p.eps
					// dE/d(dh) = dh/s and dE/d(dv) = dv/s, spread to the pixels of each difference.
					idx := ((n*h+i)*w+j)*c + k
					if j+1 < w {
						grad[idx] -= dh / s
						grad[idx+c] += dh / s
					}
					if i+1 < h {
						grad[idx] -= dv / s
						grad[idx+w*c] += dv / s
					}
				}
			}
		}
	}
	return energy, toBatch(x.Shape, grad), nil
}

// L1 is prior.l1, a smoothed sparsity prior on the intensities themselves (images that are
// mostly dark: digits, fluorescence, stars), as in the l1 regularization of compressed sensing
// (Candès, Romberg & Tao 2006; Donoho 2006):
//
//	E(x) = Σ_{i,j,c} sqrt(x[i,j,c]² + eps²) - eps
//
// whose gradient is x / sqrt(x² + eps²), about sign(x) away from 0.
type L1 struct{ eps float64 }

// NewL1 builds prior.l1; a zero epsilon takes DefaultEpsilon.
func NewL1(cfg SmoothConfig) (*L1, error) {
	eps, err := epsilon("prior.l1", cfg.Epsilon)
	return &L1{eps}, err
}

// Energy implements Prior.
func (p *L1) Energy(ctx context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	energy := make([]float64, x.N)
	grad := batch.New(x.N, x.H, x.W, x.C)
	sz := x.ImageSize()
	for i, v := range x.Data {
		e, g := charbonnier(float64(v), p.eps)
		energy[i/sz] += e
		grad.Data[i] = float32(g)
	}
	return energy, grad, nil
}

func epsilon(id string, eps float64) (float64, error) {
	if eps == 0 {
		eps = DefaultEpsilon
	}
	if !(eps > 0) || math.IsInf(eps, 0) {
		return 0, fmt.Errorf("%s: epsilon must be > 0 and finite, got %v", id, eps)
	}
	return eps, nil
}

func toBatch(s batch.Shape, v []float64) *batch.Batch {
	b := batch.New(s.N, s.H, s.W, s.C)
	for i, x := range v {
		b.Data[i] = float32(x)
	}
	return b
}

func init() {
	registry.Register(registry.Entry{
		ID:      "prior.tv",
		Kind:    registry.KindPrior,
		Summary: "smoothed isotropic total variation of each image (edges sparse, flat regions favoured)",
		Config:  func() any { return &SmoothConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewTV(*cfg.(*SmoothConfig)) },
	})
	registry.Register(registry.Entry{
		ID:      "prior.l1",
		Kind:    registry.KindPrior,
		Summary: "smoothed l1 norm of the intensities (sparse, mostly dark images)",
		Config:  func() any { return &SmoothConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewL1(*cfg.(*SmoothConfig)) },
	})
}

var (
	_ part.Prior = (*TV)(nil)
	_ part.Prior = (*L1)(nil)
)
