package operators

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/randx"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestNLLAgainstLogDensity compares each NLL, plus the constant it documents as dropped, with
// the negative log-density written out independently; tolerance 1e-9 relative (float64).
func TestNLLAgainstLogDensity(t *testing.T) {
	s := batch.Shape{N: 3, H: 4, W: 5, C: 2}
	ax := randBatch(1, s)
	for i := range ax.Data {
		ax.Data[i] = 0.1 + 0.8*ax.Data[i]
	}
	gauss, _ := NewGaussianNoise(GaussianNoiseConfig{Sigma: 0.2})
	pois, _ := NewPoissonNoise(PoissonNoiseConfig{Photons: 64}) // k/64 is exact in float32
	pg, _ := NewPoissonGaussianNoise(PoissonGaussianNoiseConfig{Gain: 0.02, Sigma: 0.05, Offset: 0.1})
	normal := func(y, mu, v float64) float64 { // -log N(y; mu, v)
		return -math.Log(math.Exp(-(y-mu)*(y-mu)/(2*v)) / math.Sqrt(2*math.Pi*v))
	}
	cases := []struct {
		name  string
		nm    part.NoiseModel
		exact func(y, a float64) float64 // -log p(y|a) per element
		drop  func(y float64) float64    // the dropped constant per element
	}{
		{"gaussian", gauss, func(y, a float64) float64 { return normal(y, a, 0.04) },
			func(float64) float64 { return math.Log(0.2 * math.Sqrt(2*math.Pi)) }},
		{"poisson", pois, func(y, a float64) float64 { // -log(λ^k e^-λ / k!)
			k, lam := 64*y, 64*a
			lg, _ := math.Lgamma(k + 1)
			return -(k*math.Log(lam) - lam - lg)
		}, func(y float64) float64 { lg, _ := math.Lgamma(64*y + 1); return lg }},
		{"poisson_gaussian", pg, func(y, a float64) float64 { return normal(y, 0.1+a, 0.02*a+0.0025) },
			func(float64) float64 { return 0.5 * math.Log(2*math.Pi) }},
	}
	for _, c := range cases {
		y, err := c.nm.Sample(ctx, rand.New(rand.NewPCG(5, 6)), ax)
		if err != nil {
			t.Fatal(err)
		}
		nll, err := c.nm.NLL(ctx, y, ax)
		if err != nil {
			t.Fatal(err)
		}
		sz := s.ImageSize()
		for n := range s.N {
			want, dropped := 0.0, 0.0
			for i := n * sz; i < (n+1)*sz; i++ {
				want += c.exact(float64(y.Data[i]), float64(ax.Data[i]))
				dropped += c.drop(float64(y.Data[i]))
			}
			if got := nll[n] + dropped; math.Abs(got-want) > 1e-9*math.Abs(want) {
				t.Errorf("%s sample %d: NLL + dropped constant = %.12g, -log p = %.12g", c.name, n, got, want)
			}
		}
	}
}

// TestPoissonSampler checks the sampler against known Poisson facts: P(0) = e^-λ at small λ
// (inversion branch), and mean and variance λ at λ = 1000 (PTRS branch); 5 standard errors.
func TestPoissonSampler(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 40000
	zeros := 0
	for range n {
		if randx.Poisson(rng, 0.5) == 0 {
			zeros++
		}
	}
	p0 := math.Exp(-0.5)
	if se := math.Sqrt(p0 * (1 - p0) / n); math.Abs(float64(zeros)/n-p0) > 5*se {
		t.Errorf("P(k=0 | λ=0.5) = %.4f, want %.4f ± %.4f", float64(zeros)/n, p0, 5*se)
	}
	var s, s2 float64
	for range n {
		k := float64(randx.Poisson(rng, 1000))
		s += k
		s2 += k * k
	}
	mean := s / n
	variance := s2/n - mean*mean
	if math.Abs(mean-1000) > 5*math.Sqrt(1000.0/n) {
		t.Errorf("mean %.2f at λ=1000", mean)
	}
	if math.Abs(variance-1000) > 5*1000*math.Sqrt(2.0/n) {
		t.Errorf("variance %.1f at λ=1000", variance)
	}
}

// TestNoiseClamps: non-positive A(x) gives finite NLLs, a zero Poisson gradient (the floor),
// zero Poisson counts, and the Poisson-Gaussian offset as mean.
func TestNoiseClamps(t *testing.T) {
	ax := batch.New(1, 1, 3, 1)
	copy(ax.Data, []float32{-1, 0, 5e-5})
	y := batch.New(1, 1, 3, 1)
	copy(y.Data, []float32{0.02, 0, 0.01})
	pois, _ := NewPoissonNoise(PoissonNoiseConfig{Photons: 100})
	nll, _ := pois.NLL(ctx, y, ax)
	if math.IsNaN(nll[0]) || math.IsInf(nll[0], 0) {
		t.Errorf("Poisson NLL at A(x) <= 0 is %v", nll[0])
	}
	g, _ := pois.NLLGrad(ctx, y, ax)
	for i, v := range g.Data {
		if v != 0 {
			t.Errorf("Poisson NLLGrad below the floor at %d = %v, want 0", i, v)
		}
	}
	smp, _ := pois.Sample(ctx, rand.New(rand.NewPCG(1, 2)), ax)
	if smp.Data[0] != 0 || smp.Data[1] != 0 {
		t.Errorf("Poisson samples at A(x) <= 0: %v", smp.Data[:2])
	}
	pg, _ := NewPoissonGaussianNoise(PoissonGaussianNoiseConfig{Gain: 0.01, Sigma: 0.01, Offset: 0.3})
	mean, variance, _ := pg.Moments(ctx, ax)
	if mean.Data[0] != 0.3 || math.Abs(float64(variance.Data[0])-1e-4) > 1e-10 {
		t.Errorf("Poisson-Gaussian moments at A(x) = -1: mean %v variance %v", mean.Data[0], variance.Data[0])
	}
	nll, _ = pg.NLL(ctx, y, ax)
	if math.IsNaN(nll[0]) || math.IsInf(nll[0], 0) {
		t.Errorf("Poisson-Gaussian NLL at A(x) < 0 is %v", nll[0])
	}
}
