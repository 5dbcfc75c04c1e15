package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// SyntheticOptions configure Synthetic. The zero value gives 64x64 images with 3 to 6
// filaments. Lengths are in pixels.
type SyntheticOptions struct {
	// Height and Width of each image in pixels. Default 64 each.
	Height int `yaml:"height"`
	Width  int `yaml:"width"`
	// MinFilaments and MaxFilaments bound the number of filaments per image, drawn uniformly.
	// Defaults 3 and 6 for 64x64 images, scaled by max(Height, Width)/64 (rounded, at least
	// 1), which keeps the filament density since lengths scale with the image.
	MinFilaments int `yaml:"min_filaments"`
	MaxFilaments int `yaml:"max_filaments"`
	// LineSigma is the standard deviation of a filament's Gaussian cross-section before blur,
	// in pixels (> 0). Default 0.7.
	LineSigma float64 `yaml:"line_sigma"`
	// PSFSigma is the standard deviation of the Gaussian point-spread function, in pixels;
	// a negative value disables the blur. Default 1.2.
	PSFSigma float64 `yaml:"psf_sigma"`
	// Background is the intensity of empty space, in [0, 1). Default 0.05.
	Background float64 `yaml:"background"`
	// Curvature is the standard deviation of the change of curvature per pixel of arc length,
	// in rad/px^2 (> 0). Default 0.01.
	Curvature float64 `yaml:"curvature"`
}

// Synthetic defaults, each written once.
const (
	defaultSynthSide      = 64
	defaultMinFilaments   = 3
	defaultMaxFilaments   = 6
	defaultLineSigma      = 0.7
	defaultPSFSigma       = 1.2
	defaultBackground     = 0.05
	defaultCurvature      = 0.01
	maxFilamentCurvature  = 0.15 // rad/px: radius of curvature at least ~6.7 px
	filamentStep          = 0.5  // arc length between samples, px
	filamentMinLengthFrac = 0.5  // length in units of max(Height, Width)
	filamentMaxLengthFrac = 1.5
	filamentMinIntensity  = 0.3 // relative brightness of the dimmest filament
)

func (o SyntheticOptions) withDefaults() (SyntheticOptions, error) {
	if o.Height == 0 && o.Width == 0 {
		o.Height, o.Width = defaultSynthSide, defaultSynthSide
	}
	if o.MinFilaments == 0 && o.MaxFilaments == 0 {
		f := float64(max(o.Height, o.Width)) / defaultSynthSide
		o.MinFilaments = max(1, int(math.Round(defaultMinFilaments*f)))
		o.MaxFilaments = max(1, int(math.Round(defaultMaxFilaments*f)))
	}
	if o.LineSigma == 0 {
		o.LineSigma = defaultLineSigma
	}
	if o.PSFSigma == 0 {
		o.PSFSigma = defaultPSFSigma
	}
	if o.Background == 0 {
		o.Background = defaultBackground
	}
	if o.Curvature == 0 {
		o.Curvature = defaultCurvature
	}
	switch {
	case o.Height < 1 || o.Width < 1 || o.Height > DefaultMaxSide || o.Width > DefaultMaxSide:
		return o, fmt.Errorf("synthetic options: size %dx%d, each side must be in 1..%d", o.Width, o.Height, DefaultMaxSide)
	case o.MinFilaments < 1 || o.MaxFilaments < o.MinFilaments:
		return o, fmt.Errorf("synthetic options: filaments %d..%d, want 1 <= min <= max", o.MinFilaments, o.MaxFilaments)
	case !(o.LineSigma > 0) || !(o.Curvature > 0) || math.IsNaN(o.PSFSigma):
		return o, fmt.Errorf("synthetic options: line_sigma %v and curvature %v must be positive", o.LineSigma, o.Curvature)
	case !(o.Background >= 0 && o.Background < 1):
		return o, fmt.Errorf("synthetic options: background %v must be in [0,1)", o.Background)
	}
	return o, nil
}

// Synthetic returns n clean synthetic fluorescence images of microtubule-like filaments,
// [n, Height, Width, 1], named "synthetic/seed=SEED/I". Image i depends only on (seed, i)
// (PCG stream (seed, i)), so a longer set extends a shorter one.
//
// Model: each filament is a curve grown both ways from a uniform random start point and
// heading, with step ds = filamentStep (0.5 px), whose curvature follows a random walk,
// kappa += Curvature*sqrt(ds)*N(0,1), clamped to +-maxFilamentCurvature; its length is uniform in [0.5, 1.5]*max(H, W) and its
// brightness A uniform in [0.3, 1]. A filament adds A*exp(-d^2/(2*LineSigma^2)) at each pixel,
// d being the distance to the nearest curve sample; filaments add where they cross. The sum
// s is blurred by a Gaussian PSF of std PSFSigma (mirror boundaries) and mapped to
// x = min(Background + (1 - Background)*s/p, 1), where p = LineSigma/sqrt(LineSigma^2 +
// PSFSigma^2) is the blurred peak of a straight filament of brightness 1; so empty space is
// Background, a filament's ridge is about Background + (1 - Background)*A, and only
// crossings of bright filaments saturate at 1.
func Synthetic(opts SyntheticOptions, n int, seed int64) (*Dataset, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("synthetic: count %d must be positive", n)
	}
	b := batch.New(n, o.Height, o.Width, 1)
	d := &Dataset{Images: b, Names: make([]string, n), Source: fmt.Sprintf("synthetic filaments (seed %d)", seed)}
	layer := make([]float32, o.Height*o.Width)
	for i := range n {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
		renderFilaments(b.Image(i).Data, layer, o, rng)
		d.Names[i] = fmt.Sprintf("synthetic/seed=%d/%d", seed, i)
	}
	return d, d.validate()
}

