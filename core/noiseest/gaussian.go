package noiseest

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Method names a Gaussian noise-level estimator.
type Method string

// The Gaussian estimators (see the package doc for their maths).
const (
	// MethodWaveletMAD is Donoho & Johnstone's σ = median(|HH1|)/0.6745 on the finest
	// diagonal Daubechies-2 band.
	MethodWaveletMAD Method = "wavelet-mad"
	// MethodWaveletScreened is MethodWaveletMAD over the blocks that pass a smoothness test
	// (their horizontal, vertical and second-level detail energy is what noise of the
	// estimated σ alone gives), so edges and texture are left out.
	MethodWaveletScreened Method = "wavelet-mad-screened"
	// MethodImmerkaer is Immerkaer's Laplacian-difference mask over every interior pixel.
	MethodImmerkaer Method = "immerkaer"
	// MethodImmerkaerSobel is Immerkaer's mask over the pixels left after Tai & Yang's Sobel
	// edge exclusion (the EdgeFraction of pixels with the largest gradient are left out).
	MethodImmerkaerSobel Method = "immerkaer-sobel"
)

// Methods lists the Gaussian estimators, the default first.
var Methods = []Method{DefaultMethod, MethodWaveletMAD, MethodImmerkaerSobel, MethodImmerkaer}

// Gaussian defaults, each written once.
const (
	// DefaultMethod is the estimator used when none is named; docs/noise-estimation.md has
	// the measurements it was chosen by.
	DefaultMethod = MethodWaveletScreened
	// DefaultBlock is the side, in pixels, of the square blocks the bootstrap resamples.
	DefaultBlock = 32
	// DefaultEdgeFraction is the fraction of pixels MethodImmerkaerSobel leaves out as edges
	// (Tai & Yang 2008 use 10%).
	DefaultEdgeFraction = 0.1
	// DefaultKappa is the smoothness test's threshold, in standard deviations of the log of a
	// block's detail energy (see the package doc): each of its two tests fails a noise-only
	// block with probability about 2.3%.
	DefaultKappa = 2.0
)

// madToSigma is 1/Φ⁻¹(3/4): median(|ε|) = 0.6745 σ for ε ~ N(0, σ²).
const madToSigma = 1 / 0.6744897501960817

// GaussianOptions configure EstimateGaussian. The zero value means every default.
type GaussianOptions struct {
	// Method is the estimator. Default DefaultMethod.
	Method Method
	// Block is the side of the bootstrap's blocks in pixels (>= 8). Default DefaultBlock.
	Block int
	// EdgeFraction, in (0, 1), is the fraction of pixels MethodImmerkaerSobel leaves out.
	// Default DefaultEdgeFraction.
	EdgeFraction float64
	// Resamples is the number of bootstrap replicates (>= 2). Default DefaultResamples.
	Resamples int
	// Seed seeds the bootstrap. Default DefaultSeed.
	Seed uint64
}

