package bm3d

import (
	"context"
	"math"
	"testing"
)

// syntheticImage is a deterministic h x w test scene in [0, 1]: smooth gradients, a disc, a
// bar pattern and a flat area, so that block matching meets edges, texture and flat regions.
func syntheticImage(h, w int) []float32 {
	img := make([]float32, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fy, fx := float64(y)/float64(h), float64(x)/float64(w)
			v := 0.2 + 0.3*fx*fy
			if dy, dx := fy-0.35, fx-0.35; dy*dy+dx*dx < 0.04 {
				v = 0.8
			}
			if fy > 0.6 && fx > 0.55 {
				v = 0.5 + 0.3*math.Copysign(1, math.Sin(float64(x)*math.Pi/4))
			}
			if fy > 0.6 && fx < 0.4 {
				v = 0.6
			}
			img[y*w+x] = float32(v)
		}
	}
	return img
}

// BenchmarkDenoise256 denoises a 256 x 256 image at sigma = 25/255 (both stages, the normal
// profile, GOMAXPROCS workers). Figures are in docs/bm3d.md.
func BenchmarkDenoise256(b *testing.B) {
	x := syntheticImage(256, 256)
	z := addNoise(x, 25.0/255, 1)
	opt := Options{Sigma: 25.0 / 255}
	for b.Loop() {
		if _, err := Denoise(context.Background(), z, 256, 256, opt); err != nil {
			b.Fatal(err)
		}
	}
}
