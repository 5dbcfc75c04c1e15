package residual

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

func noise(rng *rand.Rand, n, h, w, c int, sigma float64) *batch.Batch {
	b := batch.New(n, h, w, c)
	for i := range b.Data {
		b.Data[i] = float32(sigma * rng.NormFloat64())
	}
	return b
}

// boxBlur3 convolves each image with the normalized 3x3 box, circularly (so the noise stays
// stationary): neighbours then share 6 of 9 terms, a lag-1 correlation of 6/9.
func boxBlur3(b *batch.Batch) *batch.Batch {
	out := batch.New(b.N, b.H, b.W, b.C)
	for n := range b.N {
		for y := range b.H {
			for x := range b.W {
				for c := range b.C {
					var s float32
					for dy := -1; dy <= 1; dy++ {
						for dx := -1; dx <= 1; dx++ {
							yy, xx := (y+dy+b.H)%b.H, (x+dx+b.W)%b.W
							s += b.Data[((n*b.H+yy)*b.W+xx)*b.C+c]
						}
					}
					out.Data[((n*b.H+y)*b.W+x)*b.C+c] = s / 3 // std of the sum of 9 unit normals is 3
				}
			}
		}
	}
	return out
}

func TestFFTMatchesDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 8, 64} {
		re, im := make([]float64, n), make([]float64, n)
		for i := range re {
			re[i], im[i] = rng.NormFloat64(), rng.NormFloat64()
		}
		r2, i2 := append([]float64(nil), re...), append([]float64(nil), im...)
		fft1(re, im)
		dft(r2, i2)
		for i := range re {
			if d := math.Hypot(re[i]-r2[i], im[i]-i2[i]); d > 1e-9*float64(n) {
				t.Fatalf("n=%d: bin %d differs by %g (radix-2 against the direct sum)", n, i, d)
			}
		}
	}
}

// TestWhiteNoise: the residual of a restoration that explains the data exactly is the noise
// itself. Tolerances are 4 standard errors of each statistic for a 64x64 image of unit white
// noise (mean 1/64, variance sqrt(2/4096), lag-1 correlation 1/64); the radial spectrum of
// white noise is flat up to the sampling spread of the ring averages, which shrinks with the
// image size (measured for unit white noise: 0.78-0.96 at 28x28, 0.96-0.99 at 64x64,
// 0.99-0.995 at 512x512), so flatness > 0.9 at 64x64.
func TestWhiteNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r := noise(rng, 8, 64, 64, 1, 1)
	stats, err := Compute(r)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stats {
		if math.Abs(s.Mean) > 4.0/64 || math.Abs(s.Variance-1) > 4*math.Sqrt(2.0/4096) ||
			math.Abs(s.Lag1) > 4.0/64 || s.Flatness < 0.9 || s.Flatness > 1 {
			t.Errorf("image %d: %+v, want mean≈0, variance≈1, lag1≈0, flatness in (0.9, 1]", i, s)
		}
	}
}

// TestCorrelatedNoiseIsCaught: noise blurred by a 3x3 box has lag-1 correlation 6/9 and a
// spectrum that falls with frequency; both must show.
func TestCorrelatedNoiseIsCaught(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := boxBlur3(noise(rng, 4, 64, 64, 1, 1))
	stats, err := Compute(r)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stats {
		if math.Abs(s.Lag1-6.0/9) > 0.05 || s.Flatness > 0.5 || math.Abs(s.Variance-1) > 0.15 {
			t.Errorf("image %d: %+v, want lag1≈0.667, flatness < 0.5, variance≈1", i, s)
		}
	}
}

// TestSignalLeftInResidual: a restoration that removed the signal (x̂ = 0 for a smooth disc
// image) leaves the disc in the residual: variance above 1, positive correlation, low
// flatness; the exact restoration gives white statistics.
func TestSignalLeftInResidual(t *testing.T) {
	const h, w, sigma = 64, 64, 0.1
	rng := rand.New(rand.NewPCG(7, 8))
	x := batch.New(1, h, w, 1)
	for y := range h {
		for xx := range w {
			if math.Hypot(float64(y-32), float64(xx-32)) < 16 {
				x.Data[y*w+xx] = 0.8
			}
		}
	}
	n := noise(rng, 1, h, w, 1, sigma)
	y := x.Clone()
	for i := range y.Data {
		y.Data[i] += n.Data[i]
	}
	exact, err := WhitenSigma(y, x, sigma)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := WhitenSigma(y, batch.New(1, h, w, 1), sigma)
	if err != nil {
		t.Fatal(err)
	}
	se, _ := Compute(exact)
	sr, _ := Compute(removed)
	if math.Abs(se[0].Variance-1) > 0.09 || se[0].Flatness < 0.9 {
		t.Errorf("exact restoration: %+v, want white", se[0])
	}
	if sr[0].Variance < 5 || sr[0].Lag1 < 0.5 || sr[0].Flatness > 0.3 {
		t.Errorf("signal removed: %+v, want variance > 5, lag1 > 0.5, flatness < 0.3", sr[0])
	}
}

// TestWhitenScale: a noise level twice the true one gives variance 1/4; a variance map
// (Poisson-Gaussian, var = a·A(x) + b) whitens to unit variance.
func TestWhitenScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const a, b = 0.01, 0.0004
	ax := batch.New(4, 32, 32, 1)
	v := batch.New(4, 32, 32, 1)
	y := batch.New(4, 32, 32, 1)
	for i := range ax.Data {
		ax.Data[i] = float32(rng.Float64())
		v.Data[i] = float32(a*float64(ax.Data[i]) + b)
		y.Data[i] = ax.Data[i] + float32(math.Sqrt(float64(v.Data[i]))*rng.NormFloat64())
	}
	r, err := Whiten(y, ax, v)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Compute(r)
	if got := Summary(s).Variance; math.Abs(got-1) > 0.06 {
		t.Errorf("Poisson-Gaussian whitened variance %.3f, want 1 ± 0.06", got)
	}
	v2 := v.Clone()
	for i := range v2.Data {
		v2.Data[i] *= 4
	}
	r2, _ := Whiten(y, ax, v2)
	s2, _ := Compute(r2)
	if got := Summary(s2).Variance; math.Abs(got-0.25) > 0.02 {
		t.Errorf("with twice the true std: variance %.3f, want 0.25 ± 0.02", got)
	}
	v2.Data[7] = 0
	if _, err := Whiten(y, ax, v2); err == nil {
		t.Error("a zero variance was accepted")
	}
	if _, err := WhitenSigma(y, ax, -1); err == nil {
		t.Error("a negative sigma was accepted")
	}
}
