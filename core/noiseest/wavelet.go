package noiseest

import "math"

// Daubechies-2 ("db2", 4 taps) orthonormal filters: lowpass h (Σh = √2) and highpass
// g_k = (-1)^k h_{3-k}, which has two vanishing moments (Σg = Σ k·g = 0), so it annihilates
// constants and ramps. Daubechies, Ten Lectures on Wavelets (SIAM 1992), table 6.1, N = 2.
var (
	db2Low = [4]float64{
		(1 + math.Sqrt(3)) / (4 * math.Sqrt2),
		(3 + math.Sqrt(3)) / (4 * math.Sqrt2),
		(3 - math.Sqrt(3)) / (4 * math.Sqrt2),
		(1 - math.Sqrt(3)) / (4 * math.Sqrt2),
	}
	db2High = [4]float64{db2Low[3], -db2Low[2], db2Low[1], -db2Low[0]}
	// db2HighSq holds g_k², the weights (summing to 1) of the pixel variances in one
	// detail coefficient's variance along one axis.
	db2HighSq = [4]float64{db2High[0] * db2High[0], db2High[1] * db2High[1], db2High[2] * db2High[2], db2High[3] * db2High[3]}
)

// level1 is the finest level of a 2-D Daubechies-2 analysis of one plane, without boundary
// extension: coefficient (i, j) uses the 4x4 pixels whose top-left corner is (2i, 2j), so a
// plane of H x W gives ⌊(H-2)/2⌋ x ⌊(W-2)/2⌋ coefficients of each kind, row-major.
type level1 struct {
	h, w int
	// hh is the diagonal detail Σ g_u g_v y; lh and hl the horizontal and vertical details
	// (g along rows ⊗ h along columns, and the converse). With white noise of variance σ²
	// each is N(0, σ²) and all are independent (the transform is orthonormal).
	hh, lh, hl []float64
	// mean is the local mean weighted exactly as hh's variance weights the pixels,
	// Σ g_u² g_v² y: for independent noise Var(hh) = Σ g_u² g_v² Var(y), so with
	// Var(y) = a·x + b, E[hh²] = a·E[mean] + b for the signal hh does not see.
	mean []float64
	// coarse holds the second level's horizontal and vertical details (the same analysis of
	// the first level's approximation Σ h_u h_v y), (lh² + hl²)/2 per coefficient, each
	// placed at the first-level position (2p+1, 2q+1) its support is centred on. Noise alone
	// gives them the same expected energy as hh; an edge, at any orientation, far more.
	coarse           []float64
	coarseH, coarseW int
	// clipped is the 2-D prefix sum, (H+1) x (W+1), of the pixels at a clipping level (see
	// clippedPrefix), so a block's count is four look-ups; pw = W + 1 is its stride.
	clipped []int32
	pw      int
}

// filter2 filters x (h x w, row-major) separably with the 4-tap fy along columns and fx
// along rows, at stride 2 without boundary extension: ⌊(h-2)/2⌋ x ⌊(w-2)/2⌋ values.
func filter2(x []float64, h, w int, fy, fx [4]float64) ([]float64, int, int) {
	oh, ow := (h-2)/2, (w-2)/2
	rows := make([]float64, h*ow)
	for y := range h {
		for j := range ow {
			s := 0.0
			for v := range 4 {
				s += fx[v] * x[y*w+2*j+v]
			}
			rows[y*ow+j] = s
		}
	}
	out := make([]float64, oh*ow)
	for i := range oh {
		for j := range ow {
			s := 0.0
			for u := range 4 {
				s += fy[u] * rows[(2*i+u)*ow+j]
			}
			out[i*ow+j] = s
		}
	}
	return out, oh, ow
}

