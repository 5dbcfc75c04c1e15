package operators

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// GaussianNoiseConfig configures noise.gaussian.
type GaussianNoiseConfig struct {
	Sigma float64 `yaml:"sigma" default:"0.1" check:">0" doc:"noise standard deviation, in [0,1] intensity units, > 0"`
}

// GaussianNoise is noise.gaussian: y = A(x) + σ ε, ε ~ N(0, I), drawn in element order with
// rng.NormFloat64. Per sample,
//
//	NLL(y | ax) = Σ_pixels (y - ax)² / (2σ²)
//
// dropping the constant H·W·C·log(σ√(2π)); NLLGrad = (ax - y) / σ². Moments: mean ax,
// variance σ².
type GaussianNoise struct{ sigma float64 }

// NewGaussianNoise builds noise.gaussian; a zero sigma takes the documented default.
func NewGaussianNoise(cfg GaussianNoiseConfig) (*GaussianNoise, error) {
	schema.FillDefaults(&cfg)
	if !(cfg.Sigma > 0) || math.IsInf(cfg.Sigma, 0) {
		return nil, fmt.Errorf("noise.gaussian: sigma must be > 0, got %v", cfg.Sigma)
	}
	return &GaussianNoise{cfg.Sigma}, nil
}

// Sigma returns σ.
func (g *GaussianNoise) Sigma() float64 { return g.sigma }

// Sample implements NoiseModel.
func (g *GaussianNoise) Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	y := batch.New(ax.N, ax.H, ax.W, ax.C)
	for i, v := range ax.Data {
		y.Data[i] = float32(float64(v) + g.sigma*rng.NormFloat64())
	}
	return y, nil
}

// NLL implements NoiseModel.
func (g *GaussianNoise) NLL(ctx context.Context, y, ax *batch.Batch) ([]float64, error) {
	return perSampleSum("noise.gaussian", y, ax, func(y, a float64) float64 {
		r := y - a
		return r * r / (2 * g.sigma * g.sigma)
	})
}

// NLLGrad implements NoiseModel.
func (g *GaussianNoise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	return elementwise("noise.gaussian", y, ax, func(y, a float64) float64 {
		return (a - y) / (g.sigma * g.sigma)
	})
}

// Moments implements NoiseMoments.
func (g *GaussianNoise) Moments(ctx context.Context, ax *batch.Batch) (mean, variance *batch.Batch, err error) {
	v := batch.New(ax.N, ax.H, ax.W, ax.C)
	for i := range v.Data {
		v.Data[i] = float32(g.sigma * g.sigma)
	}
	return ax.Clone(), v, nil
}

// NLLGraph implements GraphNoise.
func (g *GaussianNoise) NLLGraph(y, ax *graph.Node) *graph.Node {
	r := graph.Sub(y, ax)
	return graph.MulScalar(graph.ReduceSum(graph.Mul(r, r), 1, 2, 3), 1/(2*g.sigma*g.sigma))
}

// perSampleSum returns, per sample, Σ_pixels f(y, ax) accumulated in float64.
func perSampleSum(name string, y, ax *batch.Batch, f func(y, a float64) float64) ([]float64, error) {
	if err := checkSame(name+" NLL", y, ax); err != nil {
		return nil, err
	}
	out := make([]float64, ax.N)
	sz := ax.ImageSize()
	for n := range ax.N {
		s := 0.0
		for i := n * sz; i < (n+1)*sz; i++ {
			s += f(float64(y.Data[i]), float64(ax.Data[i]))
		}
		out[n] = s
	}
	return out, nil
}

// elementwise returns f(y, ax) per element.
func elementwise(name string, y, ax *batch.Batch, f func(y, a float64) float64) (*batch.Batch, error) {
	if err := checkSame(name+" NLLGrad", y, ax); err != nil {
		return nil, err
	}
	out := batch.New(ax.N, ax.H, ax.W, ax.C)
	for i := range out.Data {
		out.Data[i] = float32(f(float64(y.Data[i]), float64(ax.Data[i])))
	}
	return out, nil
}

func init() {
	registry.Register(registry.Entry{
		ID:      "noise.gaussian",
		Kind:    registry.KindNoise,
		Summary: "additive white Gaussian noise of standard deviation sigma",
		Config:  func() any { return &GaussianNoiseConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewGaussianNoise(*cfg.(*GaussianNoiseConfig)) },
	})
}

var (
	_ part.NoiseModel   = (*GaussianNoise)(nil)
	_ part.NoiseMoments = (*GaussianNoise)(nil)
	_ GraphNoise        = (*GaussianNoise)(nil)
)