// renderFilaments fills img (H*W, zeroed) with one synthetic image; layer is scratch space.
func renderFilaments(img, layer []float32, o SyntheticOptions, rng *rand.Rand) {
	h, w := o.Height, o.Width
	side := float64(max(h, w))
	nf := o.MinFilaments + rng.IntN(o.MaxFilaments-o.MinFilaments+1)
	for range nf {
		clear(layer)
		px, py := rng.Float64()*float64(w), rng.Float64()*float64(h)
		theta := rng.Float64() * 2 * math.Pi
		length := side * (filamentMinLengthFrac + rng.Float64()*(filamentMaxLengthFrac-filamentMinLengthFrac))
		amp := float32(filamentMinIntensity + rng.Float64()*(1-filamentMinIntensity))
		// Grow half the length each way from the start point, so filaments cross the middle.
		for _, dir := range [2]float64{0, math.Pi} {
			kappa := rng.NormFloat64() * maxFilamentCurvature / 3
			growFilament(layer, h, w, px, py, theta+dir, kappa, length/2, amp, o, rng)
		}
		for j, v := range layer {
			img[j] += v
		}
	}
	if o.PSFSigma > 0 {
		GaussianBlur(img, h, w, o.PSFSigma)
	}
	peak := 1.0
	if o.PSFSigma > 0 {
		peak = o.LineSigma / math.Hypot(o.LineSigma, o.PSFSigma)
	}
	bg := float32(o.Background)
	scale := (1 - bg) / float32(peak)
	for j, v := range img {
		img[j] = min(bg+v*scale, 1)
	}
}

// growFilament stamps into layer (h x w) the Gaussian cross-section of amplitude amp along a
// curve of the given length from (px, py) with initial heading theta and curvature kappa,
// keeping at each pixel the largest value of any sample.
func growFilament(layer []float32, h, w int, px, py, theta, kappa, length float64, amp float32, o SyntheticOptions, rng *rand.Rand) {
	r := int(math.Ceil(3 * o.LineSigma))
	inv2s2 := 1 / (2 * o.LineSigma * o.LineSigma)
	for s := 0.0; s < length; s += filamentStep {
		// Pixel centers are at i+0.5.
		cx, cy := int(math.Floor(px)), int(math.Floor(py))
		for y := max(cy-r, 0); y <= min(cy+r, h-1); y++ {
			dy := float64(y) + 0.5 - py
			for x := max(cx-r, 0); x <= min(cx+r, w-1); x++ {
				dx := float64(x) + 0.5 - px
				v := amp * float32(math.Exp(-(dx*dx+dy*dy)*inv2s2))
				layer[y*w+x] = max(layer[y*w+x], v)
			}
		}
		kappa += o.Curvature * math.Sqrt(filamentStep) * rng.NormFloat64()
		kappa = min(max(kappa, -maxFilamentCurvature), maxFilamentCurvature)
		theta += kappa * filamentStep
		px += filamentStep * math.Cos(theta)
		py += filamentStep * math.Sin(theta)
	}
}

// GaussianBlur convolves the h x w single-channel image img in place with a normalized
// Gaussian of standard deviation sigma pixels (support +-ceil(3 sigma)), separably, with
// mirror (half-sample symmetric) boundaries.
func GaussianBlur(img []float32, h, w int, sigma float64) {
	if len(img) != h*w {
		panic(fmt.Sprintf("data.GaussianBlur: %d values for %dx%d", len(img), w, h))
	}
	r := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*r+1)
	var sum float64
	for i := -r; i <= r; i++ {
		v := math.Exp(-float64(i*i) / (2 * sigma * sigma))
		k[i+r] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] /= float32(sum)
	}
	line := make([]float32, max(h, w))
	blur1 := func(get func(int) float32, set func(int, float32), n int) {
		for i := range n {
			line[i] = get(i)
		}
		for i := range n {
			var acc float32
			for t := -r; t <= r; t++ {
				acc += k[t+r] * line[mirror(i+t, n)]
			}
			set(i, acc)
		}
	}
	for y := range h {
		row := img[y*w : (y+1)*w]
		blur1(func(i int) float32 { return row[i] }, func(i int, v float32) { row[i] = v }, w)
	}
	for x := range w {
		blur1(func(i int) float32 { return img[i*w+x] }, func(i int, v float32) { img[i*w+x] = v }, h)
	}
}

// mirror reflects index i into [0, n) with half-sample symmetry (-1 -> 0, n -> n-1).
func mirror(i, n int) int {
	for i < 0 || i >= n {
		if i < 0 {
			i = -i - 1
		}
		if i >= n {
			i = 2*n - 1 - i
		}
	}
	return i
}
