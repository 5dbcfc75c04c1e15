package noiseest

import (
	"fmt"
	"math"
	"slices"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Poisson-Gaussian defaults, each written once.
const (
	// DefaultPGBlock is the side, in pixels, of the blocks whose local mean and noise
	// variance make one point of the variance-versus-mean fit.
	DefaultPGBlock = 16
	// fitIterations bounds the reweighting iterations of the fit, which stop when a and b
	// change by less than fitTolerance (relative), far below their standard errors.
	fitIterations = 50
	fitTolerance  = 1e-7
	// narrowRange: when the fitted blocks' means (5th to 95th percentile, above the offset)
	// span less than this fraction of the upper one, a and b are not told apart well.
	narrowRange = 0.25
)

// PGOptions configure EstimatePoissonGaussian. The zero value means every default.
type PGOptions struct {
	// Block is the side of the blocks in pixels (>= 8, even). Default DefaultPGBlock.
	Block int
	// Resamples is the number of bootstrap replicates (>= 2). Default DefaultResamples.
	Resamples int
	// Seed seeds the bootstrap. Default DefaultSeed.
	Seed uint64
	// FixA, FixB hold a parameter at a known value (not nil) and fit only the other.
	FixA, FixB *float64
	// Offset is a known camera baseline in the data's units (noise.poisson_gaussian's
	// offset): the model becomes var(y) = a·(E[y] - Offset) + b. Default 0.
	Offset float64
}

func (o PGOptions) withDefaults() (PGOptions, error) {
	if o.Block == 0 {
		o.Block = DefaultPGBlock
	}
	if o.Resamples == 0 {
		o.Resamples = DefaultResamples
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	switch {
	case o.Block < minSide || o.Block%2 != 0:
		return o, fmt.Errorf("block %d: want an even side of at least %d pixels", o.Block, minSide)
	case o.Resamples < 2:
		return o, fmt.Errorf("resamples %d: want at least 2", o.Resamples)
	case o.FixA != nil && o.FixB != nil:
		return o, fmt.Errorf("both a and b are fixed: nothing to estimate")
	case o.FixA != nil && !(*o.FixA >= 0) || o.FixB != nil && !(*o.FixB >= 0):
		return o, fmt.Errorf("a fixed parameter must be >= 0")
	}
	return o, nil
}

// PGEstimate is an estimated Poisson-Gaussian noise model var(y | x) = a·x + b, in the data's
// units: a in intensity (the intensity of one detected photon), b in intensity².
type PGEstimate struct {
	A       float64 `json:"a"`
	B       float64 `json:"b"`
	StdErrA float64 `json:"stderr_a"`
	StdErrB float64 `json:"stderr_b"`
	// Images is the number of planes; Blocks the number of blocks fitted; Screened the
	// number left out by the smoothness test.
	Images   int `json:"images"`
	Blocks   int `json:"blocks"`
	Screened int `json:"screened"`
	// MeanLow and MeanHigh are the 5th and 95th percentiles of the fitted blocks' means: the
	// intensity range the fit saw (b is extrapolated when MeanLow is far above 0).
	MeanLow  float64 `json:"mean_low"`
	MeanHigh float64 `json:"mean_high"`
	// Note says when the estimate is less trustworthy than usual.
	Note string `json:"note,omitempty"`
}

// Sigma returns √b, the Gaussian (read-noise) standard deviation.
func (e PGEstimate) Sigma() float64 { return math.Sqrt(e.B) }

// EstimatePoissonGaussianBatch estimates (a, b) from every image and channel of b.
func EstimatePoissonGaussianBatch(b *batch.Batch, opts PGOptions) (PGEstimate, error) {
	return EstimatePoissonGaussian(Planes(b), opts)
}

// pgPoint is one block's local mean, noise variance and coefficient count.
type pgPoint struct{ m, v, n float64 }

// EstimatePoissonGaussian fits var(y | x) = a·x + b to the planes together (see the package
// doc), with a >= 0 and b >= 0, and block-bootstrap standard errors.
func EstimatePoissonGaussian(planes []Plane, opts PGOptions) (PGEstimate, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return PGEstimate{}, err
	}
	if err := checkPlanes(planes); err != nil {
		return PGEstimate{}, err
	}
	est := PGEstimate{Images: len(planes)}
	blocks := planeBlocks(planes, o.Block/2)
	all := make([]pgPoint, len(blocks))
	for i, b := range blocks {
		all[i] = pgPoint{m: b.mean/float64(b.n) - o.Offset, v: b.hh2 / float64(b.n), n: float64(b.n)}
	}
	pts, ok := screenPG(blocks, all, o)
	if ok {
		est.Screened = len(blocks) - len(pts)
	} else {
		pts = all
		est.Note = "fewer than 2 blocks passed the smoothness test (heavy texture, clipping, or no noise): every block was used, so a and b are likely too high"
	}
	est.Blocks = len(pts)
	lo, hi := meanRange(pts)
	est.MeanLow, est.MeanHigh = lo+o.Offset, hi+o.Offset
	ones := make([]int, len(pts))
	for i := range ones {
		ones[i] = 1
	}
	est.A, est.B = fitPG(pts, ones, o.FixA, o.FixB)
	if len(pts) >= 2 {
		var sa, sb spread
		resample(len(pts), o.Resamples, o.Seed, func(c []int) {
			a, b := refitPG(pts, c, o.FixA, o.FixB, est.A, est.B, 0)
			sa.add(a)
			sb.add(b)
		})
		est.StdErrA, est.StdErrB = sa.sd(), sb.sd()
	}
	if hi-lo < narrowRange*max(hi, 1e-12) && o.FixA == nil && o.FixB == nil {
		est.Note = fmt.Sprintf("the blocks' means span only %.4g..%.4g: a and b are hard to tell apart (see the standard errors)", est.MeanLow, est.MeanHigh)
	}
	return est, nil
}

// screenPG selects the blocks that pass the smoothness test for the variance the current fit
// predicts at their mean, refitting on the selection until it no longer changes. The first
// fit is to the blocks that pass selfSimilar (or, when fewer than 2 do, to every unclipped
// block). ok is false when fewer than 2 blocks pass.
func screenPG(blocks []coefBlock, all []pgPoint, o PGOptions) (pts []pgPoint, ok bool) {
	ones := make([]int, len(all))
	for i := range ones {
		ones[i] = 1
	}
	pick := func(keep func(i int) bool) (sel []int, pts []pgPoint) {
		for i := range blocks {
			if keep(i) {
				sel = append(sel, i)
				pts = append(pts, all[i])
			}
		}
		return sel, pts
	}
	_, pts = pick(func(i int) bool { return blocks[i].selfSimilar(DefaultKappa) })
	if len(pts) < 2 {
		_, pts = pick(func(i int) bool { return blocks[i].clipped == 0 })
	}
	if len(pts) < 2 {
		return nil, false
	}
	var prev []int
	for range maxScreenIterations {
		a, b := fitPG(pts, ones[:len(pts)], o.FixA, o.FixB)
		var sel []int
		sel, pts = pick(func(i int) bool { return blocks[i].smooth(max(a*all[i].m+b, all[i].v), DefaultKappa) })
		if len(sel) < 2 {
			return nil, false
		}
		if slices.Equal(sel, prev) {
			break
		}
		prev = sel
	}
	return pts, true
}

// fitPG returns the maximum-likelihood (a, b) for block variances v_i ~ f_i·χ²_{n_i}/n_i with
// f_i = a·m_i + b, each block counted counts[i] times, under a >= 0, b >= 0 and the fixed
// values. The score equations are those of a Gamma GLM with identity link, solved by
// iteratively reweighted least squares with weights n_i/f_i² (McCullagh & Nelder,
// Generalized Linear Models, 2nd ed., 1989, §2.5 and ch. 8), starting from unweighted
// least squares.
func fitPG(pts []pgPoint, counts []int, fixA, fixB *float64) (a, b float64) {
	w := make([]float64, len(pts))
	for i, p := range pts {
		w[i] = float64(counts[i]) * p.n
	}
	a, b = weightedLS(pts, w, fixA, fixB)
	return refitPG(pts, counts, fixA, fixB, a, b, 3)
}

// refitPG iterates the reweighted fit from (a, b), the biweight joining after plain
// iterations: 3 from the unweighted start, 0 from a converged fit (a bootstrap replicate
// starts from the full data's fit).
func refitPG(pts []pgPoint, counts []int, fixA, fixB *float64, a, b float64, plain int) (float64, float64) {
	w := make([]float64, len(pts))
	robust := make([]float64, len(pts))
	for i := range robust {
		robust[i] = 1
	}
	r := make([]float64, 0, len(pts))
	for it := range fitIterations {
		if it >= plain {
			// Tukey's biweight on the standardized residuals: blocks whose variance is far
			// above the fit (structure the smoothness test missed) lose their weight.
			r = r[:0]
			for i, p := range pts {
				if counts[i] > 0 {
					r = append(r, math.Abs(residual(p, a, b)))
				}
			}
			s := selectKth(r, len(r)/2) * madToSigma
			if !(s > 0) {
				break // an exact fit: no residual to weigh
			}
			for i, p := range pts {
				u := residual(p, a, b) / (biweightC * s)
				robust[i] = 0
				if math.Abs(u) < 1 {
					robust[i] = (1 - u*u) * (1 - u*u)
				}
			}
		}
		for i, p := range pts {
			f := max(a*p.m+b, 1e-300)
			w[i] = float64(counts[i]) * robust[i] * p.n / (f * f)
		}
		na, nb := weightedLS(pts, w, fixA, fixB)
		done := it > plain && near(na, a) && near(nb, b)
		a, b = na, nb
		if done {
			break
		}
	}
	return a, b
}

// near reports whether x and y agree to fitTolerance, relative to the larger.
func near(x, y float64) bool { return math.Abs(x-y) <= fitTolerance*max(math.Abs(x), math.Abs(y)) }

// biweightC is Tukey's biweight tuning constant (95% efficiency at the normal).
const biweightC = 4.685

// residual is the block's standardized residual (v - f)/(f·√(2/n)), f = a·m + b.
func residual(p pgPoint, a, b float64) float64 {
	f := max(a*p.m+b, 1e-300)
	return (p.v - f) / (f * math.Sqrt(2/p.n))
}

// weightedLS minimizes Σ w_i (v_i - a·m_i - b)² over a >= 0, b >= 0 (and fixed values):
// the unconstrained solution when it is feasible, else the better of the two boundary fits.
func weightedLS(pts []pgPoint, w []float64, fixA, fixB *float64) (a, b float64) {
	var sw, sm, sv, smm, smv float64
	for i, p := range pts {
		sw += w[i]
		sm += w[i] * p.m
		sv += w[i] * p.v
		smm += w[i] * p.m * p.m
		smv += w[i] * p.m * p.v
	}
	onlyB := func(a float64) (float64, float64) { return a, max((sv-a*sm)/sw, 0) }
	onlyA := func(b float64) (float64, float64) {
		if smm == 0 {
			return 0, b
		}
		return max((smv-b*sm)/smm, 0), b
	}
	switch {
	case fixA != nil:
		return onlyB(*fixA)
	case fixB != nil:
		return onlyA(*fixB)
	}
	det := sw*smm - sm*sm
	if det > 1e-12*sw*smm {
		a = (sw*smv - sm*sv) / det
		b = (sv - a*sm) / sw
		if a >= 0 && b >= 0 {
			return a, b
		}
	}
	sse := func(a, b float64) float64 {
		s := 0.0
		for i, p := range pts {
			r := p.v - a*p.m - b
			s += w[i] * r * r
		}
		return s
	}
	a1, b1 := onlyA(0)
	a2, b2 := onlyB(0)
	if sse(a1, b1) <= sse(a2, b2) {
		return a1, b1
	}
	return a2, b2
}

// meanRange returns the 5th and 95th percentiles of the points' means.
func meanRange(pts []pgPoint) (lo, hi float64) {
	m := make([]float64, len(pts))
	for i, p := range pts {
		m[i] = p.m
	}
	slices.Sort(m)
	q := func(f float64) float64 { return m[int(math.Round(f*float64(len(m)-1)))] }
	return q(0.05), q(0.95)
}

var debugPG = false
