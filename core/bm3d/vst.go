package bm3d

import (
	"context"
	"fmt"
	"math"
)

// Poisson-Gaussian data through a variance-stabilizing transform.
//
// The model, in the data's units: z = a·p + c + n, p ~ Poisson(λ), n ~ N(0, σ²), so that
// E[z] = a·λ + c and var(z) = a·(E[z] - c) + σ² (noise.poisson_gaussian's gain a, sigma σ and
// offset c; core/noiseest's (a, b = σ²)). In counts, z' = (z - c)/a and s = σ/a. The
// generalized Anscombe transform (Murtagh, Starck & Bijaoui, "Image restoration with noise
// suppression using a multiresolution support", A&AS 112, 1995; Starck, Murtagh & Bijaoui,
// Image Processing and Data Analysis, 1998)
//
//	f(z') = 2·√(z' + 3/8 + s²)   (0 where the root's argument is negative)
//
// makes the noise about N(0, 1) whatever λ, so a Gaussian denoiser with sigma 1 applies. Its
// output D estimates E[f(z') | λ], not f(λ), so the algebraic inverse (D/2)² - 3/8 - s² is
// biased at low counts. The exact unbiased inverse (Mäkitalo & Foi, "Optimal inversion of the
// generalized Anscombe transformation for Poisson-Gaussian noise", IEEE TIP 22(1), 2013) is
// the λ with
//
//	E[f | λ] = Σ_k Poisson(k; λ) · ∫ f(k + n) φ(n; 0, s²) dn = D,
//
// computed here numerically: the Gaussian integral by the trapezoid rule on ±8s (321 nodes,
// weights normalized), the Poisson sum over k within λ ± 12√λ (+30), tabulated on λ = (i·h)²
// up to the data's largest count and inverted by linear interpolation in √λ. D below E[f | 0]
// maps to λ = 0; D beyond the table uses Mäkitalo & Foi's closed-form approximation
//
//	λ ≈ D²/4 + √(3/2)/(4D) - 11/(8D²) + 5√(3/2)/(8D³) - 1/8 - s²,
//
// accurate where the table ends (λ of tens and more).

// GAT is the generalized Anscombe transform for one noise model, with its exact unbiased
// inverse tabulated up to a largest count.
type GAT struct {
	a, c, s2 float64
	// h is the table's step in √λ; ef[i] = E[f | λ = (i·h)²].
	h  float64
	ef []float64
}

// gatTable is the number of table intervals: the linear interpolation in √λ is then far
// below the Monte-Carlo tolerance of the tests.
const gatTable = 4096

// NewGAT builds the transform for gain a > 0, read noise sigma >= 0 and offset c, all in the
// data's units, with the exact inverse tabulated up to the data value zmax.
func NewGAT(a, sigma, c, zmax float64) (*GAT, error) {
	switch {
	case !(a > 0) || math.IsInf(a, 0):
		return nil, fmt.Errorf("bm3d: poisson-gaussian gain a must be > 0, got %v", a)
	case !(sigma >= 0) || math.IsInf(sigma, 0):
		return nil, fmt.Errorf("bm3d: poisson-gaussian sigma must be >= 0, got %v", sigma)
	case math.IsNaN(c) || math.IsInf(c, 0) || math.IsNaN(zmax) || math.IsInf(zmax, 0):
		return nil, fmt.Errorf("bm3d: offset and data range must be finite")
	}
	g := &GAT{a: a, c: c, s2: (sigma / a) * (sigma / a)}
	lmax := max((zmax-c)/a, 1) + 10
	g.h = math.Sqrt(lmax) / gatTable
	gk := g.smoothed(int(lmax + 12*math.Sqrt(lmax) + 31))
	g.ef = make([]float64, gatTable+1)
	for i := range g.ef {
		u := float64(i) * g.h
		g.ef[i] = expectPoisson(u*u, gk)
		if i > 0 && !(g.ef[i] > g.ef[i-1]) {
			return nil, fmt.Errorf("bm3d: internal: E[f | λ] not increasing at λ = %g", u*u)
		}
	}
	return g, nil
}

// Forward returns f((z - c)/a), the stabilized value of one data value.
func (g *GAT) Forward(z float64) float64 {
	return 2 * math.Sqrt(max((z-g.c)/g.a+0.375+g.s2, 0))
}

// Expected returns E[f | λ] for the count λ >= 0 within the table (the exact forward map of
// the unbiased inverse).
func (g *GAT) Expected(lambda float64) float64 {
	return expectPoisson(lambda, g.smoothed(int(lambda+12*math.Sqrt(lambda)+31)))
}

