package conformance

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
)

var ctx = context.Background()

// scaleOp is y = s·x with a VJP of t·v: correct when t = s. Options let a test break one rule.
type scaleOp struct {
	s, t       float32
	shapeLie   bool // OutShape announces a different shape than Apply returns
	randParams bool // draws its parameters from an unseeded source
}

func (o *scaleOp) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) {
	if o.shapeLie {
		in.W++
	}
	return in, nil
}

func (o *scaleOp) SampleParams(ctx context.Context, rng *rand.Rand, in batch.Shape) (part.Params, error) {
	if !o.randParams {
		return nil, nil
	}
	b := batch.New(in.N, 1, 1, 1)
	for i := range b.Data {
		b.Data[i] = rand.Float32() // ignores rng: not deterministic
	}
	return part.Params{"noise": b}, nil
}

func (o *scaleOp) Apply(_ context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	y := x.Clone()
	for i := range y.Data {
		y.Data[i] *= o.s
	}
	return y, nil
}

func (o *scaleOp) VJP(_ context.Context, _, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	g := v.Clone()
	for i := range g.Data {
		g.Data[i] *= o.t
	}
	return g, nil
}

func (o *scaleOp) IsLinear() bool { return true }

// tanhOp is y = tanh(x) elementwise; its VJP is (1 - y²)·v, or v when wrongVJP is set.
type tanhOp struct{ wrongVJP bool }

func (tanhOp) OutShape(ctx context.Context, in batch.Shape) (batch.Shape, error) { return in, nil }
func (tanhOp) SampleParams(context.Context, *rand.Rand, batch.Shape) (part.Params, error) {
	return nil, nil
}
func (tanhOp) Apply(_ context.Context, x *batch.Batch, _ part.Params) (*batch.Batch, error) {
	y := x.Clone()
	for i, v := range y.Data {
		y.Data[i] = float32(math.Tanh(float64(v)))
	}
	return y, nil
}
func (o tanhOp) VJP(_ context.Context, x, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	g := v.Clone()
	if o.wrongVJP {
		return g, nil
	}
	for i := range g.Data {
		t := math.Tanh(float64(x.Data[i]))
		g.Data[i] *= float32(1 - t*t)
	}
	return g, nil
}

// offLinearOp claims linearity but adds a constant.
type offLinearOp struct{ scaleOp }

func (o *offLinearOp) Apply(ctx context.Context, x *batch.Batch, p part.Params) (*batch.Batch, error) {
	y, _ := o.scaleOp.Apply(ctx, x, p)
	for i := range y.Data {
		y.Data[i] += 0.5
	}
	return y, nil
}

func TestOperatorChecks(t *testing.T) {
	cases := []struct {
		name   string
		op     part.Operator
		failed string // the check expected to fail; "" for a correct operator
	}{
		{"correct linear", &scaleOp{s: 2, t: 2}, ""},
		{"correct nonlinear", tanhOp{}, ""},
		{"wrong adjoint", &scaleOp{s: 2, t: 3}, "adjoint"},
		{"wrong VJP", tanhOp{wrongVJP: true}, "taylor"},
		{"not linear", &offLinearOp{scaleOp{s: 1, t: 1}}, "linearity"},
		{"shape lie", &scaleOp{s: 1, t: 1, shapeLie: true}, "shape"},
		{"unseeded params", &scaleOp{s: 1, t: 1, randParams: true}, "determinism"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := CheckOperator(ctx, c.op, Options{NoGraph: true})
			if c.failed == "" {
				Require(t, r)
				return
			}
			if ck, ok := r.Find(c.failed); !ok || !ck.Failed() {
				t.Errorf("want the %q check to fail, got:\n%s", c.failed, r)
			}
		})
	}
}

func TestTaylorOrderValues(t *testing.T) {
	r := CheckOperator(ctx, tanhOp{}, Options{NoGraph: true})
	c, _ := r.Find("taylor")
	if math.Abs(c.Value-2) > 0.2 {
		t.Errorf("correct VJP: order %.3f, want about 2", c.Value)
	}
	r = CheckOperator(ctx, tanhOp{wrongVJP: true}, Options{NoGraph: true})
	c, _ = r.Find("taylor")
	if math.Abs(c.Value-1) > 0.2 {
		t.Errorf("wrong VJP: order %.3f, want about 1", c.Value)
	}
}

// badNoise is Gaussian noise whose sampler, moments or gradient can be wrong on purpose.
type badNoise struct {
	operators.GaussianNoise
	sampleSigma float64 // sampler's sigma (the model's is 0.1)
	gradScale   float64
}

