package train

import (
	"context"
	"encoding/csv"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
)

// Tolerances of the injected path against the in-graph one (float32 throughout). The two paths
// compute the same quantities with different float32 roundings: the host applies the
// operator and its VJP with its own loops (and sums the NLL in float64), the graph with its
// matrix products; each value differs from the exact one by a few float32 ulps (6e-8
// relative), and backpropagation through the flow mixes many of them. Measured on the go
// backend: 4e-8 to 1e-7 for the gradient, 7e-8 for the loss, 1.3e-6 over 4 training steps
// (logged by the tests). The bounds leave a margin of 100 or more for other backends and
// summation orders, while a wrong scale, sign or missing term shows at order 1 (a scale off
// by 0.1% already fails: 1e-3).
const (
	tolInjectGrad = 1e-4 // ||g_injected - g_graph|| / ||g_graph|| over the flow's weights
	tolInjectLoss = 1e-5 // |loss_injected - loss_graph| / |loss_graph| at the same weights
	// tolInjectCurve bounds the relative difference of every loss over a short training run:
	// Adam divides each gradient by its running RMS, so the differences above reach the
	// weights at their relative size times a learning-rate step, and compound over steps.
	tolInjectCurve = 1e-4
)

// opProblem corrupts the tiny 8x8 images with ops and Gaussian noise (sigma 0.1).
func opProblem(t *testing.T, ops ...part.Operator) Problem {
	t.Helper()
	base := tinyProblem(t)
	clean := batch.New(base.Obs.N, 8, 8, 1)
	for i := range clean.Data {
		clean.Data[i] = float32((i*7)%11) / 11
	}
	noise, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	obs, params, err := corrupt.Corrupt(context.Background(), clean, ops, noise, 2)
	if err != nil {
		t.Fatal(err)
	}
	return Problem{Obs: obs, Params: params, Op: operators.NewCompose(ops...), Noise: noise, Clean: clean.Shape}
}

