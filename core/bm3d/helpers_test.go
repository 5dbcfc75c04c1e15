package bm3d

import (
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// sharedData returns the folder data/NAME of the shared test data, looked up in
// $FLOWDIFF_SHARED and then in ../shared next to the folder holding go.mod, skipping the test
// when it is absent.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	if env := os.Getenv("FLOWDIFF_SHARED"); env != "" {
		if st, err := os.Stat(filepath.Join(env, "data", name)); err == nil && st.IsDir() {
			return filepath.Join(env, "data", name)
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test folder")
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "data", name)
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared test data %s is absent (set $FLOWDIFF_SHARED or put shared/ next to the repository): %v", d, err)
	}
	return d
}

// readGray reads an 8-bit grayscale PNG as intensities in [0, 1] (value/255).
func readGray(t testing.TB, path string) ([]float32, int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want an 8-bit grayscale PNG", path, img)
	}
	b := g.Bounds()
	h, w := b.Dy(), b.Dx()
	out := make([]float32, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*w+x] = float32(g.Pix[y*g.Stride+x]) / 255
		}
	}
	return out, h, w
}

// addNoise returns x + sigma n, n ~ N(0, 1) from a PCG stream seeded with seed (not clipped).
func addNoise(x []float32, sigma float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x6d33))
	z := make([]float32, len(x))
	for i, v := range x {
		z[i] = v + float32(sigma*rng.NormFloat64())
	}
	return z
}

// psnr255 is the PSNR in dB of est against ref, both in [0, 1], on the [0, 255] scale over the
// whole image: 10 log10(255^2 / MSE_255) = 10 log10(1 / MSE_01).
func psnr255(ref, est []float32) float64 {
	var s float64
	for i, v := range ref {
		e := float64(est[i]) - float64(v)
		s += e * e
	}
	return 10 * math.Log10(float64(len(ref))/s)
}