// Inverse returns the exact unbiased inverse of a denoised value d, in the data's units:
// a·λ + c with E[f | λ] = d.
func (g *GAT) Inverse(d float64) float64 {
	if d <= g.ef[0] {
		return g.c
	}
	n := len(g.ef) - 1
	if d >= g.ef[n] {
		r := math.Sqrt(1.5)
		lam := d*d/4 + r/(4*d) - 11/(8*d*d) + 5*r/(8*d*d*d) - 0.125 - g.s2
		return g.a*max(lam, 0) + g.c
	}
	lo, hi := 0, n // ef[lo] < d <= ef[hi]
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if g.ef[mid] < d {
			lo = mid
		} else {
			hi = mid
		}
	}
	u := (float64(lo) + (d-g.ef[lo])/(g.ef[hi]-g.ef[lo])) * g.h
	return g.a*u*u + g.c
}

// smoothed returns G(k) = ∫ f(k + n) φ(n; 0, s²) dn for k = 0..kmax, with f in counts.
func (g *GAT) smoothed(kmax int) []float64 {
	gk := make([]float64, kmax+1)
	s := math.Sqrt(g.s2)
	const nodes = 321
	var ns, ws []float64
	if s > 0 {
		sum := 0.0
		for j := range nodes {
			t := -8 + 16*float64(j)/(nodes-1)
			w := math.Exp(-t * t / 2)
			if j == 0 || j == nodes-1 {
				w /= 2
			}
			ns, ws = append(ns, t*s), append(ws, w)
			sum += w
		}
		for j := range ws {
			ws[j] /= sum
		}
	}
	for k := range gk {
		if s == 0 {
			gk[k] = 2 * math.Sqrt(float64(k)+0.375)
			continue
		}
		v := 0.0
		for j, n := range ns {
			v += ws[j] * 2 * math.Sqrt(max(float64(k)+n+0.375+g.s2, 0))
		}
		gk[k] = v
	}
	return gk
}

// expectPoisson returns Σ_k Poisson(k; λ)·gk[k] over k within λ ± 12√λ (+30 above).
func expectPoisson(lambda float64, gk []float64) float64 {
	if lambda == 0 {
		return gk[0]
	}
	k0 := max(0, int(lambda-12*math.Sqrt(lambda)-10))
	k1 := min(len(gk)-1, int(lambda+12*math.Sqrt(lambda)+30))
	ll := math.Log(lambda)
	s, w := 0.0, 0.0
	for k := k0; k <= k1; k++ {
		lg, _ := math.Lgamma(float64(k + 1))
		p := math.Exp(float64(k)*ll - lambda - lg)
		s += p * gk[k]
		w += p
	}
	return s / w
}

// PGOptions configure DenoisePG: the Poisson-Gaussian noise model in the image's units and the
// BM3D options (whose Sigma and Peak are set by DenoisePG).
type PGOptions struct {
	// A is the gain a (intensity of one detected photon), > 0; Sigma the read noise σ, >= 0;
	// Offset the camera offset c. noise.poisson_gaussian's gain, sigma and offset.
	A, Sigma, Offset float64
	// BM3D holds the profile and workers; its Sigma and Peak are ignored.
	BM3D Options
}

// DenoisePG denoises an h x w plane of Poisson-Gaussian data: the generalized Anscombe
// transform, BM3D with sigma 1 (Peak the transformed image's largest value, so that the
// [0, 255] thresholds see the stabilized range), and the exact unbiased inverse.
func DenoisePG(ctx context.Context, img []float32, h, w int, opt PGOptions) ([]float32, error) {
	zmax := math.Inf(-1)
	for _, v := range img {
		zmax = max(zmax, float64(v))
	}
	g, err := NewGAT(opt.A, opt.Sigma, opt.Offset, zmax)
	if err != nil {
		return nil, err
	}
	t := make([]float32, len(img))
	peak := 0.0
	for i, v := range img {
		f := g.Forward(float64(v))
		t[i] = float32(f)
		peak = max(peak, f)
	}
	o := opt.BM3D
	o.Sigma, o.Peak = 1, max(peak, 1)
	d, err := Denoise(ctx, t, h, w, o)
	if err != nil {
		return nil, err
	}
	for i, v := range d {
		d[i] = float32(g.Inverse(float64(v)))
	}
	return d, nil
}
