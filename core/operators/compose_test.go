package operators

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// tanhOp is a nonlinear test operator, y = tanh(x), with VJP (1 - y²) v.
type tanhOp struct{}

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
func (tanhOp) VJP(_ context.Context, x, v *batch.Batch, _ part.Params) (*batch.Batch, error) {
	g := v.Clone()
	for i := range g.Data {
		t := math.Tanh(float64(x.Data[i]))
		g.Data[i] *= float32(1 - t*t)
	}
	return g, nil
}

// TestCompose checks parameter keys, Apply against applying the parts in turn and VJP against
// the reverse chain of the parts' VJPs with the true intermediate inputs (exact: same
// arithmetic), for a linear chain and one with a nonlinear part in the middle.
func TestCompose(t *testing.T) {
	blur, _ := NewGaussianBlur(GaussianBlurConfig{Size: 5, Sigma: 1})
	mask, _ := NewRandomMask(RandomMaskConfig{Fraction: 0.5})
	down, _ := NewDownsample(DownsampleConfig{Factor: 2})
	s := batch.Shape{N: 3, H: 8, W: 6, C: 2}
	for _, parts := range [][]part.Operator{{blur, mask, down}, {blur, tanhOp{}, mask, down}} {
		c := NewCompose(parts...)
		if got, want := c.IsLinear(), len(parts) == 3; got != want {
			t.Errorf("IsLinear = %v, want %v", got, want)
		}
		p, err := c.SampleParams(ctx, rand.New(rand.NewPCG(1, 2)), s)
		if err != nil {
			t.Fatal(err)
		}
		maskAt := slices.Index(parts, part.Operator(mask))
		if keys := p.Keys(); len(keys) != 1 || keys[0] != prefix(maskAt)+MaskKey {
			t.Fatalf("param keys %v, want [%d.mask]", keys, maskAt)
		}
		x := randBatch(3, s)
		xs := []*batch.Batch{x}
		for i, op := range parts {
			y, err := op.Apply(ctx, xs[i], p.Prefixed(prefix(i)))
			if err != nil {
				t.Fatal(err)
			}
			xs = append(xs, y)
		}
		y, err := c.Apply(ctx, x, p)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxRelDiff(t, y, xs[len(parts)]); d != 0 {
			t.Errorf("Apply differs from the parts in turn by %g", d)
		}
		v := randBatch(4, y.Shape)
		g := v
		for i := len(parts) - 1; i >= 0; i-- {
			g, _ = parts[i].VJP(ctx, xs[i], g, p.Prefixed(prefix(i)))
		}
		got, err := c.VJP(ctx, x, v, p)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxRelDiff(t, got, g); d != 0 {
			t.Errorf("VJP differs from the reverse chain by %g", d)
		}
	}
}

// TestMixture checks the choice frequencies against the weights (5 standard errors), and Apply
// and VJP against applying each image's chosen chain to it alone.
func TestMixture(t *testing.T) {
	blur, _ := NewGaussianBlur(GaussianBlurConfig{Size: 5, Sigma: 1})
	mask, _ := NewBoxMask(BoxMaskConfig{Size: 3})
	m, err := NewMixture([]*Compose{NewCompose(blur), NewCompose(mask, blur)}, []float64{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	big := batch.Shape{N: 4000, H: 4, W: 4, C: 1}
	p, _ := m.SampleParams(ctx, rand.New(rand.NewPCG(7, 8)), big)
	ones := 0
	for _, v := range p[ChoiceKey].Data {
		ones += int(v)
	}
	if se := math.Sqrt(0.75 * 0.25 / 4000); math.Abs(float64(ones)/4000-0.75) > 5*se {
		t.Errorf("component 1 chosen %.4f of the time, want 0.75 ± %.4f", float64(ones)/4000, 5*se)
	}
	if keys := p.Keys(); !slices.Equal(keys, []string{"1.0.mask", ChoiceKey}) {
		t.Errorf("keys %v", keys)
	}

	s := batch.Shape{N: 12, H: 7, W: 6, C: 2}
	p, _ = m.SampleParams(ctx, rand.New(rand.NewPCG(9, 10)), s)
	x, v := randBatch(1, s), randBatch(2, s)
	y, err := m.Apply(ctx, x, p)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.VJP(ctx, x, v, p)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for n := range s.N {
		j := int(p[ChoiceKey].Data[n])
		seen[j] = true
		pj := p.Prefixed(prefix(j)).Slice(n, n+1)
		wantY, _ := m.comps[j].Apply(ctx, x.Image(n), pj)
		wantG, _ := m.comps[j].VJP(ctx, x.Image(n), v.Image(n), pj)
		if d := maxRelDiff(t, y.Image(n), wantY); d != 0 {
			t.Errorf("image %d (component %d): Apply differs by %g", n, j, d)
		}
		if d := maxRelDiff(t, g.Image(n), wantG); d != 0 {
			t.Errorf("image %d (component %d): VJP differs by %g", n, j, d)
		}
	}
	if len(seen) != 2 {
		t.Errorf("only components %v drawn in %d images", seen, s.N)
	}
}
