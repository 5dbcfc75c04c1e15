package noiseest

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestDB2Filters checks the Daubechies-2 filters against their defining identities
// (Daubechies 1992, §6.1): Σh = √2, Σh² = 1, Σ h_k h_{k+2} = 0, Σg = Σ k·g_k = 0.
func TestDB2Filters(t *testing.T) {
	h, g := db2Low, db2High
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"Σh", h[0] + h[1] + h[2] + h[3], math.Sqrt2},
		{"Σh²", h[0]*h[0] + h[1]*h[1] + h[2]*h[2] + h[3]*h[3], 1},
		{"Σh_k h_k+2", h[0]*h[2] + h[1]*h[3], 0},
		{"Σg", g[0] + g[1] + g[2] + g[3], 0},
		{"Σk g_k", g[1] + 2*g[2] + 3*g[3], 0},
		{"Σg h", g[0]*h[0] + g[1]*h[1] + g[2]*h[2] + g[3]*h[3], 0},
		{"Σg²", db2HighSq[0] + db2HighSq[1] + db2HighSq[2] + db2HighSq[3], 1},
	} {
		if math.Abs(c.got-c.want) > 1e-15 {
			t.Errorf("%s = %.17g, want %v", c.name, c.got, c.want)
		}
	}
}

// TestAnalyzeRampAndConstant: the details vanish on a plane a + b·x + c·y (two vanishing
// moments) and the weighted mean reproduces a constant, both to rounding (1e-12).
func TestAnalyzeRampAndConstant(t *testing.T) {
	p := Plane{H: 20, W: 24, Data: make([]float32, 20*24)}
	for y := range p.H {
		for x := range p.W {
			p.Data[y*p.W+x] = float32(0.25 + 0.01*float64(x) - 0.005*float64(y))
		}
	}
	l := analyze(p)
	if l.h != 9 || l.w != 11 || l.coarseH != 3 || l.coarseW != 4 {
		t.Fatalf("sizes %dx%d and %dx%d, want 9x11 and 3x4", l.h, l.w, l.coarseH, l.coarseW)
	}
	for k := range l.hh {
		if math.Abs(l.hh[k]) > 1e-6 || math.Abs(l.lh[k]) > 1e-6 || math.Abs(l.hl[k]) > 1e-6 {
			t.Fatalf("coefficient %d: hh %g lh %g hl %g on a ramp, want 0", k, l.hh[k], l.lh[k], l.hl[k])
		}
	}
	for k, v := range l.coarse {
		if v > 1e-12 {
			t.Fatalf("second-level energy %g at %d on a ramp, want 0", v, k)
		}
	}
	flat := Plane{H: 8, W: 8, Data: make([]float32, 64)}
	for i := range flat.Data {
		flat.Data[i] = 0.5
	}
	for k, m := range analyze(flat).mean {
		if math.Abs(m-0.5) > 1e-12 {
			t.Fatalf("mean %d = %v on a constant 0.5", k, m)
		}
	}
}

// TestImmerkaerOnePixel checks the Immerkaer formula by hand on a 3x3 plane (one interior
// pixel): I*M = 4·1 - 2·(0+0+0+0) + ... = 4 at a single bright centre, so σ = √(π/2)·4/6.
// The image is 8x8 (the smallest accepted), bright at (4, 4): the 9 interior pixels around
// it see M's entries, Σ|M| = 16, over 36 interior pixels.
func TestImmerkaerOnePixel(t *testing.T) {
	p := Plane{H: 8, W: 8, Data: make([]float32, 64)}
	p.Data[4*8+4] = 1
	e, err := EstimateGaussian([]Plane{p}, GaussianOptions{Method: MethodImmerkaer})
	if err != nil {
		t.Fatal(err)
	}
	want := math.Sqrt(math.Pi/2) / 6 * 16 / 36
	if math.Abs(e.Sigma-want) > 1e-12 || e.Samples != 36 {
		t.Errorf("sigma %.15g from %d pixels, want %.15g from 36", e.Sigma, e.Samples, want)
	}
}