func gaussianBlur(t *testing.T) part.Operator {
	op, err := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 5, Sigma: 1})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func randomMask(t *testing.T) part.Operator {
	op, err := operators.NewRandomMask(operators.RandomMaskConfig{Fraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// flowGradient returns the flow loss and its gradient in the flow's weights, flattened in
// variable order, for step inputs in (lambda 0.5).
func flowGradient(t *testing.T, tr *Trainer, in stepInputs) (float64, []float64) {
	t.Helper()
	if tr.needsHost() && tr.genEx == nil {
		var err error
		if tr.genEx, err = tr.buildGenerate(); err != nil {
			t.Fatal(err)
		}
	}
	args, err := tr.flowArgs(context.Background(), in, 0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := mlctx.NewExec(tr.be, tr.ctx, func(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
		out, _, _ := tr.flowLoss(ctx, tr.nameFlowIn(in))
		loss := out.Loss
		vars := Adam{Scope: FlowScope}.Trainable(ctx, loss.Graph())
		nodes := make([]*graph.Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.ValueGraph(loss.Graph())
		}
		return append([]*graph.Node{loss}, graph.Gradient(loss, nodes...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ex.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	var g []float64
	for _, o := range out[1:] {
		for _, v := range tensors.MustCopyFlatData[float32](o) {
			g = append(g, float64(v))
		}
	}
	return float64(tensors.ToScalar[float32](out[0])), g
}

// sameFlowGradient gives other the weights of ref (its in-graph reference) and checks that
// the flow loss and its gradient at the same step inputs agree within tolInjectLoss and
// tolInjectGrad; name says which path other takes.
func sameFlowGradient(t *testing.T, ref, other *Trainer, name string) {
	t.Helper()
	other.ctx = ref.ctx // the same weights
	in := ref.draw(PhaseJoint, 99)
	lossG, gG := flowGradient(t, ref, in)
	lossO, gO := flowGradient(t, other, in)
	dl := math.Abs(lossO-lossG) / math.Abs(lossG)
	dg := relDiff(gO, gG)
	t.Logf("loss %.7g (graph) vs %.7g (%s): rel %.2g; gradient over %d weights: rel %.2g", lossG, lossO, name, dl, len(gG), dg)
	if dl > tolInjectLoss || !(dg <= tolInjectGrad) || len(gO) != len(gG) {
		t.Errorf("%s path differs: loss rel %.3g (tol %g), gradient rel %.3g (tol %g)", name, dl, tolInjectLoss, dg, tolInjectGrad)
	}
}

// relDiff is ||a - b|| / ||b||.
func relDiff(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}

// TestInjectedGradientMatchesGraph trains a flow 3 steps on the in-graph path (so every weight
// matters), then computes the gradient of the flow loss in the flow's weights at fixed step
// inputs twice on the same weights: through the in-graph operator and noise model, and through
// wrappers that hide their in-graph forms (operators.Opaque, OpaqueNoise), which forces
// gradient injection, the path of a plugin. Tolerances: tolInjectGrad, tolInjectLoss.
func TestInjectedGradientMatchesGraph(t *testing.T) {
	be := goBackend(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	cases := []struct {
		name        string
		op          func(*testing.T) part.Operator
		opaqueOp    bool
		opaqueNoise bool
	}{
		{"blur.gaussian, both hidden", gaussianBlur, true, true},
		{"mask.random, operator hidden", randomMask, true, false},
		{"blur.gaussian, noise hidden", gaussianBlur, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prob := opProblem(t, c.op(t))
			ref, err := New(ctx, be, tinyConfig(t, 3), prob, 5, log)
			if err != nil {
				t.Fatal(err)
			}
			if ref.needsHost() {
				t.Fatal("built-in blur/mask with noise.gaussian should take the in-graph path")
			}
			if err := ref.Run(ctx, t.TempDir()); err != nil {
				t.Fatal(err)
			}
			hidden := prob
			if c.opaqueOp {
				hidden.Op = operators.Opaque(prob.Op)
			}
			if c.opaqueNoise {
				hidden.Noise = operators.OpaqueNoise(prob.Noise)
			}
			inj, err := New(ctx, be, tinyConfig(t, 3), hidden, 5, log)
			if err != nil {
				t.Fatal(err)
			}
			if !inj.inject {
				t.Fatal("a hidden in-graph form should force injection")
			}
			sameFlowGradient(t, ref, inj, "injected")
		})
	}
}

// readCurve returns losses.csv's numeric columns by name, one value per row.
func readCurve(t *testing.T, dir string) map[string][]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, CurveFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, r := range rows[1:] {
		for i, name := range rows[0][2:] {
			v, err := strconv.ParseFloat(r[i+2], 64)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = append(out[name], v)
		}
	}
	return out
}

// TestInjectedTrainingMatchesGraph trains 4 joint steps with blur.gaussian + noise.gaussian on
// the in-graph path and, from the same seed, with both hidden (injection): every loss of the
// curve agrees to tolInjectCurve relative.
func TestInjectedTrainingMatchesGraph(t *testing.T) {
	be := goBackend(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	prob := opProblem(t, gaussianBlur(t))
	hidden := prob
	hidden.Op, hidden.Noise = operators.Opaque(prob.Op), operators.OpaqueNoise(prob.Noise)
	var curves []map[string][]float64
	for _, p := range []Problem{prob, hidden} {
		tr, err := New(ctx, be, tinyConfig(t, 4), p, 9, log)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := tr.Run(ctx, dir); err != nil {
			t.Fatal(err)
		}
		curves = append(curves, readCurve(t, dir))
	}
	worst := 0.0
	for _, col := range []string{"flow_loss", "entropy", "nll", "prior", "flow_grad_norm", "dm_loss", "dm_grad_norm"} {
		g, i := curves[0][col], curves[1][col]
		if len(g) != 4 || len(i) != 4 {
			t.Fatalf("%s: %d and %d rows, want 4", col, len(g), len(i))
		}
		for k := range g {
			d := math.Abs(i[k]-g[k]) / math.Max(math.Abs(g[k]), 1e-6)
			worst = math.Max(worst, d)
			if d > tolInjectCurve {
				t.Errorf("step %d %s: graph %.7g, injected %.7g (rel %.3g)", k+1, col, g[k], i[k], d)
			}
		}
	}
	t.Logf("4 steps: worst relative difference of any loss %.2g (tol %g)", worst, tolInjectCurve)
}

// TestPluginGradientMatchesBuiltin is the plugin case of TestInjectedGradientMatchesGraph: the
// flow loss's gradient in the flow's weights through micro.widefield (psf: gaussian, sigma 1 px,
// radius 2), served out of process by plugins/examples/micro, equals the gradient through the
// built-in blur.gaussian (size 5, sigma 1) inside the step graph, at the same weights and step
// inputs, within tolInjectGrad (the plugin computes the same truncated, normalized Gaussian in
// float32; plugins/host TestPluginMatchesBuiltin bounds its Apply and VJP by 1e-6 relative).
func TestPluginGradientMatchesBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the micro example plugin")
	}
	be := goBackend(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	prob := opProblem(t, gaussianBlur(t))
	ref, err := New(ctx, be, tinyConfig(t, 3), prob, 5, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Run(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	plugged := prob
	plugged.Op = operators.NewCompose(pluginOperator(ctx, t, "micro", "op: micro.widefield\npsf: gaussian\nsigma_px: 1\nradius: 2\n"))
	inj, err := New(ctx, be, tinyConfig(t, 3), plugged, 5, log)
	if err != nil {
		t.Fatal(err)
	}
	if !inj.inject {
		t.Fatal("a plugin operator should take the gradient-injection path")
	}
	sameFlowGradient(t, ref, inj, "plugin")
}
