package diffusion

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// TestAncestralCoefficients checks DDPM's step against the posterior mean it implements
// (Ho et al. 2020, eq. 7): with the true noise eps, a·x_t + b·eps equals
// mu_tilde = sqrt(abar_{t-1}) beta_t/(1-abar_t) x0 + sqrt(alpha_t)(1-abar_{t-1})/(1-abar_t) x_t,
// and sigma_t² = beta_t (0 at t = 1). Tolerance 1e-12 relative (float64 algebra;
// x0_hat divides by sqrt(abar_t) >= 0.006).
func TestAncestralCoefficients(t *testing.T) {
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	s := &Sampler{sched: sched}
	const x0, eps = 0.7, -1.3
	for _, c := range s.ancestralCoefs() {
		i := c.I
		abar, beta, alpha := sched.AlphaBar[i], sched.Beta[i], sched.Alpha[i]
		prev := 1.0
		if i > 0 {
			prev = sched.AlphaBar[i-1]
		}
		xt := math.Sqrt(abar)*x0 + math.Sqrt(1-abar)*eps
		want := math.Sqrt(prev)*beta/(1-abar)*x0 + math.Sqrt(alpha)*(1-prev)/(1-abar)*xt
		x0Hat := (xt - c.SqrtOneMinusA*eps) / c.SqrtAbar // what reverseStep computes
		got := c.X0*x0Hat + c.Eps*eps
		if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Fatalf("t=%d: step mean %.15g, posterior mean %.15g", i+1, got, want)
		}
		if alg2 := (xt - beta/math.Sqrt(1-abar)*eps) / math.Sqrt(alpha); math.Abs(got-alg2) > 1e-12*math.Max(1, math.Abs(alg2)) {
			t.Fatalf("t=%d: step mean %.15g, Algorithm 2's %.15g", i+1, got, alg2)
		}
		wantSigma := math.Sqrt(beta)
		if i == 0 {
			wantSigma = 0
		}
		if c.Sigma != wantSigma {
			t.Fatalf("t=%d: sigma %v, want %v", i+1, c.Sigma, wantSigma)
		}
	}
}

// TestDDIMCoefficients checks that a deterministic DDIM step (eta = 0) with the true noise maps
// x_t = sqrt(abar_t) x0 + sqrt(1-abar_t) eps (through x0_hat, as reverseStep does) to x_prev = sqrt(abar_prev) x0 +
// sqrt(1-abar_prev) eps (Song et al. 2021, eq. 12), ending at x0; that eta = 1 over all T steps
// gives DDPM's posterior variance beta_tilde; and the step indices. Tolerance 1e-12.
func TestDDIMCoefficients(t *testing.T) {
	sched, _ := NewLinear(DefaultSteps, DefaultBetaStart, DefaultBetaEnd)
	s := &Sampler{sched: sched}
	idx := sched.DDIMSteps(50)
	if len(idx) != 50 || idx[0] != 999 || idx[49] != 0 || !slices.IsSortedFunc(idx, func(a, b int) int { return b - a }) {
		t.Fatalf("DDIMSteps(50) = %v", idx)
	}
	if got := sched.DDIMSteps(5000); len(got) != DefaultSteps {
		t.Errorf("DDIMSteps(5000) has %d steps, want %d", len(got), DefaultSteps)
	}
	const x0, eps = 0.4, 0.9
	coefs := s.ddimCoefs(50, 0)
	for k, c := range coefs {
		abar := sched.AlphaBar[c.I]
		prev := 1.0
		if k+1 < len(coefs) {
			prev = sched.AlphaBar[coefs[k+1].I]
		}
		xt := math.Sqrt(abar)*x0 + math.Sqrt(1-abar)*eps
		x0Hat := (xt - c.SqrtOneMinusA*eps) / c.SqrtAbar // what reverseStep computes
		want := math.Sqrt(prev)*x0 + math.Sqrt(1-prev)*eps
		if got := c.X0*x0Hat + c.Eps*eps; math.Abs(got-want) > 1e-12 || c.Sigma != 0 {
			t.Fatalf("step %d (t=%d): x_prev %.15g, want %.15g; sigma %v", k, c.I+1, got, want, c.Sigma)
		}
	}
	for _, c := range s.ddimCoefs(DefaultSteps, 1)[:DefaultSteps-1] {
		i := c.I
		betaTilde := (1 - sched.AlphaBar[i-1]) / (1 - sched.AlphaBar[i]) * sched.Beta[i]
		if math.Abs(c.Sigma*c.Sigma-betaTilde) > 1e-12*betaTilde {
			t.Fatalf("t=%d: sigma² %v, beta_tilde %v", i+1, c.Sigma*c.Sigma, betaTilde)
		}
	}
}

// TestNoiseStreams checks that a sample's stream depends on its index only, not on the batch.
func TestNoiseStreams(t *testing.T) {
	all := batch.New(4, 3, 3, 1)
	fillNormal(noiseStreams(7, 0, 4), all)
	one := batch.New(1, 3, 3, 1)
	fillNormal(noiseStreams(7, 2, 1), one)
	if !slices.Equal(all.Image(2).Data, one.Data) {
		t.Error("sample 2 drawn alone differs from sample 2 of the batch")
	}
	if slices.Equal(all.Image(0).Data, all.Image(1).Data) {
		t.Error("samples 0 and 1 share noise")
	}
	other := batch.New(1, 3, 3, 1)
	fillNormal(noiseStreams(8, 2, 1), other)
	if slices.Equal(other.Data, one.Data) {
		t.Error("seeds 7 and 8 give the same noise")
	}
}

// TestSamplerErrors checks the refusals that need no trained model.
func TestSamplerErrors(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	sched, _ := NewLinear(10, 1e-3, 0.2)
	if _, err := NewSampler(b, mlctx.New(), UNetConfig{}, sched); err == nil || !strings.Contains(err.Error(), "no variables") {
		t.Errorf("empty model: error %v", err)
	}
	ctx := seededContext(t, 1)
	if err := InitUNet(b, ctx, UNetConfig{}, batch.Shape{N: 1, H: 8, W: 8, C: 1}); err != nil {
		t.Fatal(err)
	}
	s, err := NewSampler(b, ctx, UNetConfig{}, sched)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DDIM(context.Background(), batch.Shape{N: 1, H: 6, W: 6, C: 1}, 5, 0, SampleOptions{}); err == nil {
		t.Error("6x6 images accepted by a patch-2 two-level U-Net")
	}
	if _, err := s.DDIM(context.Background(), batch.Shape{N: 1, H: 8, W: 8, C: 1}, 0, 0, SampleOptions{}); err == nil {
		t.Error("0 DDIM steps accepted")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Ancestral(cancelled, batch.Shape{N: 1, H: 8, W: 8, C: 1}, SampleOptions{}); err == nil {
		t.Error("cancelled context not honoured")
	}
	var steps []int
	x, err := s.Ancestral(context.Background(), batch.Shape{N: 2, H: 8, W: 8, C: 1},
		SampleOptions{Seed: 1, Progress: func(done, total int) { steps = append(steps, done*100+total) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 10 || steps[9] != 1010 {
		t.Errorf("progress calls %v", steps)
	}
	if err := x.CheckFinite(); err != nil {
		t.Error(err)
	}
	if _, err := s.DPS(context.Background(), batch.Shape{N: 2, H: 8, W: 8, C: 1}, DPSProblem{}, SampleOptions{}); err == nil {
		t.Error("DPS without operator accepted")
	}
}
