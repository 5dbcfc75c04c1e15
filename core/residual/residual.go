// Package residual judges a restoration without ground truth, by what it leaves unexplained
// in the observation. For an observation y = N(A(x)) and a restoration x̂, the whitened
// residual is
//
//	r = (y - A(x̂)) / σ,   σ² = Var[y | A(x̂)]   (the noise model's variance at A(x̂))
//
// When x̂ explains the data and no more, r is (close to) white noise of unit variance: mean 0,
// variance 1, no correlation between neighbours, a flat power spectrum. A variance well above
// 1 means the restoration misses signal or the noise level is underestimated; well below 1, it
// over-fits the noise (or the noise level is overestimated). Correlation between neighbours
// (lag-1 autocorrelation) and a spectrum that is not flat (low-frequency power) mean structure
// of the image was left in the residual, that is, signal was removed.
//
// Statistics are per image, pooled over channels. Images are core/batch batches, NHWC
// float32. The spectral flatness is computed on the radially averaged periodogram (Welch-free:
// one periodogram per channel, averaged over channels and over each ring of integer radius,
// DC excluded): the ratio of the geometric to the arithmetic mean of the ring averages, 1 for
// a perfectly flat spectrum and smaller the more the power concentrates in some frequencies
// (Wiener entropy, as in Johnston 1988 and Dubnov 2004). For pure white noise it is below 1
// only by the sampling spread of the ring averages, which shrinks with the image size: about
// 0.8-0.96 at 28x28, 0.96-0.99 at 64x64, 0.99 at 512x512; compare images of one size.
package residual

import (
	"errors"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Stats are the whitened-residual statistics of one image.
type Stats struct {
	Mean     float64 `json:"mean"`     // ≈ 0 when A(x̂) is unbiased
	Variance float64 `json:"variance"` // ≈ 1 when x̂ explains the data and no more
	Lag1     float64 `json:"lag1"`     // mean of the horizontal and vertical lag-1 autocorrelations; ≈ 0 for white noise
	Flatness float64 `json:"flatness"` // spectral flatness of the radial power spectrum, in (0, 1]; ≈ 1 for white noise
}

// Whiten returns r = (y - ax) / sqrt(variance), elementwise. variance must be positive where
// it is used; a non-positive or non-finite variance is an error naming the first pixel.
func Whiten(y, ax, variance *batch.Batch) (*batch.Batch, error) {
	if err := batch.SameShape(y, ax); err != nil {
		return nil, fmt.Errorf("observation and A(x̂): %w", err)
	}
	if err := batch.SameShape(y, variance); err != nil {
		return nil, fmt.Errorf("observation and noise variance: %w", err)
	}
	r := batch.New(y.N, y.H, y.W, y.C)
	for i, v := range variance.Data {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("noise variance %v at element %d: must be positive and finite", v, i)
		}
		r.Data[i] = (y.Data[i] - ax.Data[i]) / float32(math.Sqrt(float64(v)))
	}
	return r, nil
}

// WhitenSigma is Whiten with a constant noise standard deviation sigma > 0.
func WhitenSigma(y, ax *batch.Batch, sigma float64) (*batch.Batch, error) {
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, fmt.Errorf("noise sigma %v: must be positive and finite", sigma)
	}
	v := batch.New(y.N, y.H, y.W, y.C)
	for i := range v.Data {
		v.Data[i] = float32(sigma * sigma)
	}
	return Whiten(y, ax, v)
}

// Compute returns the statistics of each image of the whitened residual r.
func Compute(r *batch.Batch) ([]Stats, error) {
	if r.H < 2 || r.W < 2 {
		return nil, errors.New("residual statistics need images of at least 2x2 pixels")
	}
	out := make([]Stats, r.N)
	for n := range r.N {
		img := r.Slice(n, n+1)
		out[n] = Stats{Lag1: lag1(img), Flatness: flatness(img)}
		out[n].Mean, out[n].Variance = meanVar(img.Data)
	}
	return out, nil
}

func meanVar(d []float32) (mean, variance float64) {
	for _, v := range d {
		mean += float64(v)
	}
	mean /= float64(len(d))
	for _, v := range d {
		variance += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, variance / float64(len(d)-1)
}

// lag1 is the mean of the horizontal and vertical lag-1 autocorrelation coefficients of one
// image [1,H,W,C], each Σ (a-m)(b-m) / Σ (a-m)² over the pairs of neighbours of every channel.
func lag1(img *batch.Batch) float64 {
	mean, _ := meanVar(img.Data)
	at := func(y, x, c int) float64 { return float64(img.Data[(y*img.W+x)*img.C+c]) - mean }
	var h, v, den float64
	for y := range img.H {
		for x := range img.W {
			for c := range img.C {
				a := at(y, x, c)
				den += a * a
				if x+1 < img.W {
					h += a * at(y, x+1, c)
				}
				if y+1 < img.H {
					v += a * at(y+1, x, c)
				}
			}
		}
	}
	if den == 0 {
		return 0
	}
	// Normalize each direction by its own number of pairs relative to the pixel count.
	hn := float64(img.H*img.W) / float64(img.H*(img.W-1))
	vn := float64(img.H*img.W) / float64((img.H-1)*img.W)
	return (h*hn + v*vn) / (2 * den)
}

// flatness is the spectral flatness of the radially averaged periodogram of one image.
func flatness(img *batch.Batch) float64 {
	h, w := img.H, img.W
	rings := make([]float64, int(math.Ceil(math.Hypot(float64(h/2), float64(w/2))))+1)
	counts := make([]int, len(rings))
	re := make([]float64, h*w)
	im := make([]float64, h*w)
	for c := range img.C {
		for i := range re {
			re[i], im[i] = float64(img.Data[i*img.C+c]), 0
		}
		fft2(re, im, h, w)
		for ky := range h {
			fy := min(ky, h-ky)
			for kx := range w {
				fx := min(kx, w-kx)
				if fx == 0 && fy == 0 {
					continue // DC: the mean, judged separately
				}
				k := int(math.Round(math.Hypot(float64(fy), float64(fx))))
				p := re[ky*w+kx]*re[ky*w+kx] + im[ky*w+kx]*im[ky*w+kx]
				rings[k] += p
				counts[k]++
			}
		}
	}
	var logSum, sum float64
	var m int
	for k, s := range rings {
		if counts[k] == 0 {
			continue
		}
		a := s / float64(counts[k])
		if a <= 0 {
			return 0
		}
		logSum += math.Log(a)
		sum += a
		m++
	}
	if m == 0 {
		return 1
	}
	return math.Exp(logSum/float64(m)) / (sum / float64(m))
}

// Summary is the mean of each statistic over images.
func Summary(s []Stats) Stats {
	var out Stats
	for _, v := range s {
		out.Mean += v.Mean
		out.Variance += v.Variance
		out.Lag1 += v.Lag1
		out.Flatness += v.Flatness
	}
	n := float64(max(len(s), 1))
	return Stats{Mean: out.Mean / n, Variance: out.Variance / n, Lag1: out.Lag1 / n, Flatness: out.Flatness / n}
}
