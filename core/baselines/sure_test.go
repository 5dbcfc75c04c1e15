package baselines

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// linearDenoiser is D(u) = W u per image (u flattened to n pixels), W [n,n] row-major.
func linearDenoiser(w []float64, n int) func(u *graph.Node) *graph.Node {
	return func(u *graph.Node) *graph.Node {
		d := u.Shape().Dimensions
		wn := graph.Const(u.Graph(), tensors.FromFlatDataAndDimensions(w, n, n))
		flat := graph.Reshape(u, d[0], n)
		// (W u_k)_i = Σ_j W_ij u_kj: contract u's axis 1 with W's axis 1.
		out := graph.DotGeneral(flat, []int{1}, nil, wn, []int{1}, nil)
		return graph.Reshape(out, d...)
	}
}

// probeVariance is the variance of bᵀ W b for a probe b with independent entries: for a
// Rademacher probe Σ_{i<j} (W_ij + W_ji)² (b_i² = 1 leaves the diagonal exact), for a Gaussian
// one that plus 2 Σ_i W_ii² (Hutchinson 1990; Avron & Toledo 2011).
func probeVariance(w []float64, n int, gaussian bool) float64 {
	v := 0.0
	for i := range n {
		if gaussian {
			v += 2 * w[i*n+i] * w[i*n+i]
		}
		for j := i + 1; j < n; j++ {
			s := w[i*n+j] + w[j*n+i]
			v += s * s
		}
	}
	return v
}

// TestMCDivergenceLinear checks the Monte-Carlo divergence of SURE against the exact
// divergence of a linear denoiser D(u) = W u, which is trace(W) at every u (closed form). For
// a linear D the finite difference is exact, so the estimate is bᵀ W b, whose mean over probes
// is trace(W) with the variance of probeVariance: the mean over K = 3000 probes must lie
// within 4 standard errors of the trace (a false failure has probability 6e-5). A diagonal W
// with a Rademacher probe has no variance: there every single estimate must equal the trace
// to float64 rounding (1e-9 relative). The graph runs in float64.
func TestMCDivergenceLinear(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	const h, wd = 4, 4
	n := h * wd
	rng := rand.New(rand.NewPCG(11, 12))
	// A denoiser-like W: a shrinkage on the diagonal, weak coupling between pixels.
	diag := make([]float64, n*n)
	for i := range n {
		diag[i*n+i] = rng.Float64()*2 - 0.5
	}
	dense := make([]float64, n*n)
	for i := range dense {
		dense[i] = diag[i] + 0.3*rng.NormFloat64()/math.Sqrt(float64(n))
	}
	for _, tc := range []struct {
		name     string
		w        []float64
		gaussian bool
		k        int
		eps      float64
	}{
		{"diagonal/rademacher", diag, false, 50, 1e-3},
		{"dense/rademacher", dense, false, 3000, 1e-3},
		{"dense/gaussian", dense, true, 3000, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trace := 0.0
			for i := range n {
				trace += tc.w[i*n+i]
			}
			u := make([]float64, tc.k*n)
			probe := make([]float64, tc.k*n)
			for i := range u {
				u[i] = rng.NormFloat64()
				if tc.gaussian {
					probe[i] = rng.NormFloat64()
				} else {
					probe[i] = float64(2*rng.IntN(2) - 1)
				}
			}
			d := linearDenoiser(tc.w, n)
			out, err := graph.ExecOnce(b, func(u, p *graph.Node) *graph.Node {
				return MCDivergence(d, u, d(u), p, tc.eps)
			}, tensors.FromFlatDataAndDimensions(u, tc.k, h, wd, 1), tensors.FromFlatDataAndDimensions(probe, tc.k, h, wd, 1))
			if err != nil {
				t.Fatal(err)
			}
			est := tensors.MustCopyFlatData[float64](out)
			mean := 0.0
			for _, v := range est {
				mean += v / float64(tc.k)
			}
			se := math.Sqrt(probeVariance(tc.w, n, tc.gaussian) / float64(tc.k))
			t.Logf("trace %.5f, mean estimate %.5f over %d probes, standard error %.5f", trace, mean, tc.k, se)
			if se == 0 {
				for i, v := range est {
					if math.Abs(v-trace) > 1e-9*math.Max(1, math.Abs(trace)) {
						t.Fatalf("probe %d: estimate %.12g, exact divergence %.12g", i, v, trace)
					}
				}
				return
			}
			if math.Abs(mean-trace) > 4*se {
				t.Errorf("mean estimate %.5f differs from the exact divergence %.5f by more than 4 standard errors (%.5f)", mean, trace, se)
			}
		})
	}
}

