package metrics

import (
	"context"
	"fmt"
	"math"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

// SSIM constants, those of Wang et al. (2004) and of scikit-image's
// structural_similarity(gaussian_weights=True).
const (
	SSIMK1       = 0.01 // luminance stabilizer: C1 = (K1 R)^2
	SSIMK2       = 0.03 // contrast/structure stabilizer: C2 = (K2 R)^2
	SSIMSigma    = 1.5  // standard deviation of the Gaussian window, pixels
	SSIMTruncate = 3.5  // the window is cut at Truncate*Sigma pixels (scipy's truncate)
)

// ssimRadius is the Gaussian window radius, int(Truncate*Sigma + 0.5) = 5 as scipy.ndimage
// computes it: an 11x11 window.
var ssimRadius = int(math.Floor(SSIMTruncate*SSIMSigma + 0.5))

// SSIMConfig configures metric.ssim.
type SSIMConfig struct {
	DataRange float64 `yaml:"data_range" default:"1" check:">0" doc:"peak-to-peak range of the intensities (1 for [0,1] images)"`
}

// SSIM is the structural similarity index of Wang, Bovik, Sheikh and Simoncelli, "Image
// quality assessment: from error visibility to structural similarity", IEEE TIP 13(4), 2004,
// computed exactly as scikit-image's
//
//	structural_similarity(ref, img, gaussian_weights=True, sigma=1.5,
//	                      use_sample_covariance=False, data_range=R, channel_axis=-1)
//
// For each channel plane x (reference) and y (image), with G the normalized Gaussian window
// (sigma 1.5 px, truncated at radius 5: 11x11, applied separably with scipy.ndimage's
// "reflect" boundary, the half-sample symmetric extension d c b a | a b c d | d c b a):
//
//	mu_x = G*x,  mu_y = G*y
//	s_xx = G*(x x) - mu_x^2,  s_yy = G*(y y) - mu_y^2,  s_xy = G*(x y) - mu_x mu_y
//	S    = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_xx + s_yy + C2))
//	C1   = (0.01 R)^2,  C2 = (0.03 R)^2
//
// The map S is averaged over the pixels at least 5 from every border (skimage's
// crop(S, (win_size-1)//2).mean()), and the per-channel means are averaged over channels.
// Each side must be at least 11 pixels. Arithmetic is float64. Identical images give 1.
type SSIM struct{ Range float64 }

// Compute implements Metric.
func (m SSIM) Compute(ctx context.Context, ref, img *batch.Batch) ([]float64, error) {
	if err := checkPair(ref, img); err != nil {
		return nil, err
	}
	win := 2*ssimRadius + 1
	if ref.H < win || ref.W < win {
		return nil, fmt.Errorf("ssim needs images of at least %dx%d pixels, got %dx%d", win, win, ref.H, ref.W)
	}
	kernel := gaussianKernel(SSIMSigma, ssimRadius)
	out := make([]float64, ref.N)
	err := parallelImages(ctx, ref.N, func() func(i int) {
		s := newSSIMScratch(ref.H, ref.W)
		return func(i int) {
			var sum float64
			for c := range ref.C {
				sum += m.plane(s, kernel, ref, img, i, c)
			}
			out[i] = sum / float64(ref.C)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HigherIsBetter implements Metric.
func (SSIM) HigherIsBetter() bool { return true }

// ssimScratch holds the planes of one SSIM evaluation.
type ssimScratch struct {
	h, w                        int
	x, y, xx, yy, xy, tmp, line []float64
}

func newSSIMScratch(h, w int) *ssimScratch {
	n := h * w
	buf := make([]float64, 6*n)
	return &ssimScratch{h: h, w: w,
		x: buf[:n], y: buf[n : 2*n], xx: buf[2*n : 3*n], yy: buf[3*n : 4*n], xy: buf[4*n : 5*n], tmp: buf[5*n:],
		line: make([]float64, w+2*ssimRadius)}
}

// plane returns the cropped mean SSIM of channel c of image i.
func (m SSIM) plane(s *ssimScratch, kernel []float64, ref, img *batch.Batch, i, c int) float64 {
	sz, C := ref.ImageSize(), ref.C
	r, g := ref.Data[i*sz:(i+1)*sz], img.Data[i*sz:(i+1)*sz]
	for p := range s.x {
		a, b := float64(r[p*C+c]), float64(g[p*C+c])
		s.x[p], s.y[p], s.xx[p], s.yy[p], s.xy[p] = a, b, a*a, b*b, a*b
	}
	for _, p := range [][]float64{s.x, s.y, s.xx, s.yy, s.xy} {
		filterReflect(p, s.tmp, s.line, s.h, s.w, kernel)
	}
	c1 := (SSIMK1 * m.Range) * (SSIMK1 * m.Range)
	c2 := (SSIMK2 * m.Range) * (SSIMK2 * m.Range)
	pad := ssimRadius
	var sum float64
	for yy := pad; yy < s.h-pad; yy++ {
		for xx := pad; xx < s.w-pad; xx++ {
			p := yy*s.w + xx
			ux, uy := s.x[p], s.y[p]
			vx, vy, vxy := s.xx[p]-ux*ux, s.yy[p]-uy*uy, s.xy[p]-ux*uy
			sum += (2*ux*uy + c1) * (2*vxy + c2) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
		}
	}
	return sum / float64((s.h-2*pad)*(s.w-2*pad))
}

// gaussianKernel returns scipy.ndimage's 1-D Gaussian weights exp(-k^2 / (2 sigma^2)),
// k = -radius..radius, normalized to sum 1.
func gaussianKernel(sigma float64, radius int) []float64 {
	k := make([]float64, 2*radius+1)
	var sum float64
	for i := range k {
		d := float64(i - radius)
		k[i] = math.Exp(-0.5 * d * d / (sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// filterReflect convolves the h x w plane p in place with the separable kernel along rows
// then columns, extending the borders as scipy.ndimage mode "reflect". tmp has h*w values;
// line has w+len(kernel)-1.
func filterReflect(p, tmp, line []float64, h, w int, kernel []float64) {
	r := len(kernel) / 2
	line = line[:w+2*r]
	for y := range h {
		row := p[y*w : (y+1)*w]
		for i := range line {
			line[i] = row[reflectIndex(i-r, w)]
		}
		out := tmp[y*w : (y+1)*w]
		for x := range out {
			win := line[x : x+len(kernel)]
			var acc float64
			for k, kv := range kernel {
				acc += kv * win[k]
			}
			out[x] = acc
		}
	}
	for y := range h {
		out := p[y*w : (y+1)*w]
		clear(out)
		for k, kv := range kernel {
			src := tmp[reflectIndex(y+k-r, h)*w:]
			src = src[:len(out)]
			for x, v := range src {
				out[x] += kv * v
			}
		}
	}
}

// reflectIndex maps i into [0, n) by half-sample symmetric reflection (scipy's "reflect":
// -1 -> 0, -2 -> 1, n -> n-1), repeating with period 2n for far-out indices.
func reflectIndex(i, n int) int {
	period := 2 * n
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - 1 - i
	}
	return i
}

func init() {
	registry.Register(registry.Entry{
		ID: "metric.ssim", Kind: registry.KindMetric,
		Summary: "structural similarity (Wang et al. 2004; scikit-image Gaussian-window variant) per image",
		Config:  func() any { return &SSIMConfig{} },
		New:     func(_ context.Context, c any) (any, error) { return SSIM{Range: c.(*SSIMConfig).DataRange}, nil },
	})
}

var _ part.Metric = SSIM{}
