package train

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
)

// quadPrior is a prior as a plugin would serve it (only part.Prior):
// E(x_n) = Σ (x_n - c)² / (2σ²) for a constant image c.
type quadPrior struct{ c, sigma float64 }

func (q quadPrior) Energy(_ context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	e := make([]float64, x.N)
	g := batch.New(x.N, x.H, x.W, x.C)
	sz := x.ImageSize()
	for i, v := range x.Data {
		r := float64(v) - q.c
		e[i/sz] += r * r / (2 * q.sigma * q.sigma)
		g.Data[i] = float32(r / (q.sigma * q.sigma))
	}
	return e, g, nil
}

// constProblem observes the constant image c through the identity with Gaussian noise sigma
// (the observations are c exactly: what matters here is the likelihood's form).
func constProblem(t *testing.T, c, sigma float64) Problem {
	y := batch.New(16, 8, 8, 1)
	for i := range y.Data {
		y.Data[i] = float32(c)
	}
	noise, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	return Problem{Obs: y, Op: operators.NewCompose(), Noise: noise, Clean: y.Shape}
}

// TestInjectedPriorEqualsLikelihood checks the prior injection's value and scale against an
// in-graph term of the same form: observing c with noise sigma/√2 gives the data term
// Σ(x-c)²/σ², which equals the data term with noise sigma, Σ(x-c)²/(2σ²), plus a plugin-like
// prior E = Σ(x-c)²/(2σ²) of weight 1. The flow losses and their gradients agree to
// tolInjectLoss and tolInjectGrad (the in-graph path on one side, injection on the other).
func TestInjectedPriorEqualsLikelihood(t *testing.T) {
	be := goBackend(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	const c, sigma = 0.3, 0.2
	ref, err := New(ctx, be, tinyConfig(t, 3), constProblem(t, c, sigma/math.Sqrt2), 4, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Run(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	withPrior := constProblem(t, c, sigma)
	withPrior.Priors = []WeightedPrior{{Name: "quadratic", Prior: quadPrior{c, sigma}, Weight: 1}}
	inj, err := New(ctx, be, tinyConfig(t, 3), withPrior, 4, log)
	if err != nil {
		t.Fatal(err)
	}
	if inj.inject || !inj.needsHost() {
		t.Fatal("want the in-graph data term plus an injected prior")
	}
	inj.ctx = ref.ctx
	in := ref.draw(PhaseJoint, 42)
	lossG, gG := flowGradient(t, ref, in)
	lossI, gI := flowGradient(t, inj, in)
	dl, dg := math.Abs(lossI-lossG)/math.Abs(lossG), relDiff(gI, gG)
	t.Logf("loss %.7g vs %.7g (rel %.2g), gradient rel %.2g", lossG, lossI, dl, dg)
	if dl > tolInjectLoss || !(dg <= tolInjectGrad) {
		t.Errorf("prior injection differs from the equivalent likelihood: loss rel %.3g, gradient rel %.3g", dl, dg)
	}
}

// TestConfigPriorsTrain trains 2 steps with train.priors naming the built-in priors and the
// diffusion prior off (lambda 0): the curve's extra_prior is positive and the flow loss is the
// sum of its terms (to 1e-5 relative: float32 sums of 4 terms printed with 6 digits).
func TestConfigPriorsTrain(t *testing.T) {
	be := goBackend(t)
	cfg := decodeTrain(t, `steps: 2
batch: 4
lambda: 0
flow: {levels: 1, steps: 1, hidden: 4, cond_hidden: 2}
unet: {channels: 4, multipliers: [1], time_embed: 8, patch: 1}
diffusion: {steps: 50}
priors:
  - {op: prior.tv, weight: 0.05}
  - {op: prior.l1, epsilon: 0.05}
`)
	if len(cfg.Priors) != 2 || cfg.Priors[0].Weight != 0.05 || cfg.Priors[1].Weight != DefaultPriorWeight {
		t.Fatalf("decoded priors %+v", cfg.Priors)
	}
	tr, err := New(context.Background(), be, cfg, opProblem(t, randomMask(t)), 3, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := tr.Run(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	cv := readCurve(t, dir)
	for k, extra := range cv["extra_prior"] {
		sum := cv["entropy"][k] + cv["nll"][k] + cv["lambda"][k]*cv["prior"][k] + extra
		if !(extra > 0) || math.Abs(sum-cv["flow_loss"][k]) > 1e-5*math.Abs(sum) {
			t.Errorf("step %d: extra_prior %g, flow_loss %g, sum of terms %g", k+1, extra, cv["flow_loss"][k], sum)
		}
	}
}

func decodeTrain(t *testing.T, src string) Config {
	t.Helper()
	var cfg Config
	if errs := decodeTrainErr(src, &cfg); len(errs) > 0 {
		t.Fatal(errs)
	}
	return cfg
}

func decodeTrainErr(src string, cfg *Config) schema.Errors {
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(src), &node); err != nil {
		return schema.Errors{{Msg: err.Error()}}
	}
	return schema.Decode(node.Content[0], cfg, "train")
}

// TestPriorSpecDecode checks the train.priors item: its errors name the field, and the
// resolved form carries the weight and the prior's defaults.
func TestPriorSpecDecode(t *testing.T) {
	bad := []struct{ src, want string }{
		{"priors: [{op: prior.tv, weight: -1}]", "train.priors[0].weight"},
		{"priors: [{op: prior.tv, weight: many}]", "train.priors[0].weight: must be a number, got \"many\""},
		{"priors: [{op: noise.gaussian}]", `"noise.gaussian" is a noise`},
		{"priors: [{op: prior.tw}]", `did you mean "prior.tv"`},
		{"priors: [{op: prior.tv, epsilon: 0}]", "train.priors[0].epsilon"},
	}
	for _, b := range bad {
		var cfg Config
		errs := decodeTrainErr(b.src, &cfg)
		if len(errs) == 0 || !strings.Contains(errs.Error(), b.want) {
			t.Errorf("%s: errors %v, want one mentioning %q", b.src, errs, b.want)
		}
	}
	cfg := decodeTrain(t, "priors: [prior.l1]")
	out, err := yaml.Marshal(cfg.Priors)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); !strings.Contains(s, "op: prior.l1") || !strings.Contains(s, "epsilon: 0.01") || !strings.Contains(s, "weight: 1") {
		t.Errorf("resolved priors:\n%s", s)
	}
	back := decodeTrain(t, "priors:\n"+string(out))
	if len(back.Priors) != 1 || back.Priors[0].ID != "prior.l1" || back.Priors[0].Weight != 1 {
		t.Errorf("resolved priors do not decode back: %+v", back.Priors)
	}
}
