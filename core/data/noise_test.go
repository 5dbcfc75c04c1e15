package data

import (
	"github.com/flowdiff/flowdiff-go/core/randx"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestPoissonGaussianMoments checks E[y] = x and Var[y] = x/photons + readSigma^2 on a
// constant 512x512 image (N = 262144 samples). Tolerances: the mean within 5 standard errors
// sqrt(Var/N); the variance within 3% relative, which is at least 8 standard errors of the
// sample variance (sd = Var*sqrt((2 + excess kurtosis)/N) <= 0.7% for these cases).
func TestPoissonGaussianMoments(t *testing.T) {
	cases := []struct {
		x, photons, readSigma float64
	}{
		{0.5, 100, 0}, {0.1, 10, 0}, {0.9, 1000, 0.01}, {0.3, 50, 0.05},
		{0.02, 20, 0.02}, {0, 100, 0.1}, {0.7, math.Inf(1), 0.03}, {0.25, 1e5, 0},
	}
	for i, c := range cases {
		clean := batch.New(1, 512, 512, 1)
		for j := range clean.Data {
			clean.Data[j] = float32(c.x)
		}
		y := PoissonGaussian(clean, c.photons, c.readSigma, int64(i))
		var s, s2 float64
		for _, v := range y.Data {
			s += float64(v)
		}
		n := float64(len(y.Data))
		mean := s / n
		for _, v := range y.Data {
			s2 += (float64(v) - mean) * (float64(v) - mean)
		}
		variance := s2 / (n - 1)
		want := c.x/c.photons + c.readSigma*c.readSigma
		if math.Abs(mean-c.x) > 5*math.Sqrt(want/n) {
			t.Errorf("%+v: mean %v, want %v +- %v", c, mean, c.x, 5*math.Sqrt(want/n))
		}
		if math.Abs(variance-want) > 0.03*want {
			t.Errorf("%+v: variance %v, want %v +- 3%%", c, variance, want)
		}
		if clean.Data[0] != float32(c.x) {
			t.Fatal("PoissonGaussian changed its input")
		}
	}
}

func TestPoissonGaussianDeterministic(t *testing.T) {
	clean := batch.New(2, 8, 8, 3)
	for i := range clean.Data {
		clean.Data[i] = float32(i%7) / 7
	}
	a := PoissonGaussian(clean, 30, 0.02, 4)
	b := PoissonGaussian(clean, 30, 0.02, 4)
	c := PoissonGaussian(clean, 30, 0.02, 5)
	if !slices.Equal(a.Data, b.Data) || slices.Equal(a.Data, c.Data) || a.Shape != clean.Shape {
		t.Error("same seed must give the same noise and another seed other noise")
	}
	for _, bad := range [][2]float64{{0, 0.1}, {-1, 0.1}, {math.NaN(), 0.1}, {10, -0.1}, {10, math.NaN()}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("photons %v readSigma %v: no panic", bad[0], bad[1])
				}
			}()
			PoissonGaussian(clean, bad[0], bad[1], 1)
		}()
	}
}

// TestPoissonPMF compares the frequencies of 200000 draws with the Poisson pmf on both
// sampler branches (inversion below 10, PTRS from 10): each bin with pmf > 1e-3 within 5
// binomial standard errors sqrt(p(1-p)/N).
func TestPoissonPMF(t *testing.T) {
	const n = 200000
	for _, lam := range []float64{0.5, 4, 9.9, 10, 37, 250} {
		rng := rand.New(rand.NewPCG(uint64(lam*10), 3))
		counts := map[int64]int{}
		for range n {
			counts[randx.Poisson(rng, lam)]++
		}
		for k := int64(0); k < int64(lam+10*math.Sqrt(lam)+10); k++ {
			lg, _ := math.Lgamma(float64(k) + 1)
			p := math.Exp(-lam + float64(k)*math.Log(lam) - lg)
			if p < 1e-3 {
				continue
			}
			f := float64(counts[k]) / n
			if se := math.Sqrt(p * (1 - p) / n); math.Abs(f-p) > 5*se {
				t.Errorf("lambda %v: P(%d) = %v, want %v +- %v", lam, k, f, p, 5*se)
			}
		}
	}
	if v := randx.Poisson(rand.New(rand.NewPCG(1, 1)), 0); v != 0 {
		t.Errorf("Poisson(0) = %d", v)
	}
}
