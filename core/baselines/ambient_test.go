package baselines

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// tinyUNet is a U-Net small enough for tests on 8x8 images.
var tinyUNet = diffusion.UNetConfig{Channels: 4, Multipliers: []int{1, 2}, TimeEmbed: 8}

// TestAmbientNeverReadsHiddenPixels checks Ambient Diffusion's defining property (Daras et al.
// 2023): the loss reads the observations only where the mask A observes them. It evaluates the
// loss and its gradient in every U-Net weight and in the observations u, at random weights
// (the zero-initialized output layer would hide a leak), then overwrites the pixels that A
// hides with other values (up to ±50) and evaluates again with the same step inputs: the loss
// and every gradient must be bit-identical (tolerance 0), and the gradient in u must be 0 at
// the hidden pixels. As a control, changing one observed pixel must change the loss.
func TestAmbientNeverReadsHiddenPixels(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	sched, _ := diffusion.NewLinear(100, 1e-3, 0.05)
	const n = 4
	rng := rand.New(rand.NewPCG(31, 32))
	obs := batch.New(n, 8, 8, 1)
	for i := range obs.Data {
		obs.Data[i] = rng.Float32()
	}
	op, _ := operators.NewRandomMask(operators.RandomMaskConfig{Fraction: 0.4})
	params, err := op.SampleParams(context.Background(), rng, obs.Shape)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := op.Apply(context.Background(), obs, params) // hidden pixels are 0
	mask := params[operators.MaskKey]
	obj, err := NewAmbient(y, mask, AmbientConfig{Delta: 0.3, SigmaData: 0.5, PMean: -1.2, PStd: 1.2}, tinyUNet, sched, 5)
	if err != nil {
		t.Fatal(err)
	}
	ctx := mlctx.New().Checked(false)
	ctx.SetRNGStateFromSeed(3)
	exec, err := mlctx.NewExec(b, ctx, func(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
		loss := obj.Loss(ctx, in)[0]
		var wrt []*graph.Node
		for _, v := range gomlxtest.TrainableVars(ctx) {
			wrt = append(wrt, v.ValueGraph(loss.Graph()))
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, append(wrt, in[0])...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3}
	eval := func(o *Ambient) [][]float32 {
		t.Helper()
		out, err := exec.Exec(o.Inputs(rand.New(rand.NewPCG(9, 9)), idx, 0)...)
		if err != nil {
			t.Fatal(err)
		}
		vals := make([][]float32, len(out))
		for i, o := range out {
			vals[i] = tensors.MustCopyFlatData[float32](o)
		}
		return vals
	}
	eval(obj) // creates the variables
	gomlxtest.RandomizeVars(ctx, 7)
	ref := eval(obj)

	perturbed := *obj
	perturbed.obs = y.Clone()
	hidden := 0
	for i, m := range mask.Data {
		if m == 0 {
			perturbed.obs.Data[i] = float32(100*rng.Float64() - 50)
			hidden++
		}
	}
	if hidden == 0 || hidden == len(mask.Data) {
		t.Fatalf("%d hidden pixels of %d: the test needs both kinds", hidden, len(mask.Data))
	}
	got := eval(&perturbed)
	if got[0][0] != ref[0][0] {
		t.Errorf("loss changed from %v to %v when hidden pixels changed", ref[0][0], got[0][0])
	}
	for k := 1; k < len(ref); k++ {
		if !slices.Equal(got[k], ref[k]) {
			t.Errorf("gradient %d of %d changed when hidden pixels changed", k, len(ref)-1)
		}
	}
	du := ref[len(ref)-1]
	for i, m := range mask.Data {
		if m == 0 && du[i] != 0 {
			t.Fatalf("gradient in the hidden pixel %d is %v, want 0", i, du[i])
		}
	}
	control := perturbed
	control.obs = y.Clone()
	for i, m := range mask.Data {
		if m == 1 {
			control.obs.Data[i] += 0.5
			break
		}
	}
	if c := eval(&control); c[0][0] == ref[0][0] {
		t.Error("changing an observed pixel left the loss unchanged: the check above proves nothing")
	}
}

// TestObservedMask checks the pixels Ambient Diffusion counts as observed: the mask itself for
// a mask operator (also inside a composition), every pixel for a blur, and an error for an
// operator that changes the image's shape.
func TestObservedMask(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	shape := batch.Shape{N: 3, H: 8, W: 8, C: 1}
	box, _ := operators.NewBoxMask(operators.BoxMaskConfig{Size: 3})
	blur, _ := operators.NewGaussianBlur(operators.GaussianBlurConfig{Sigma: 1})
	comp := operators.NewCompose(blur, box)
	p, err := comp.SampleParams(ctx, rng, shape)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ObservedMask(ctx, comp, p, shape)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Data, p["1."+operators.MaskKey].Data) {
		t.Error("blur then box mask: observed pixels differ from the box mask")
	}
	pb, _ := blur.SampleParams(ctx, rng, shape)
	m, err = ObservedMask(ctx, blur, pb, shape)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Data {
		if v != 1 {
			t.Fatalf("blur: pixel %d counted as hidden", i)
		}
	}
	down, _ := operators.NewDownsample(operators.DownsampleConfig{Factor: 2})
	if _, err := ObservedMask(ctx, down, nil, shape); err == nil {
		t.Error("a downsampling operator was accepted")
	}
}

// TestFurtherMask checks A~ = A ⊙ B: a subset of A, the same on every call (fixed per image),
// hiding a fraction delta of the observed pixels within 4 binomial standard deviations.
func TestFurtherMask(t *testing.T) {
	a := batch.New(20, 16, 16, 1)
	for i := range a.Data {
		if i%3 != 0 {
			a.Data[i] = 1
		}
	}
	const delta = 0.1
	f := FurtherMask(a, delta, 4)
	if !slices.Equal(f.Data, FurtherMask(a, delta, 4).Data) {
		t.Error("the further mask differs between calls")
	}
	observed, hidden := 0.0, 0.0
	for i, v := range f.Data {
		if v == 1 && a.Data[i] == 0 {
			t.Fatalf("pixel %d: A~ observes a pixel that A hides", i)
		}
		if a.Data[i] == 1 {
			observed++
			if v == 0 {
				hidden++
			}
		}
	}
	sd := math.Sqrt(observed * delta * (1 - delta))
	if math.Abs(hidden-delta*observed) > 4*sd {
		t.Errorf("%v of %v observed pixels hidden again, want %v ± %.1f", hidden, observed, delta*observed, 4*sd)
	}
}
