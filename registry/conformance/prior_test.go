package conformance

import (
	"context"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/prior"
	"github.com/flowdiff/flowdiff-go/registry"
)

// quadPrior is E_n = Σ x² over image n (plus bias·N, making it depend on its batch) with a
// gradient of gradScale·2x: correct when gradScale = 1 and bias = 0.
type quadPrior struct {
	gradScale float64
	bias      float64
}

func (q quadPrior) Energy(_ context.Context, x *batch.Batch) ([]float64, *batch.Batch, error) {
	e := make([]float64, x.N)
	g := batch.New(x.N, x.H, x.W, x.C)
	sz := x.ImageSize()
	for i, v := range x.Data {
		e[i/sz] += float64(v)*float64(v) + q.bias*float64(x.N)/float64(sz)
		g.Data[i] = float32(q.gradScale * 2 * float64(v))
	}
	return e, g, nil
}

func TestPriorChecks(t *testing.T) {
	tv, _ := prior.NewTV(prior.SmoothConfig{})
	l1, _ := prior.NewL1(prior.SmoothConfig{Epsilon: 0.1})
	cases := []struct {
		name   string
		p      part.Prior
		failed string
	}{
		{"quadratic", quadPrior{1, 0}, ""},
		{"prior.tv", tv, ""},
		{"prior.l1", l1, ""},
		{"gradient off by 1%", quadPrior{1.01, 0}, "gradient"},
		{"energy depends on the batch", quadPrior{1, 0.01}, "per sample"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := CheckPrior(ctx, c.p, Options{})
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

// TestCheckIDPrior runs the registry path: a registered prior gets the prior suite, and an
// entry registered as a prior whose part is not a part.Prior fails its build check.
func TestCheckIDPrior(t *testing.T) {
	reg := registry.New()
	reg.Add(registry.Entry{ID: "test.quad", Kind: registry.KindPrior,
		New: func(context.Context, any) (any, error) { return quadPrior{1, 0}, nil }})
	reg.Add(registry.Entry{ID: "test.notprior", Kind: registry.KindPrior,
		New: func(context.Context, any) (any, error) { return 3, nil }})
	r, err := CheckID(ctx, "test.quad", reg)
	if _, ok := r.Find("gradient"); err != nil || !r.OK() || !ok {
		t.Errorf("test.quad: %v\n%s", err, r)
	}
	r, _ = CheckID(ctx, "test.notprior", reg)
	if c, _ := r.Find("build"); !c.Failed() {
		t.Errorf("a non-prior registered as a prior passed:\n%s", r)
	}
}
