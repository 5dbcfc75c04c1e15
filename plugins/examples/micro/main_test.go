package main

import (
	"context"
	"math"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/plugins/sdk/sdktest"
)

func TestWidefieldConforms(t *testing.T) { sdktest.OperatorTest(t, widefieldEntry) }
func TestNoiseConforms(t *testing.T)     { sdktest.NoiseTest(t, noiseEntry) }

// TestAiryKernel checks the Airy PSF: normalized, symmetric, peaked at the center, and its
// first dark ring at r = 0.61 λ/NA (Born & Wolf 8.5.2: first zero of J1 at v = 3.8317).
func TestAiryKernel(t *testing.T) {
	w, err := NewWidefield(WidefieldConfig{PSF: "airy", Wavelength: 500, NA: 1, Pixel: 20})
	if err != nil {
		t.Fatal(err)
	}
	n := 2*w.r + 1
	sum := 0.0
	for i := range n {
		for j := range n {
			sum += w.k[i*n+j]
			if math.Abs(w.k[i*n+j]-w.k[j*n+i]) > 1e-15 || math.Abs(w.k[i*n+j]-w.k[(n-1-i)*n+j]) > 1e-15 {
				t.Fatalf("kernel not symmetric at %d,%d", i, j)
			}
		}
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("kernel sums to %g", sum)
	}
	// Along the center row the minimum within the first 20 pixels is the first dark ring:
	// 0.61·500/1 = 305 nm = 15.25 pixels of 20 nm (sub-pixel averaging blurs it by < 1 pixel).
	row := w.k[w.r*n:]
	best := 1
	for d := 1; d < 20; d++ {
		if row[w.r+d] < row[w.r+best] {
			best = d
		}
	}
	if want := 0.61 * 500 / 20; math.Abs(float64(best)-want) > 1 {
		t.Errorf("first dark ring at %d pixels, want %.2f", best, want)
	}
}

// TestGaussianMatchesOptics checks the Gaussian approximation's σ = 0.21 λ/NA: the variance
// of the kernel equals σ² (to the truncation at 3σ, which removes 1.1% of the second moment).
func TestGaussianMatchesOptics(t *testing.T) {
	w, _ := NewWidefield(WidefieldConfig{PSF: "gaussian", Wavelength: 600, NA: 1.2, Pixel: 35})
	sigma := 0.21 * 600 / 1.2 / 35
	n := 2*w.r + 1
	v := 0.0
	for i := range n {
		for j := range n {
			v += w.k[i*n+j] * float64((j-w.r)*(j-w.r))
		}
	}
	if math.Abs(v-sigma*sigma)/(sigma*sigma) > 0.03 {
		t.Errorf("kernel variance %g, want σ² = %g", v, sigma*sigma)
	}
	// The separable path equals the full 2-D kernel.
	x := batch.New(2, 13, 17, 2)
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(float64(i)))
	}
	y1, _ := w.Apply(context.Background(), x, nil)
	full := *w
	full.sep = nil
	y2, _ := full.Apply(context.Background(), x, nil)
	for i := range y1.Data {
		if math.Abs(float64(y1.Data[i]-y2.Data[i])) > 1e-6 {
			t.Fatalf("separable %g vs full %g at %d", y1.Data[i], y2.Data[i], i)
		}
	}
}
