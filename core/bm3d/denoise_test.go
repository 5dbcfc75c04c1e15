package bm3d

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// meanStd returns the mean and standard deviation of v.
func meanStd(v []float32) (float64, float64) {
	var s, s2 float64
	for _, x := range v {
		s += float64(x)
	}
	m := s / float64(len(v))
	for _, x := range v {
		s2 += (float64(x) - m) * (float64(x) - m)
	}
	return m, math.Sqrt(s2 / float64(len(v)))
}

// TestConstantImage: a flat image plus noise comes back nearly flat. With sigma = 0.1 the
// residual standard deviation was measured at 0.0078 (13x below the noise); the test allows
// 0.012. The mean must stay within 0.005 of 0.5 (the noise mean over 64x64 pixels has a
// standard deviation of 0.0016).
func TestConstantImage(t *testing.T) {
	const h, w, sigma = 64, 64, 0.1
	x := make([]float32, h*w)
	for i := range x {
		x[i] = 0.5
	}
	y, err := Denoise(context.Background(), addNoise(x, sigma, 11), h, w, Options{Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	m, sd := meanStd(y)
	t.Logf("mean %.5f std %.5f", m, sd)
	if sd > 0.012 || math.Abs(m-0.5) > 0.005 {
		t.Errorf("flat 0.5 + noise 0.1: output mean %.4f std %.4f, want 0.5 +- 0.005 and std < 0.012", m, sd)
	}
}

// TestSyntheticGain: on the synthetic scene of the benchmark (128 x 128, edges, a disc,
// bars, flat areas), sigma 25/255 (input PSNR 20.2 dB). Measured: basic estimate 35.11 dB,
// final 35.52 dB; the test asks for 34.5 and 35 dB, and for the final estimate to beat the
// basic one by at least 0.2 dB.
func TestSyntheticGain(t *testing.T) {
	const h, w, sigma = 128, 128, 25.0 / 255
	x := syntheticImage(h, w)
	z := addNoise(x, sigma, 12)
	opt := Options{Sigma: sigma}
	basic, err := Basic(context.Background(), z, h, w, opt)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Denoise(context.Background(), z, h, w, opt)
	if err != nil {
		t.Fatal(err)
	}
	in, pb, pf := psnr255(x, z), psnr255(x, basic), psnr255(x, y)
	t.Logf("PSNR noisy %.2f basic %.2f final %.2f dB", in, pb, pf)
	if pb < 34.5 || pf < 35 || pf-pb < 0.2 {
		t.Errorf("PSNR noisy %.2f, basic %.2f (want >= 34.5), final %.2f (want >= 35 and 0.2 above the basic)", in, pb, pf)
	}
}

// TestDeterministicAcrossWorkers: the output is bit-for-bit the same for any number of
// workers and when the image is processed in several bands.
func TestDeterministicAcrossWorkers(t *testing.T) {
	const h, w, sigma = 70, 61, 20.0 / 255
	z := addNoise(syntheticImage(h, w), sigma, 13)
	ref, err := Denoise(context.Background(), z, h, w, Options{Sigma: sigma, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, opt Options) {
		t.Helper()
		y, err := Denoise(context.Background(), z, h, w, opt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range y {
			if y[i] != ref[i] {
				t.Fatalf("%s: pixel %d = %v, with one worker %v", name, i, y[i], ref[i])
			}
		}
	}
	for _, workers := range []int{2, 3, 8} {
		check("workers", Options{Sigma: sigma, Workers: workers})
	}
	defer func(b int) { maxBandBytes = b }(maxBandBytes)
	maxBandBytes = 1 // the smallest band: one chunk at a time
	check("bands", Options{Sigma: sigma, Workers: 3})
}

// TestPeak: the same image in [0, 255] units with Peak 255 gives 255 times the [0, 1] result.
func TestPeak(t *testing.T) {
	const h, w, sigma = 40, 48, 15.0 / 255
	z := addNoise(syntheticImage(h, w), sigma, 14)
	y1, err := Denoise(context.Background(), z, h, w, Options{Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	z255 := make([]float32, len(z))
	for i, v := range z {
		z255[i] = v * 255
	}
	y255, err := Denoise(context.Background(), z255, h, w, Options{Sigma: sigma * 255, Peak: 255})
	if err != nil {
		t.Fatal(err)
	}
	for i := range y1 {
		if math.Abs(float64(y255[i]/255-y1[i])) > 1e-5 {
			t.Fatalf("pixel %d: %v/255 with peak 255, %v with peak 1", i, y255[i], y1[i])
		}
	}
}

// TestDenoiseBatch: every image and channel is denoised on its own, as Denoise would.
func TestDenoiseBatch(t *testing.T) {
	const n, h, w, c, sigma = 2, 24, 20, 3, 0.08
	b := batch.New(n, h, w, c)
	planes := make([][]float32, n*c)
	for k := range planes {
		planes[k] = addNoise(syntheticImage(h, w), sigma, uint64(20+k))
		for i, v := range planes[k] {
			b.Data[((k/c)*h*w+i)*c+k%c] = v
		}
	}
	out, err := DenoiseBatch(context.Background(), b, Options{Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range planes {
		want, err := Denoise(context.Background(), p, h, w, Options{Sigma: sigma})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range want {
			if got := out.Data[((k/c)*h*w+i)*c+k%c]; got != v {
				t.Fatalf("image %d channel %d pixel %d: %v, Denoise gives %v", k/c, k%c, i, got, v)
			}
		}
	}
}

// TestProfiles: each profile runs and improves a sigma 50/255 image (input 14.13 dB; measured
// np 28.13, vn 28.75, vn_old 27.71 dB on this scene; the test asks for 27), and the automatic
// choice is vn above sigma 40/255.
func TestProfiles(t *testing.T) {
	const h, w, sigma = 96, 96, 50.0 / 255
	x := syntheticImage(h, w)
	z := addNoise(x, sigma, 15)
	auto, err := Denoise(context.Background(), z, h, w, Options{Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Profile{ProfileNormal, ProfileVeryNoisy, ProfileVeryNoisyPaper} {
		y, err := Denoise(context.Background(), z, h, w, Options{Sigma: sigma, Profile: p})
		if err != nil {
			t.Fatal(err)
		}
		got := psnr255(x, y)
		t.Logf("%s: %.2f dB (noisy %.2f)", p, got, psnr255(x, z))
		if got < 27 {
			t.Errorf("profile %s: %.2f dB, want >= 27", p, got)
		}
		if p == ProfileVeryNoisy {
			for i := range y {
				if y[i] != auto[i] {
					t.Fatalf("automatic profile at sigma 50/255 differs from vn at pixel %d", i)
				}
			}
		}
	}
	if p, _ := ProfileParams(ProfileAuto, 40); p.HT.MaxGroup != 16 {
		t.Errorf("automatic profile at sigma 40: N2 %d, want np's 16", p.HT.MaxGroup)
	}
}

func TestErrors(t *testing.T) {
	ok := make([]float32, 16*16)
	nan := make([]float32, 16*16)
	nan[17] = float32(math.NaN())
	for _, c := range []struct {
		name string
		img  []float32
		h, w int
		opt  Options
		want string
	}{
		{"zero sigma", ok, 16, 16, Options{}, "sigma must be a positive"},
		{"NaN sigma", ok, 16, 16, Options{Sigma: math.NaN()}, "sigma must be a positive"},
		{"negative peak", ok, 16, 16, Options{Sigma: 0.1, Peak: -1}, "peak must be positive"},
		{"profile", ok, 16, 16, Options{Sigma: 0.1, Profile: "fast"}, `unknown BM3D profile "fast"`},
		{"workers", ok, 16, 16, Options{Sigma: 0.1, Workers: -1}, "workers must be >= 0"},
		{"size", ok, 16, 15, Options{Sigma: 0.1}, "needs 240 values"},
		{"small", ok[:7*30], 7, 30, Options{Sigma: 0.1}, "smaller than the 8x8 blocks"},
		{"small vn", ok[:10*10], 10, 10, Options{Sigma: 0.1, Profile: ProfileVeryNoisyPaper}, "smaller than the 12x12 blocks"},
		{"NaN pixel", nan, 16, 16, Options{Sigma: 0.1}, "pixel (1, 1) is NaN"},
		{"params", ok, 16, 16, Options{Sigma: 0.1, Params: &Params{}}, "block size must be"},
	} {
		_, err := Denoise(context.Background(), c.img, c.h, c.w, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Denoise(ctx, syntheticImage(64, 64), 64, 64, Options{Sigma: 0.1})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v, want context.Canceled", err)
	}
}