func (o GaussianOptions) withDefaults() (GaussianOptions, error) {
	if o.Method == "" {
		o.Method = DefaultMethod
	}
	if o.Block == 0 {
		o.Block = DefaultBlock
	}
	if o.EdgeFraction == 0 {
		o.EdgeFraction = DefaultEdgeFraction
	}
	if o.Resamples == 0 {
		o.Resamples = DefaultResamples
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	switch {
	case !slices.Contains(Methods, o.Method):
		return o, fmt.Errorf("gaussian noise method %q: want one of %v", o.Method, Methods)
	case o.Block < minSide:
		return o, fmt.Errorf("block %d: want at least %d pixels", o.Block, minSide)
	case !(o.EdgeFraction > 0 && o.EdgeFraction < 1):
		return o, fmt.Errorf("edge fraction %v: want a value in (0, 1)", o.EdgeFraction)
	case o.Resamples < 2:
		return o, fmt.Errorf("resamples %d: want at least 2", o.Resamples)
	}
	return o, nil
}

// GaussianEstimate is an estimated standard deviation of additive white Gaussian noise, in
// the units of the data it was estimated from.
type GaussianEstimate struct {
	Sigma float64 `json:"sigma"`
	// StdErr is the block-bootstrap standard error of Sigma: the spread that sampling other
	// blocks of the same kind of images would give. It does not include the bias that signal
	// leaking into the high-pass band adds (docs/noise-estimation.md measures that).
	StdErr float64 `json:"stderr"`
	Method Method  `json:"method"`
	// Images is the number of planes (images times channels); Samples the number of
	// coefficients or pixels used; Blocks the number of bootstrap blocks.
	Images  int `json:"images"`
	Samples int `json:"samples"`
	Blocks  int `json:"blocks"`
	// Screened is the number of blocks MethodWaveletScreened left out as structured.
	Screened int `json:"screened,omitempty"`
	// Note says when the estimate is less trustworthy than usual (every block failed the
	// smoothness test, so all were used).
	Note string `json:"note,omitempty"`
}

// EstimateGaussianBatch estimates σ from every image and channel of b (see EstimateGaussian).
func EstimateGaussianBatch(b *batch.Batch, opts GaussianOptions) (GaussianEstimate, error) {
	return EstimateGaussian(Planes(b), opts)
}

// EstimateGaussian estimates the standard deviation of white Gaussian noise from the planes
// together (one σ for all), with a block-bootstrap standard error.
func EstimateGaussian(planes []Plane, opts GaussianOptions) (GaussianEstimate, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return GaussianEstimate{}, err
	}
	if err := checkPlanes(planes); err != nil {
		return GaussianEstimate{}, err
	}
	est := GaussianEstimate{Method: o.Method, Images: len(planes)}
	switch o.Method {
	case MethodWaveletMAD, MethodWaveletScreened:
		blocks := planeBlocks(planes, o.Block/2)
		sel := make([]int, len(blocks))
		for i := range sel {
			sel[i] = i
		}
		bv := madValues(blocks, sel)
		if o.Method == MethodWaveletScreened {
			var unclipped []int
			for i, b := range blocks {
				if b.clipped == 0 {
					unclipped = append(unclipped, i)
				}
			}
			sigma0 := 0.0
			if len(unclipped) > 0 {
				sigma0 = madToSigma * madValues(blocks, unclipped).median()
			}
			if s, ok := screenGaussian(blocks, sigma0); ok {
				bv, est.Screened = madValues(blocks, s), len(blocks)-len(s)
			} else {
				est.Note = "no block passed the smoothness test (heavy texture, clipping, no noise, or noise far from Gaussian such as few-photon counts: try the poisson-gaussian model): every block was used, so sigma is likely off"
			}
		}
		est.Sigma = madToSigma * bv.median()
		est.Samples, est.Blocks = len(bv.v), len(bv.size)
		est.StdErr = blockBootstrap(len(bv.size), o.Resamples, o.Seed, func(c []int) float64 {
			return madToSigma * bv.weightedMedian(c)
		})
	default:
		frac := 0.0
		if o.Method == MethodImmerkaerSobel {
			frac = o.EdgeFraction
		}
		sums, counts := immerkaerBlocks(planes, o.Block, frac)
		total, n := 0.0, 0
		for j := range sums {
			total += sums[j]
			n += counts[j]
		}
		// σ = √(π/2) · mean|I*M| / 6 (Immerkaer 1996).
		scale := math.Sqrt(math.Pi/2) / 6
		est.Sigma = scale * total / float64(n)
		est.Samples, est.Blocks = n, len(sums)
		est.StdErr = blockBootstrap(len(sums), o.Resamples, o.Seed, func(c []int) float64 {
			s, m := 0.0, 0
			for j, k := range c {
				s += float64(k) * sums[j]
				m += k * counts[j]
			}
			return scale * s / float64(m)
		})
	}
	return est, nil
}

