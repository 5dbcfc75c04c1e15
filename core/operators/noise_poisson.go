package operators

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/randx"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// PoissonFloor is the smallest intensity at which the Poisson likelihood is evaluated: NLL uses
// max(ax, PoissonFloor), so a non-positive A(x) gives a finite value (and a zero gradient).
const PoissonFloor = 1e-4

// PoissonNoiseConfig configures noise.poisson.
type PoissonNoiseConfig struct {
	Photons float64 `yaml:"photons" default:"100" check:">0" doc:"expected photon count of a pixel of intensity 1 (the scale); higher means less noise"`
}

// PoissonNoise is noise.poisson, shot noise: y = Poisson(P · max(ax, 0)) / P with P photons.
// With k = P·y and λ = P·max(ax, PoissonFloor), per sample
//
//	NLL(y | ax) = Σ_pixels λ - k log λ
//
// dropping log k! (constant in ax); NLLGrad = P (1 - k/λ) where ax > PoissonFloor, 0 below (the
// clamp). Moments: mean max(ax, 0), variance max(ax, 0)/P.
type PoissonNoise struct{ photons float64 }

// NewPoissonNoise builds noise.poisson; a zero photons takes the documented default.
func NewPoissonNoise(cfg PoissonNoiseConfig) (*PoissonNoise, error) {
	schema.FillDefaults(&cfg)
	if !(cfg.Photons > 0) || math.IsInf(cfg.Photons, 0) {
		return nil, fmt.Errorf("noise.poisson: photons must be > 0, got %v", cfg.Photons)
	}
	return &PoissonNoise{cfg.Photons}, nil
}

// Sample implements NoiseModel.
func (p *PoissonNoise) Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	y := batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, v := range ax.Data {
		y.Data[i] = float32(float64(randx.Poisson(rng, p.photons*max(float64(v), 0))) / p.photons)
	}
	return y, nil
}

// NLL implements NoiseModel.
func (p *PoissonNoise) NLL(ctx context.Context, y, ax *batch.Batch) ([]float64, error) {
	return perSampleSum("noise.poisson", y, ax, func(y, a float64) float64 {
		lam := p.photons * max(a, PoissonFloor)
		return lam - p.photons*y*math.Log(lam)
	})
}

// NLLGrad implements NoiseModel.
func (p *PoissonNoise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	return elementwise("noise.poisson", y, ax, func(y, a float64) float64 {
		if a <= PoissonFloor {
			return 0
		}
		return p.photons * (1 - y/a)
	})
}

// Moments implements NoiseMoments.
func (p *PoissonNoise) Moments(ctx context.Context, ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	mean, variance = batch.New(ax.N, ax.H, ax.W, ax.C), batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, v := range ax.Data {
		m := max(float64(v), 0)
		mean.Data[i], variance.Data[i] = float32(m), float32(m/p.photons)
	}
	return mean, variance, nil
}

// NLLGraph implements GraphNoise.
func (p *PoissonNoise) NLLGraph(y, ax *graph.Node) *graph.Node {
	lam := graph.MulScalar(graph.MaxScalar(ax, PoissonFloor), p.photons)
	k := graph.MulScalar(y, p.photons)
	return graph.ReduceSum(graph.Sub(lam, graph.Mul(k, graph.Log(lam))), 1, 2, 3)
}

// PoissonGaussianNoiseConfig configures noise.poisson_gaussian.
type PoissonGaussianNoiseConfig struct {
	Gain   float64 `yaml:"gain" default:"0.01" check:">0" doc:"intensity of one detected photon (camera gain), [0,1] intensity units per photon; shot-noise variance is gain·A(x)"`
	Sigma  float64 `yaml:"sigma" default:"0.01" check:">0" doc:"read-noise standard deviation, intensity units"`
	Offset float64 `yaml:"offset" default:"0" doc:"camera baseline added to every pixel, intensity units"`
}

// PoissonGaussianNoise is noise.poisson_gaussian, the camera model of fluorescence microscopy:
//
//	y = offset + g · Poisson(max(ax, 0) / g) + σ ε,   ε ~ N(0, 1),
//
// with gain g and read noise σ, so E[y] = offset + max(ax, 0) and Var[y] = g·max(ax, 0) + σ².
// NLL uses the usual Gaussian approximation (e.g. Foi et al., IEEE TIP 17(10), 2008) with
// r = y - offset - ax and v = g·max(ax, 0) + σ²:
//
//	NLL(y | ax) = Σ_pixels r²/(2v) + ½ log v
//
// dropping ½ log 2π per pixel. NLLGrad = -r/v + g·[ax > 0]·(1/(2v) - r²/(2v²)).
type PoissonGaussianNoise struct{ gain, sigma, offset float64 }