// TestSUREIsUnbiased checks SURE against the true risk of the shrinkage denoiser D(u) = a u of
// observations u = x + sigma n: E||a u - x||²/n = (a-1)² ||x||²/n + a² sigma² (closed form).
// The mean of SURE over K = 4000 noise draws (divergence by MCDivergence with a Rademacher
// probe, exact for this diagonal D) must lie within 4 standard errors of that, the standard
// error estimated from the draws. float64 graph.
func TestSUREIsUnbiased(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	const h, wd, k = 6, 6, 4000
	n := h * wd
	rng := rand.New(rand.NewPCG(21, 22))
	x := make([]float64, n)
	xx := 0.0
	for i := range x {
		x[i] = math.Sin(float64(i)) * 0.8
		xx += x[i] * x[i]
	}
	for _, tc := range []struct{ a, sigma float64 }{{0.6, 0.4}, {1, 0.4}, {0.3, 0.1}} {
		u := make([]float64, k*n)
		probe := make([]float64, k*n)
		for i := range u {
			u[i] = x[i%n] + tc.sigma*rng.NormFloat64()
			probe[i] = float64(2*rng.IntN(2) - 1)
		}
		d := func(u *graph.Node) *graph.Node { return graph.MulScalar(u, tc.a) }
		out, err := graph.ExecOnce(b, func(u, p *graph.Node) *graph.Node {
			du := d(u)
			return SURE(u, du, MCDivergence(d, u, du, p, 1e-3), tc.sigma)
		}, tensors.FromFlatDataAndDimensions(u, k, h, wd, 1), tensors.FromFlatDataAndDimensions(probe, k, h, wd, 1))
		if err != nil {
			t.Fatal(err)
		}
		vals := tensors.MustCopyFlatData[float64](out)
		mean, sq := 0.0, 0.0
		for _, v := range vals {
			mean += v / k
			sq += v * v / k
		}
		se := math.Sqrt(max(0, sq-mean*mean) / k) // 0 for a = 1: SURE of the identity is sigma² exactly
		want := (tc.a-1)*(tc.a-1)*xx/float64(n) + tc.a*tc.a*tc.sigma*tc.sigma
		t.Logf("a %.2f sigma %.2f: mean SURE %.6f, true MSE %.6f, standard error %.6f", tc.a, tc.sigma, mean, want, se)
		if math.Abs(mean-want) > 4*se+1e-9 {
			t.Errorf("a %.2f sigma %.2f: mean SURE %.6f, true MSE %.6f (4 standard errors: %.6f)", tc.a, tc.sigma, mean, want, 4*se)
		}
	}
}

// TestNoiseLevelStep checks the step of a noise level on DDPM's schedule (T = 1000, beta
// 1e-4..0.02): sigma = 0.4 in model units (MNIST's sigma 0.2) has abar* = 1/1.16, between the
// abar of the steps around t*; the interpolation is exact at the steps themselves; levels
// outside the schedule are refused.
func TestNoiseLevelStep(t *testing.T) {
	s, _ := diffusion.NewLinear(diffusion.DefaultSteps, diffusion.DefaultBetaStart, diffusion.DefaultBetaEnd)
	ts, abar, err := NoiseLevelStep(s, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(abar-1/1.16) > 1e-15 {
		t.Errorf("abar* = %v, want 1/1.16", abar)
	}
	i := int(ts)
	if !(s.AlphaBar[i] >= abar && abar >= s.AlphaBar[i+1]) {
		t.Errorf("t* = %v: abar %v not within steps %d..%d (%v, %v)", ts, abar, i, i+1, s.AlphaBar[i], s.AlphaBar[i+1])
	}
	t.Logf("sigma 0.4 (model units): t* = %.3f", ts)
	for _, j := range []int{0, 10, 500, 998} {
		sig := math.Sqrt((1 - s.AlphaBar[j]) / s.AlphaBar[j])
		got, _, err := NoiseLevelStep(s, sig)
		if err != nil || math.Abs(got-float64(j)) > 1e-6 {
			t.Errorf("sigma of step %d: t* = %v, err %v", j, got, err)
		}
	}
	for _, sig := range []float64{1e-4, 1e4} {
		if _, _, err := NoiseLevelStep(s, sig); err == nil {
			t.Errorf("sigma %v outside the schedule accepted", sig)
		}
	}
	if ts, _, err := NoiseLevelStep(s, 0); err != nil || ts != 0 {
		t.Errorf("sigma 0: t* = %v, err %v", ts, err)
	}
}
