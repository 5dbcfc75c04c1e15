package prior

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// testImages returns 2 images [2,5,6,2] mixing flat patches (differences exactly 0), small
// differences of the order of eps, and edges of contrast up to 1.
func testImages(eps float64) *batch.Batch {
	rng := rand.New(rand.NewPCG(7, 1))
	x := batch.New(2, 5, 6, 2)
	for i := range x.Data {
		switch rng.IntN(3) {
		case 0:
			x.Data[i] = 0.5
		case 1:
			x.Data[i] = float32(0.5 + eps*(rng.Float64()-0.5))
		default:
			x.Data[i] = float32(rng.Float64())
		}
	}
	return x
}

// TestGradientsFiniteDifferences compares every gradient component with a central difference
// of the summed energy, step 2e-5 (the step actually taken is read back from the float32
// value). Tolerance 1e-4·max(1, |g|): the central difference's error is about h²/6 times
// the third derivative of E, which reaches a few 1/eps² where a difference is near 0
// (eps = 0.01: measured 5e-5 at step 1e-4, 5e-6 at 2e-5); float32 storage of the gradient
// adds about 4·6e-8.
func TestGradientsFiniteDifferences(t *testing.T) {
	const h = 2e-5
	for _, eps := range []float64{0.01, 0.1} {
		tv, _ := NewTV(SmoothConfig{Epsilon: eps})
		l1, _ := NewL1(SmoothConfig{Epsilon: eps})
		for name, p := range map[string]part.Prior{"tv": tv, "l1": l1} {
			x := testImages(eps)
			if name == "l1" { // put some intensities near 0, where l1 bends
				for i := 0; i < x.Size(); i += 3 {
					x.Data[i] = float32(eps * (float64(i%5) - 2) / 2)
				}
			}
			_, g, err := p.Energy(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range x.Data {
				plus, minus := x.Clone(), x.Clone()
				plus.Data[i] = float32(float64(x.Data[i]) + h)
				minus.Data[i] = float32(float64(x.Data[i]) - h)
				step := float64(plus.Data[i]) - float64(minus.Data[i])
				ep, _, _ := p.Energy(context.Background(), plus)
				em, _, _ := p.Energy(context.Background(), minus)
				fd := (ep[0] + ep[1] - em[0] - em[1]) / step
				d := math.Abs(fd-float64(g.Data[i])) / math.Max(1, math.Abs(fd))
				worst = math.Max(worst, d)
			}
			t.Logf("%s eps=%g: worst gradient error %.2g", name, eps, worst)
			if worst > 1e-4 {
				t.Errorf("%s eps=%g: gradient differs from finite differences by %.3g", name, eps, worst)
			}
		}
	}
}

// TestEnergyValues checks closed forms: a constant image has zero TV; a vertical step edge of
// contrast c between two columns has TV = H·(sqrt(c²+eps²) - eps) per channel; l1 of a
// constant a is H·W·C·(sqrt(a²+eps²) - eps). Tolerance 1e-9 relative (float64 sums of a few
// float32-exact terms).
func TestEnergyValues(t *testing.T) {
	const eps, c, a = 0.01, 0.75, 0.25
	tv, _ := NewTV(SmoothConfig{Epsilon: eps})
	l1, _ := NewL1(SmoothConfig{Epsilon: eps})
	flat := batch.New(1, 4, 5, 2)
	for i := range flat.Data {
		flat.Data[i] = a
	}
	edge := batch.New(1, 4, 5, 1)
	for y := range 4 {
		for x := 2; x < 5; x++ {
			edge.Set(0, y, x, 0, c)
		}
	}
	cases := []struct {
		name string
		p    part.Prior
		x    *batch.Batch
		want float64
	}{
		{"tv flat", tv, flat, 0},
		{"tv edge", tv, edge, 4 * (math.Sqrt(c*c+eps*eps) - eps)},
		{"l1 flat", l1, flat, 40 * (math.Sqrt(a*a+eps*eps) - eps)},
	}
	for _, k := range cases {
		e, _, err := k.p.Energy(context.Background(), k.x)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(e[0]-k.want) > 1e-9*math.Max(1, k.want) {
			t.Errorf("%s: energy %.12g, want %.12g", k.name, e[0], k.want)
		}
	}
}

// TestRegistered builds both priors through the registry with their schema defaults and
// checks a bad epsilon is refused with the field named.
func TestRegistered(t *testing.T) {
	ctx := t.Context()
	for _, id := range []string{"prior.tv", "prior.l1"} {
		e, err := registry.Lookup(id)
		if err != nil || e.Kind != registry.KindPrior {
			t.Fatalf("%s: %v (kind %q)", id, err, e.Kind)
		}
		cfg := e.Config()
		if errs := schema.Decode(nil, cfg, id); len(errs) > 0 {
			t.Fatal(errs)
		}
		if got := cfg.(*SmoothConfig).Epsilon; got != DefaultEpsilon {
			t.Errorf("%s: default epsilon %v, want %v", id, got, DefaultEpsilon)
		}
		v, err := e.New(ctx, cfg)
		if _, ok := v.(part.Prior); err != nil || !ok {
			t.Errorf("%s: built %T, %v", id, v, err)
		}
		if _, err := e.New(ctx, &SmoothConfig{Epsilon: -1}); err == nil {
			t.Errorf("%s: negative epsilon accepted", id)
		}
	}
}

// TestCancelled: a cancelled context stops the energy.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tv, _ := NewTV(SmoothConfig{})
	if _, _, err := tv.Energy(ctx, batch.New(1, 2, 2, 1)); err == nil {
		t.Error("cancelled context ignored")
	}
}