// NewPoissonGaussianNoise builds noise.poisson_gaussian; zero gain or sigma take the
// documented defaults.
func NewPoissonGaussianNoise(cfg PoissonGaussianNoiseConfig) (*PoissonGaussianNoise, error) {
	schema.FillDefaults(&cfg)
	if !(cfg.Gain > 0) || !(cfg.Sigma > 0) || math.IsInf(cfg.Gain+cfg.Sigma, 0) || math.IsNaN(cfg.Offset) || math.IsInf(cfg.Offset, 0) {
		return nil, fmt.Errorf("noise.poisson_gaussian: gain and sigma must be > 0 and offset finite, got %v, %v, %v", cfg.Gain, cfg.Sigma, cfg.Offset)
	}
	return &PoissonGaussianNoise{cfg.Gain, cfg.Sigma, cfg.Offset}, nil
}

// Sample implements NoiseModel: per element, the Poisson draw then the Gaussian draw.
func (p *PoissonGaussianNoise) Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	y := batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, v := range ax.Data {
		k := randx.Poisson(rng, max(float64(v), 0)/p.gain)
		y.Data[i] = float32(p.offset + p.gain*float64(k) + p.sigma*rng.NormFloat64())
	}
	return y, nil
}

func (p *PoissonGaussianNoise) variance(a float64) float64 { return p.gain*max(a, 0) + p.sigma*p.sigma }

// NLL implements NoiseModel.
func (p *PoissonGaussianNoise) NLL(ctx context.Context, y, ax *batch.Batch) ([]float64, error) {
	return perSampleSum("noise.poisson_gaussian", y, ax, func(y, a float64) float64 {
		r, v := y-p.offset-a, p.variance(a)
		return r*r/(2*v) + 0.5*math.Log(v)
	})
}

// NLLGrad implements NoiseModel.
func (p *PoissonGaussianNoise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	return elementwise("noise.poisson_gaussian", y, ax, func(y, a float64) float64 {
		r, v := y-p.offset-a, p.variance(a)
		g := -r / v
		if a > 0 {
			g += p.gain * (1/(2*v) - r*r/(2*v*v))
		}
		return g
	})
}

// Moments implements NoiseMoments.
func (p *PoissonGaussianNoise) Moments(ctx context.Context, ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	mean, variance = batch.New(ax.N, ax.H, ax.W, ax.C), batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, v := range ax.Data {
		a := float64(v)
		mean.Data[i], variance.Data[i] = float32(p.offset+max(a, 0)), float32(p.variance(a))
	}
	return mean, variance, nil
}

// NLLGraph implements GraphNoise.
func (p *PoissonGaussianNoise) NLLGraph(y, ax *graph.Node) *graph.Node {
	r := graph.Sub(graph.AddScalar(y, -p.offset), ax)
	v := graph.AddScalar(graph.MulScalar(graph.MaxScalar(ax, 0), p.gain), p.sigma*p.sigma)
	per := graph.Add(graph.Div(graph.Mul(r, r), graph.MulScalar(v, 2)), graph.MulScalar(graph.Log(v), 0.5))
	return graph.ReduceSum(per, 1, 2, 3)
}

func init() {
	registry.Register(registry.Entry{
		ID:      "noise.poisson",
		Kind:    registry.KindNoise,
		Summary: "Poisson shot noise: y = Poisson(photons * A(x)) / photons",
		Config:  func() any { return &PoissonNoiseConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewPoissonNoise(*cfg.(*PoissonNoiseConfig)) },
	})
	registry.Register(registry.Entry{
		ID:      "noise.poisson_gaussian",
		Kind:    registry.KindNoise,
		Summary: "microscopy camera noise: offset + gain * Poisson(A(x)/gain) + Gaussian read noise",
		Config:  func() any { return &PoissonGaussianNoiseConfig{} },
		New: func(_ context.Context, cfg any) (any, error) {
			return NewPoissonGaussianNoise(*cfg.(*PoissonGaussianNoiseConfig))
		},
	})
}

var (
	_ part.NoiseModel   = (*PoissonNoise)(nil)
	_ part.NoiseMoments = (*PoissonNoise)(nil)
	_ GraphNoise        = (*PoissonNoise)(nil)
	_ part.NoiseModel   = (*PoissonGaussianNoise)(nil)
	_ part.NoiseMoments = (*PoissonGaussianNoise)(nil)
	_ GraphNoise        = (*PoissonGaussianNoise)(nil)
)