// analyze computes the finest-level coefficients of p (at least 8 x 8 pixels) and the
// second level's detail energy.
func analyze(p Plane) level1 {
	x := make([]float64, len(p.Data))
	for i, v := range p.Data {
		x[i] = float64(v)
	}
	l := level1{}
	l.hh, l.h, l.w = filter2(x, p.H, p.W, db2High, db2High)
	l.lh, _, _ = filter2(x, p.H, p.W, db2High, db2Low)
	l.hl, _, _ = filter2(x, p.H, p.W, db2Low, db2High)
	l.mean, _, _ = filter2(x, p.H, p.W, db2HighSq, db2HighSq)
	ll, _, _ := filter2(x, p.H, p.W, db2Low, db2Low)
	if l.h >= 4 && l.w >= 4 {
		var lh2, hl2 []float64
		lh2, l.coarseH, l.coarseW = filter2(ll, l.h, l.w, db2High, db2Low)
		hl2, _, _ = filter2(ll, l.h, l.w, db2Low, db2High)
		l.coarse = make([]float64, len(lh2))
		for k := range lh2 {
			l.coarse[k] = (lh2[k]*lh2[k] + hl2[k]*hl2[k]) / 2
		}
	}
	l.clipped, l.pw = clippedPrefix(p), p.W+1
	return l
}

// clipFraction is the share of a plane's pixels that must sit exactly on its minimum (or
// maximum) for that value to count as a clipping level.
const clipFraction = 0.001

// clippingLevels finds a plane's floor and saturation, if any: its minimum (maximum) value
// when at least clipFraction of the pixels hold it exactly, as happens where noise was
// clipped (the 0 and 1 of quantized storage, a sensor's saturation). Noise without clipping
// has a thin tail at its extremes, and continuous data repeat no value. A floor that is not
// the minimum, such as the black level of a photon-counting camera under a few darker
// pixels, is not clipping: its pixels are the genuine zero-photon level. okLo and okHi say
// whether each level exists.
func clippingLevels(p Plane) (lo, hi float32, okLo, okHi bool) {
	lo, hi = p.Data[0], p.Data[0]
	for _, v := range p.Data {
		lo, hi = min(lo, v), max(hi, v)
	}
	nlo, nhi := 0, 0
	for _, v := range p.Data {
		if v == lo {
			nlo++
		}
		if v == hi {
			nhi++
		}
	}
	limit := max(2, int(clipFraction*float64(len(p.Data))))
	return lo, hi, nlo >= limit, nhi >= limit
}

// clippedPrefix marks the pixels at or beyond a clipping level of p and returns their
// prefix sum.
func clippedPrefix(p Plane) []int32 {
	lo, hi, okLo, okHi := clippingLevels(p)
	pw := p.W + 1
	ps := make([]int32, (p.H+1)*pw)
	for y := range p.H {
		for x := range p.W {
			v := p.Data[y*p.W+x]
			c := int32(0)
			if (okLo && v <= lo) || (okHi && v >= hi) {
				c = 1
			}
			ps[(y+1)*pw+x+1] = c + ps[y*pw+x+1] + ps[(y+1)*pw+x] - ps[y*pw+x]
		}
	}
	return ps
}

// clippedIn counts the clipped pixels under the coefficients rows i0..i0+h-1, columns
// j0..j0+w-1 (pixels 2·i0 .. 2·(i0+h-1)+3, likewise for columns).
func (l level1) clippedIn(i0, j0, h, w int) int {
	y0, x0, y1, x1 := 2*i0, 2*j0, 2*(i0+h-1)+4, 2*(j0+w-1)+4
	return int(l.clipped[y1*l.pw+x1] - l.clipped[y0*l.pw+x1] - l.clipped[y1*l.pw+x0] + l.clipped[y0*l.pw+x0])
}

// coefBlock summarizes one square block of finest-level coefficients of one plane.
type coefBlock struct {
	i0, j0 int     // first coefficient (row, column)
	h, w   int     // rows and columns of coefficients
	n      int     // h*w
	hh2    float64 // Σ hh²
	det2   float64 // Σ (lh² + hl²)/2
	mean   float64 // Σ mean
	coarse float64 // Σ of the second level's (lh² + hl²)/2 placed in the block
	nc     int     // their count
	// clipped counts the pixels under the block at a clipping level; their noise is not
	// the model's, so such blocks are left out.
	clipped int
	// absHH holds |hh| of the block's coefficients.
	absHH []float64
}

