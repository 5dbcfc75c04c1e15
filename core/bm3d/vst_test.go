package bm3d

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/randx"
)

// TestGATUnbiasedInverse checks the exact unbiased inverse against Monte Carlo: for counts λ
// from 0.2 to 50 and read noise s = σ/a of 0, 0.5 and 3, the mean of f(z) over M = 200000
// seeded draws of z = a·Poisson(λ) + σ·N(0,1) + c, inverted, must give back a·λ + c within
// 4 standard errors of that mean (propagated through the inverse's slope): the inverse of
// E[f | λ] is λ, up to sampling. The algebraic inverse (D/2)² - 3/8 - s², which ignores that
// E[f(z)] != f(E[z]), must miss by more (it is about a/4 low at every λ here, and worse at low
// counts: Mäkitalo & Foi 2013), so the check can tell them apart.
func TestGATUnbiasedInverse(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo of 15 x 200000 draws; run without -short")
	}
	const a, c, m = 0.02, 0.01, 200000
	for _, s := range []float64{0, 0.5, 3} {
		g, err := NewGAT(a, s*a, c, c+a*60)
		if err != nil {
			t.Fatal(err)
		}
		for i, lam := range []float64{0.2, 1, 3, 10, 50} {
			rng := rand.New(rand.NewPCG(uint64(1000*s)+uint64(i), 17))
			sum, sum2 := 0.0, 0.0
			for range m {
				z := a*float64(randx.Poisson(rng, lam)) + s*a*rng.NormFloat64() + c
				f := g.Forward(z)
				sum += f
				sum2 += f * f
			}
			d := sum / m
			se := math.Sqrt((sum2/m - d*d) / m)
			want := a*lam + c
			got := g.Inverse(d)
			tol := 4 * (g.Inverse(d+se) - g.Inverse(d-se)) / 2
			name := fmt.Sprintf("s %g, λ %g", s, lam)
			if math.Abs(got-want) > tol {
				t.Errorf("%s: inverse of E[f] = %.5f is %.6f, want %.6f within %.2g (4 standard errors)", name, d, got, want, tol)
			}
			if alg := a*((d/2)*(d/2)-0.375-s*s) + c; math.Abs(alg-want) <= tol {
				t.Errorf("%s: the algebraic inverse %.6f is as close as the exact one: the check cannot tell them apart", name, alg)
			}
			// The tabulated E[f | λ] against the same Monte Carlo mean.
			if e := g.Expected(lam); math.Abs(e-d) > 4*se {
				t.Errorf("%s: E[f | λ] = %.5f, Monte Carlo %.5f ± %.2g", name, e, d, se)
			}
		}
	}
}

// TestGATStabilizes: at λ >= 10 the transformed noise has variance 1 within 3% (Anscombe,
// Biometrika 35, 1948: var f = 1 + O(1/λ²)); Monte Carlo of 200000 draws (standard error of
// the variance about 0.3%).
func TestGATStabilizes(t *testing.T) {
	const a, m = 0.05, 200000
	for _, s := range []float64{0, 1, 4} {
		g, err := NewGAT(a, s*a, 0, 100*a)
		if err != nil {
			t.Fatal(err)
		}
		for _, lam := range []float64{10, 50} {
			rng := rand.New(rand.NewPCG(uint64(s*10+lam), 3))
			sum, sum2 := 0.0, 0.0
			for range m {
				f := g.Forward(a*float64(randx.Poisson(rng, lam)) + s*a*rng.NormFloat64())
				sum += f
				sum2 += f * f
			}
			v := sum2/m - (sum/m)*(sum/m)
			if math.Abs(v-1) > 0.03 {
				t.Errorf("s %g, λ %g: variance after the transform %.4f, want 1 within 3%%", s, lam, v)
			}
		}
	}
}

// TestDenoisePG: on a smooth ramp with Poisson-Gaussian noise (a = 0.01, σ = 0.01), BM3D
// through the transform lowers the error 4-fold or more and leaves the mean within 0.5% of
// the clean mean (the unbiased inverse). Seeded; the figures on real data are in
// docs/restore.md.
func TestDenoisePG(t *testing.T) {
	if testing.Short() {
		t.Skip("a 64x64 BM3D run")
	}
	const n, a, sigma = 64, 0.01, 0.01
	rng := rand.New(rand.NewPCG(5, 5))
	clean := make([]float32, n*n)
	noisy := make([]float32, n*n)
	for i := range clean {
		x := 0.05 + 0.5*float64(i%n)/n + 0.2*float64(i/n)/n
		clean[i] = float32(x)
		noisy[i] = float32(a*float64(randx.Poisson(rng, x/a)) + sigma*rng.NormFloat64())
	}
	out, err := DenoisePG(context.Background(), noisy, n, n, PGOptions{A: a, Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	mse := func(x []float32) float64 {
		s := 0.0
		for i, v := range x {
			d := float64(v - clean[i])
			s += d * d
		}
		return s / float64(len(x))
	}
	mean := func(x []float32) float64 {
		s := 0.0
		for _, v := range x {
			s += float64(v)
		}
		return s / float64(len(x))
	}
	if mse(out)*4 > mse(noisy) {
		t.Errorf("mse %.3g after, %.3g before: want 4-fold lower", mse(out), mse(noisy))
	}
	if r := mean(out)/mean(clean) - 1; math.Abs(r) > 0.005 {
		t.Errorf("mean %.5f vs clean %.5f (%+.2f%%): want within 0.5%%", mean(out), mean(clean), 100*r)
	}
	if _, err := DenoisePG(context.Background(), noisy, n, n, PGOptions{A: 0}); err == nil {
		t.Error("gain 0 accepted")
	}
}