// TestWeightedMedian: blocks {1,2,3} and {10}; counts (1, 0) give 2, (0, 1) give 10,
// (1, 3) give the lower median of {1,2,3,10,10,10}, 3.
func TestWeightedMedian(t *testing.T) {
	bv := newBlockedValues([]float64{3, 10, 1, 2}, []int32{0, 1, 0, 0}, 2)
	for _, c := range []struct {
		counts []int
		want   float64
	}{{[]int{1, 0}, 2}, {[]int{0, 1}, 10}, {[]int{1, 3}, 3}, {[]int{1, 1}, 2}} {
		if got := bv.weightedMedian(c.counts); got != c.want {
			t.Errorf("counts %v: median %v, want %v", c.counts, got, c.want)
		}
	}
	if got := bv.median(); got != 2.5 {
		t.Errorf("median %v, want 2.5", got)
	}
}

// TestFitPG: noiseless points on a line are fitted exactly; points that imply b < 0 are
// fitted with b = 0; a fixed parameter is kept.
func TestFitPG(t *testing.T) {
	line := func(a, b float64) []pgPoint {
		var p []pgPoint
		for _, m := range []float64{0.1, 0.3, 0.5, 0.9} {
			p = append(p, pgPoint{m: m, v: a*m + b, n: 64})
		}
		return p
	}
	ones := []int{1, 1, 1, 1}
	if a, b := fitPG(line(0.01, 2e-4), ones, nil, nil); math.Abs(a-0.01) > 1e-12 || math.Abs(b-2e-4) > 1e-14 {
		t.Errorf("exact line: a %v b %v, want 0.01 and 2e-4", a, b)
	}
	if a, b := fitPG(line(0.01, -5e-4), ones, nil, nil); b != 0 || !(a > 0.008 && a < 0.01) {
		t.Errorf("line with b < 0: a %v b %v, want b = 0 and a a little below 0.01", a, b)
	}
	fa := 0.02
	if a, b := fitPG(line(0.01, 2e-4), ones, &fa, nil); a != 0.02 || b != 0 {
		t.Errorf("a fixed at 0.02 above the data: a %v b %v, want 0.02 and 0 (clamped)", a, b)
	}
	fb := 2e-4
	if a, b := fitPG(line(0.01, 2e-4), ones, nil, &fb); math.Abs(a-0.01) > 1e-12 || b != 2e-4 {
		t.Errorf("b fixed: a %v b %v, want 0.01 and 2e-4", a, b)
	}
}

// TestPlanes splits a [2, H, W, 3] batch channel by channel.
func TestPlanes(t *testing.T) {
	b := batch.New(2, 8, 9, 3)
	for i := range b.Data {
		b.Data[i] = float32(i)
	}
	ps := Planes(b)
	if len(ps) != 6 {
		t.Fatalf("%d planes, want 6", len(ps))
	}
	for k, p := range ps {
		n, c := k/3, k%3
		for y := range 8 {
			for x := range 9 {
				if p.Data[y*9+x] != b.At(n, y, x, c) {
					t.Fatalf("plane %d (%d, %d) = %v, want %v", k, y, x, p.Data[y*9+x], b.At(n, y, x, c))
				}
			}
		}
	}
}

