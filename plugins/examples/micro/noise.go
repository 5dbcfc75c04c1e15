package main

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/randx"
	"github.com/flowdiff/flowdiff-go/registry"
)

// NoiseConfig configures micro.poisson_gaussian.
type NoiseConfig struct {
	Photons   float64 `yaml:"photons" default:"200" check:">0" doc:"expected photons at intensity 1 (shot-noise level)"`
	ReadNoise float64 `yaml:"read_noise" default:"0.01" check:">=0" doc:"camera read noise, standard deviation in [0,1] intensity units"`
}

// Noise is micro.poisson_gaussian.
type Noise struct{ photons, read float64 }

func (n *Noise) variance(a float64) float64 { return max(a, 0)/n.photons + n.read*n.read + 1e-12 }

// Sample implements part.NoiseModel.
func (n *Noise) Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	y := batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, a := range ax.Data {
		shot := float64(randx.Poisson(rng, n.photons*max(float64(a), 0))) / n.photons
		y.Data[i] = float32(shot + n.read*rng.NormFloat64())
	}
	return y, nil
}

// NLL implements part.NoiseModel: Σ ½((y-a)²/var(a) + log var(a)) per sample.
func (n *Noise) NLL(ctx context.Context, y, ax *batch.Batch) ([]float64, error) {
	if err := batch.SameShape(y, ax); err != nil {
		return nil, err
	}
	out := make([]float64, ax.N)
	size := ax.ImageSize()
	for i, a := range ax.Data {
		d, v := float64(y.Data[i])-float64(a), n.variance(float64(a))
		out[i/size] += 0.5 * (d*d/v + math.Log(v))
	}
	return out, nil
}

// NLLGrad implements part.NoiseModel: -(y-a)/v + ½ v'(a) (1/v - (y-a)²/v²), with
// v'(a) = 1/photons for a > 0 and 0 otherwise.
func (n *Noise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	if err := batch.SameShape(y, ax); err != nil {
		return nil, err
	}
	g := batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, a := range ax.Data {
		d, v := float64(y.Data[i])-float64(a), n.variance(float64(a))
		dv := 0.0
		if a > 0 {
			dv = 1 / n.photons
		}
		g.Data[i] = float32(-d/v + 0.5*dv*(1/v-d*d/(v*v)))
	}
	return g, nil
}

// Moments implements part.NoiseMoments: mean max(a,0), variance var(a).
func (n *Noise) Moments(ctx context.Context, ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	mean, variance = batch.New(ax.N, ax.H, ax.W, ax.C), batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, a := range ax.Data {
		mean.Data[i] = float32(max(float64(a), 0))
		variance.Data[i] = float32(n.variance(float64(a)) - 1e-12)
	}
	return mean, variance, nil
}

var noiseEntry = registry.Entry{
	ID: "micro.poisson_gaussian", Kind: registry.KindNoise,
	Summary: "camera noise: Poisson shot noise (photons at intensity 1) plus Gaussian read noise",
	Config:  func() any { return &NoiseConfig{} },
	New: func(_ context.Context, cfg any) (any, error) {
		c := cfg.(*NoiseConfig)
		return &Noise{photons: c.Photons, read: c.ReadNoise}, nil
	},
}

var (
	_ part.NoiseModel   = (*Noise)(nil)
	_ part.NoiseMoments = (*Noise)(nil)
)