// smooth reports whether the block looks like noise alone around a smooth signal, given
// the noise variance v expected there. Noise of variance v gives every detail band the
// expected energy v per coefficient; the block passes when
//
//	Σ(lh² + hl²)/2 / n <= v·exp(kappa/√n)          (first level: texture)
//	coarse / nc        <= v·exp(kappa/√nc)         (second level: edges)
//
// (the log of a mean of 2n squares of normal variables has standard deviation about 1/√n)
// and it covers no clipped pixel. Texture puts its energy into the first level's lh and hl
// (one high-pass) long before it reaches hh (two); an edge at any orientation, even a
// staircase edge that lights hh as much as lh and hl, puts far more into the second level.
// The tests use bands orthogonal to hh, so under noise alone passing them says nothing
// about hh: the selection does not bias the estimate.
func (b coefBlock) smooth(v, kappa float64) bool {
	if b.clipped > 0 || !(v > 0) {
		return false
	}
	if b.det2/float64(b.n) > v*math.Exp(kappa/math.Sqrt(float64(b.n))) {
		return false
	}
	return b.nc == 0 || b.coarse/float64(b.nc) <= v*math.Exp(kappa/math.Sqrt(float64(b.nc)))
}

// selfSimilar is the starting test, for when no noise level is known yet: the block's own
// hh energy stands for v, T1 = Σ(lh² + hl²)/2 / Σhh² <= exp(kappa·√(3/n)) and
// T2 = (coarse/nc)/(Σhh²/n) <= exp(kappa·√(1/nc + 2/n)) (the logs of the ratios have about
// those standard deviations under noise alone). Blocks with hh above its expectation pass
// more easily, so this selection favours high hh; it only seeds the fit that smooth refines.
func (b coefBlock) selfSimilar(kappa float64) bool {
	if b.clipped > 0 || !(b.hh2 > 0) {
		return false
	}
	n := float64(b.n)
	if b.det2 > b.hh2*math.Exp(kappa*math.Sqrt(3/n)) {
		return false
	}
	nc := float64(b.nc)
	return b.nc == 0 || b.coarse/nc <= b.hh2/n*math.Exp(kappa*math.Sqrt(1/nc+2/n))
}

// blocks cuts the coefficients of l into blocks of side block, the last row and column of
// blocks possibly smaller.
func (l level1) blocks(block int) []coefBlock {
	var out []coefBlock
	for i0 := 0; i0 < l.h; i0 += block {
		for j0 := 0; j0 < l.w; j0 += block {
			b := coefBlock{i0: i0, j0: j0, h: min(block, l.h-i0), w: min(block, l.w-j0)}
			b.n = b.h * b.w
			b.absHH = make([]float64, 0, b.n)
			for i := i0; i < i0+b.h; i++ {
				for j := j0; j < j0+b.w; j++ {
					k := i*l.w + j
					b.hh2 += l.hh[k] * l.hh[k]
					b.det2 += (l.lh[k]*l.lh[k] + l.hl[k]*l.hl[k]) / 2
					b.mean += l.mean[k]
					b.absHH = append(b.absHH, math.Abs(l.hh[k]))
				}
			}
			b.clipped = l.clippedIn(i0, j0, b.h, b.w)
			// Second-level coefficient (p, q) sits at first-level (2p+1, 2q+1).
			for p := i0 / 2; p < l.coarseH && 2*p+1 < i0+b.h; p++ {
				for q := j0 / 2; q < l.coarseW && 2*q+1 < j0+b.w; q++ {
					if 2*p+1 >= i0 && 2*q+1 >= j0 {
						b.coarse += l.coarse[p*l.coarseW+q]
						b.nc++
					}
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// planeBlocks analyzes every plane and returns all their blocks.
func planeBlocks(planes []Plane, block int) []coefBlock {
	var out []coefBlock
	for _, p := range planes {
		out = append(out, analyze(p).blocks(block)...)
	}
	return out
}
