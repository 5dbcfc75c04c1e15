package data

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// meanAbsLaplacian is the mean |4 f(y,x) - f(y-1,x) - f(y+1,x) - f(y,x-1) - f(y,x+1)| over
// interior pixels of an h x w image.
func meanAbsLaplacian(img []float32, h, w int) float64 {
	var s float64
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			s += math.Abs(float64(4*img[i] - img[i-1] - img[i+1] - img[i-w] - img[i+w]))
		}
	}
	return s / float64((h-2)*(w-2))
}

func TestSyntheticDeterministic(t *testing.T) {
	o := SyntheticOptions{Height: 32, Width: 40}
	a, err := Synthetic(o, 4, 11)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Synthetic(o, 4, 11)
	c, _ := Synthetic(o, 4, 12)
	long, _ := Synthetic(o, 6, 11)
	if !slices.Equal(a.Images.Data, b.Images.Data) {
		t.Error("same seed, different images")
	}
	if slices.Equal(a.Images.Data, c.Images.Data) {
		t.Error("seeds 11 and 12 give the same images")
	}
	if !slices.Equal(a.Images.Data, long.Images.Data[:len(a.Images.Data)]) {
		t.Error("a longer set does not extend the shorter one")
	}
	if s := a.Images.Shape; s.N != 4 || s.H != 32 || s.W != 40 || s.C != 1 || a.Names[3] != "synthetic/seed=11/3" {
		t.Errorf("shape %s, name %q", s, a.Names[3])
	}
}

// TestSyntheticContent checks the look of the images: values in [Background, 1], 2%-40% of
// the pixels of every image above Background+0.2 (filaments), and smoothness: the mean
// |Laplacian| is below 10% of that of uniform white noise on [0,1] (about 1.0), where the
// measured ratio is about 5%.
func TestSyntheticContent(t *testing.T) {
	cases := []struct {
		opts SyntheticOptions
		n    int
	}{
		{SyntheticOptions{}, 60},
		{SyntheticOptions{Height: 128, Width: 128}, 20},
		{SyntheticOptions{Height: 64, Width: 64, Background: 0.1, PSFSigma: 2, LineSigma: 1}, 30},
	}
	for _, c := range cases {
		d, err := Synthetic(c.opts, c.n, 5)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := c.opts.withDefaults()
		bg := float32(o.Background)
		noise := make([]float32, d.Images.ImageSize())
		rng := rand.New(rand.NewPCG(1, 1))
		for i := range noise {
			noise[i] = rng.Float32()
		}
		white := meanAbsLaplacian(noise, o.Height, o.Width)
		for i := range d.Len() {
			img := d.Images.Image(i).Data
			above := 0
			for _, v := range img {
				if v < bg-1e-6 || v > 1 {
					t.Fatalf("%+v image %d: value %v outside [%v,1]", c.opts, i, v, bg)
				}
				if v > bg+0.2 {
					above++
				}
			}
			if f := float64(above) / float64(len(img)); f < 0.02 || f > 0.40 {
				t.Errorf("%+v image %d: %.1f%% filament pixels, want 2%%-40%%", c.opts, i, 100*f)
			}
			if lap := meanAbsLaplacian(img, o.Height, o.Width); lap > 0.1*white {
				t.Errorf("%+v image %d: mean |Laplacian| %v, want < 0.1 * white noise %v", c.opts, i, lap, white)
			}
		}
	}
}

func TestSyntheticErrors(t *testing.T) {
	for _, o := range []SyntheticOptions{
		{Height: -1, Width: 8}, {MinFilaments: 5, MaxFilaments: 2}, {LineSigma: -1},
		{Background: 1}, {Curvature: -0.1}, {Height: 20000, Width: 10},
	} {
		if _, err := Synthetic(o, 1, 1); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := Synthetic(SyntheticOptions{}, 0, 1); err == nil {
		t.Error("n = 0: no error")
	}
}

// TestGaussianBlur checks that the blur keeps a constant image (tol 1e-6), keeps the total
// of an interior impulse (tol 1e-5) and spreads it with the stated standard deviation
// (second moment sigma^2, relative tol 4%: truncating a Gaussian at +-3 sigma lowers its
// variance by 2.7%, and sampling it on the pixel grid shifts it by up to ~1/12 px^2).
func TestGaussianBlur(t *testing.T) {
	for _, sigma := range []float64{0.8, 1.5, 3} {
		h, w := 41, 41
		flat := slices.Repeat([]float32{0.3}, h*w)
		GaussianBlur(flat, h, w, sigma)
		for _, v := range flat {
			if math.Abs(float64(v)-0.3) > 1e-6 {
				t.Fatalf("sigma %v: constant image changed to %v", sigma, v)
			}
		}
		img := make([]float32, h*w)
		img[20*w+20] = 1
		GaussianBlur(img, h, w, sigma)
		var sum, m2 float64
		for y := range h {
			for x := range w {
				v := float64(img[y*w+x])
				sum += v
				m2 += v * float64((x-20)*(x-20))
			}
		}
		if math.Abs(sum-1) > 1e-5 || math.Abs(m2/sum-sigma*sigma) > 0.04*sigma*sigma {
			t.Errorf("sigma %v: total %v, variance %v, want 1 and %v", sigma, sum, m2/sum, sigma*sigma)
		}
	}
}