func (b *badNoise) Sample(ctx context.Context, rng *rand.Rand, ax *batch.Batch) (*batch.Batch, error) {
	y := ax.Clone()
	for i := range y.Data {
		y.Data[i] += float32(b.sampleSigma * rng.NormFloat64())
	}
	return y, nil
}

func (b *badNoise) NLLGrad(ctx context.Context, y, ax *batch.Batch) (*batch.Batch, error) {
	g, err := b.GaussianNoise.NLLGrad(ctx, y, ax)
	for i := range g.Data {
		g.Data[i] *= float32(b.gradScale)
	}
	return g, err
}

func TestNoiseChecks(t *testing.T) {
	base, _ := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.1})
	cases := []struct {
		name   string
		nm     part.NoiseModel
		failed string
	}{
		{"correct", &badNoise{*base, 0.1, 1}, ""},
		{"variance off by 5%", &badNoise{*base, 0.105, 1}, "moments"},
		{"gradient off by 1%", &badNoise{*base, 0.1, 1.01}, "nll gradient"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := CheckNoise(ctx, c.nm, Options{NoGraph: true})
			if c.failed == "" {
				Require(t, r)
				return
			}
			f := r.Failures()
			if len(f) != 1 || f[0].Name != c.failed {
				t.Errorf("want only %q to fail, got:\n%s", c.failed, r)
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	reg := registry.New()
	reg.Add(registry.Entry{ID: "test.scale", Kind: registry.KindOperator, Linear: true,
		New: func(context.Context, any) (any, error) { return &scaleOp{s: 2, t: 2}, nil }})
	reg.Add(registry.Entry{ID: "test.liar", Kind: registry.KindOperator, Linear: true,
		New: func(context.Context, any) (any, error) { return tanhOp{}, nil }})
	reg.Add(registry.Entry{ID: "test.metric", Kind: registry.KindMetric,
		New: func(context.Context, any) (any, error) { return 1, nil }})

	r, err := CheckID(ctx, "test.scale", reg)
	if err != nil || !r.OK() {
		t.Errorf("test.scale: %v\n%s", err, r)
	}
	r, _ = CheckID(ctx, "test.liar", reg)
	if c, _ := r.Find("declared linear"); !c.Failed() {
		t.Errorf("a nonlinear operator registered as linear passed:\n%s", r)
	}
	r, _ = CheckID(ctx, "test.metric", reg)
	if c, _ := r.Find("build"); !c.Failed() {
		t.Errorf("a metric entry whose part is not a part.Metric passed:\n%s", r)
	}
	if _, err := CheckID(ctx, "test.scal", reg); err == nil || !strings.Contains(err.Error(), `did you mean "test.scale"`) {
		t.Errorf("unknown ID: err = %v", err)
	}
}

func TestReportString(t *testing.T) {
	r := Report{Subject: "x"}
	r.measure("adjoint", 2e-3, 1e-5, false, "normalized")
	r.measure("taylor", 1.0, 1.8, true, "order")
	r.skip("graph", "no in-graph form")
	r.pass("shape", "ok")
	s := r.String()
	for _, want := range []string{"x: FAILED", "FAIL adjoint", "0.002 <= 1e-05", "FAIL taylor", "1 >= 1.8", "SKIP graph", "PASS shape"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if len(r.Failures()) != 2 || r.OK() {
		t.Errorf("failures = %v", r.Failures())
	}
}

// graphScaleOp has an in-graph form y = g·x that may disagree with its plain y = s·x.
type graphScaleOp struct {
	scaleOp
	g float64
}

func (o *graphScaleOp) ApplyGraph(x *graph.Node, _ map[string]*graph.Node) *graph.Node {
	return graph.MulScalar(x, o.g)
}

func TestGraphChecks(t *testing.T) {
	good := CheckOperator(ctx, &graphScaleOp{scaleOp{s: 2, t: 2}, 2}, Options{})
	Require(t, good)
	if c, ok := good.Find("graph gradient"); !ok || !c.Pass {
		t.Errorf("graph gradient check missing or failed:\n%s", good)
	}
	bad := CheckOperator(ctx, &graphScaleOp{scaleOp{s: 2, t: 2}, 2.001}, Options{})
	for _, name := range []string{"graph apply", "graph gradient"} {
		if c, _ := bad.Find(name); !c.Failed() {
			t.Errorf("in-graph form off by 0.05%%: %s passed:\n%s", name, bad)
		}
	}
}