// TestClippedBlocksLeftOut: half of each image is dark (x = 0.02) with its noise clipped at
// 0, as 8-bit storage would; the screened estimator leaves those blocks out and stays within
// 5% of σ, while the plain median reads the clipped half too and falls short.
func TestClippedBlocksLeftOut(t *testing.T) {
	const sigma = 0.05
	rng := rand.New(rand.NewPCG(3, 4))
	var ps []Plane
	for range 2 {
		p := Plane{H: 128, W: 128, Data: make([]float32, 128*128)}
		for y := range 128 {
			for x := range 128 {
				v := 0.6 + sigma*rng.NormFloat64()
				if x < 64 {
					v = max(0.02+sigma*rng.NormFloat64(), 0)
				}
				p.Data[y*128+x] = float32(v)
			}
		}
		ps = append(ps, p)
	}
	e, err := EstimateGaussian(ps, GaussianOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(e.Sigma/sigma-1) > 0.05 || e.Screened == 0 {
		t.Errorf("screened: sigma %.4f (%d blocks left out; note %q), want %.2f within 5%%", e.Sigma, e.Screened, e.Note, sigma)
	}
	plain, _ := EstimateGaussian(ps, GaussianOptions{Method: MethodWaveletMAD})
	if !(plain.Sigma < 0.9*sigma) {
		t.Errorf("plain median %.4f: expected the clipped half to pull it below %.4f", plain.Sigma, 0.9*sigma)
	}
}

// TestNoteOnNoNoise: images without noise leave nothing to select; the estimate says so.
func TestNoteOnNoNoise(t *testing.T) {
	e, err := EstimateGaussian(discs(1, 64, 1), GaussianOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Note == "" {
		t.Errorf("noise-free discs: sigma %v without a note", e.Sigma)
	}
}

// TestStdErrCalibrated compares the bootstrap standard error with the spread of the
// estimates over 20 independent noise draws (gradient images): the ratio must lie in
// [0.6, 1.6], the range that 20 draws leave for a correct standard error (the sample
// standard deviation of 20 values is within ±35% of the truth with about 95% probability).
func TestStdErrCalibrated(t *testing.T) {
	if testing.Short() {
		t.Skip("40 estimates with bootstrap")
	}
	clean := gradients(2, 128, 5)
	var sg, sa spread
	var seG, seA float64
	const reps = 20
	for r := range reps {
		g, err := EstimateGaussian(addGaussian(clean, 0.05, uint64(100+r)), GaussianOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sg.add(g.Sigma)
		seG += g.StdErr / reps
		p, err := EstimatePoissonGaussian(addPG(clean, 0.01, 1e-4, uint64(200+r)), PGOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sa.add(p.A)
		seA += p.StdErrA / reps
	}
	for _, c := range []struct {
		name       string
		spread, se float64
	}{{"sigma", sg.sd(), seG}, {"a", sa.sd(), seA}} {
		if r := c.se / c.spread; r < 0.6 || r > 1.6 {
			t.Errorf("%s: mean bootstrap se %.3g vs spread over draws %.3g (ratio %.2f), want ratio in [0.6, 1.6]", c.name, c.se, c.spread, r)
		}
	}
}

func TestErrors(t *testing.T) {
	good := gradients(1, 16, 1)
	for _, c := range []struct {
		name   string
		planes []Plane
		g      GaussianOptions
		pg     PGOptions
		want   string
	}{
		{"no images", nil, GaussianOptions{}, PGOptions{}, "no images"},
		{"too small", []Plane{{H: 4, W: 16, Data: make([]float32, 64)}}, GaussianOptions{}, PGOptions{}, "at least 8"},
		{"short data", []Plane{{H: 8, W: 8, Data: make([]float32, 10)}}, GaussianOptions{}, PGOptions{}, "needs 64 values"},
		{"NaN", []Plane{{H: 8, W: 8, Data: append(make([]float32, 63), float32(math.NaN()))}}, GaussianOptions{}, PGOptions{}, "not finite"},
		{"method", good, GaussianOptions{Method: "bogus"}, PGOptions{Block: 7}, "method"},
		{"block", good, GaussianOptions{Block: 4}, PGOptions{Block: 7}, "block"},
	} {
		_, err := EstimateGaussian(c.planes, c.g)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: gaussian error %v, want it to mention %q", c.name, err, c.want)
		}
		_, err = EstimatePoissonGaussian(c.planes, c.pg)
		if err == nil {
			t.Errorf("%s: poisson-gaussian accepted it", c.name)
		}
	}
	one, two := 1.0, 2.0
	if _, err := EstimatePoissonGaussian(good, PGOptions{FixA: &one, FixB: &two}); err == nil {
		t.Error("both parameters fixed: accepted")
	}
}

// TestSelectKth compares the selection with sorting on seeded random data with ties.
func TestSelectKth(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 1; n < 60; n++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(rng.IntN(10))
		}
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		for k := range n {
			if got := selectKth(slices.Clone(v), k); got != sorted[k] {
				t.Fatalf("n %d k %d: %v, want %v", n, k, got, sorted[k])
			}
		}
	}
}