// maxScreenIterations bounds the alternation of selection and estimate; the selection stops
// changing within a few iterations on every test image.
const maxScreenIterations = 20

// screenGaussian selects the blocks that pass the smoothness test for the noise variance σ²,
// re-estimating σ from the selected blocks until the selection no longer changes, starting
// from sigma0 (Donoho & Johnstone's σ over the unclipped blocks, which texture inflates, so
// the first selection is the most permissive). ok is false when no block passes.
func screenGaussian(blocks []coefBlock, sigma0 float64) (sel []int, ok bool) {
	sigma := sigma0
	var prev []int
	for range maxScreenIterations {
		sel = nil
		for i, b := range blocks {
			if b.smooth(sigma*sigma, DefaultKappa) {
				sel = append(sel, i)
			}
		}
		if len(sel) == 0 {
			return nil, false
		}
		if slices.Equal(sel, prev) {
			break
		}
		sigma, prev = madToSigma*madValues(blocks, sel).median(), sel
	}
	return sel, true
}

// madValues gathers |HH1| of the selected blocks for medians, the bootstrap's unit being
// the block.
func madValues(blocks []coefBlock, sel []int) blockedValues {
	var v []float64
	var ids []int32
	for k, i := range sel {
		v = append(v, blocks[i].absHH...)
		for range blocks[i].absHH {
			ids = append(ids, int32(k))
		}
	}
	return newBlockedValues(v, ids, len(sel))
}

// immerkaerBlocks returns, per block of side block pixels, the sum of |I*M| over its interior
// pixels and their count, leaving out in each plane the fraction edgeFrac of pixels with the
// largest Sobel gradient |Gx| + |Gy| (Tai & Yang 2008). In white Gaussian noise the Sobel
// responses and I*M at one pixel are uncorrelated (Σ S·M = 0), hence independent, so the
// exclusion does not bias the estimate on flat images.
func immerkaerBlocks(planes []Plane, block int, edgeFrac float64) (sums []float64, counts []int) {
	for _, p := range planes {
		h, w := p.H-2, p.W-2
		nbx, nby := (w+block-1)/block, (h+block-1)/block
		base := len(sums)
		sums = append(sums, make([]float64, nbx*nby)...)
		counts = append(counts, make([]int, nbx*nby)...)
		r, g := make([]float64, h*w), make([]float64, h*w)
		for y := 1; y <= h; y++ {
			for x := 1; x <= w; x++ {
				a, b, c := p.at(y-1, x-1), p.at(y-1, x), p.at(y-1, x+1)
				d, e, f := p.at(y, x-1), p.at(y, x), p.at(y, x+1)
				gg, hh, ii := p.at(y+1, x-1), p.at(y+1, x), p.at(y+1, x+1)
				// M = [1 -2 1; -2 4 -2; 1 -2 1]
				r[(y-1)*w+x-1] = math.Abs(a - 2*b + c - 2*d + 4*e - 2*f + gg - 2*hh + ii)
				gx := (c + 2*f + ii) - (a + 2*d + gg)
				gy := (gg + 2*hh + ii) - (a + 2*b + c)
				g[(y-1)*w+x-1] = math.Abs(gx) + math.Abs(gy)
			}
		}
		edge := make([]bool, h*w)
		if k := int(edgeFrac * float64(h*w)); k > 0 {
			idx := make([]int, h*w)
			for i := range idx {
				idx[i] = i
			}
			// The k largest gradients, ties broken by position so the choice is reproducible.
			slices.SortFunc(idx, func(a, b int) int {
				if g[a] != g[b] {
					return cmp.Compare(g[b], g[a])
				}
				return a - b
			})
			for _, i := range idx[:k] {
				edge[i] = true
			}
		}
		for y := range h {
			for x := range w {
				k := y*w + x
				if edge[k] {
					continue
				}
				j := base + (y/block)*nbx + x/block
				sums[j] += r[k]
				counts[j]++
			}
		}
	}
	return sums, counts
}
