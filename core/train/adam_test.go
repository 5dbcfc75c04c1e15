package train

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/nn"
	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

func goBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig(nn.PortableBackendConfig) // core/backend's "go"
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Finalize)
	return b
}

// TestAdamMatchesReference runs three Adam steps on f(w) = sum((w - c)^2) for the "a" scope
// only and compares with the update written out in float64 (Kingma & Ba 2015, Algorithm 1);
// the "b" scope, also in the loss, must not move.
func TestAdamMatchesReference(t *testing.T) {
	be := goBackend(t)
	ctx := context.New()
	w0 := []float32{0.5, -1, 2}
	c := []float32{1, 1, 1}
	opt := Adam{Name: "a", Scope: "/a"}
	exec, err := context.NewExec(be, ctx, func(ctx *context.Context, lr *graph.Node) *graph.Node {
		g := lr.Graph()
		wa := ctx.InAbsPath("/a").VariableWithValue("w", w0).ValueGraph(g)
		wb := ctx.InAbsPath("/b").VariableWithValue("w", w0).ValueGraph(g)
		d := graph.Sub(wa, graph.Const(g, c))
		loss := graph.Add(graph.ReduceAllSum(graph.Square(d)), graph.ReduceAllSum(graph.Square(wb)))
		opt.Step(ctx, loss, lr)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	const lr = 0.1
	ref := []float64{0.5, -1, 2}
	m1, m2 := make([]float64, 3), make([]float64, 3)
	for step := 1; step <= 3; step++ {
		if _, err := exec.Exec(float32(lr)); err != nil {
			t.Fatal(err)
		}
		for i := range ref {
			g := 2 * (ref[i] - float64(c[i]))
			m1[i] = 0.9*m1[i] + 0.1*g
			m2[i] = 0.999*m2[i] + 0.001*g*g
			mh := m1[i] / (1 - math.Pow(0.9, float64(step)))
			vh := m2[i] / (1 - math.Pow(0.999, float64(step)))
			ref[i] -= lr * mh / (math.Sqrt(vh) + 1e-8)
		}
	}
	got := ctx.InAbsPath("/a").GetVariableByScopeAndName("/a", "w").MustValue().Value().([]float32)
	for i := range ref {
		if math.Abs(float64(got[i])-ref[i]) > 1e-5 { // float32 arithmetic over 3 steps
			t.Errorf("w[%d] = %v, want %v", i, got[i], ref[i])
		}
	}
	b := ctx.GetVariableByScopeAndName("/b", "w").MustValue().Value().([]float32)
	for i := range b {
		if b[i] != w0[i] {
			t.Errorf("frozen scope moved: b[%d] = %v", i, b[i])
		}
	}
}

// TestAdamClipsGlobalNorm: with ClipNorm 1 and a huge gradient, the first Adam step still moves
// each weight by about lr (Adam normalizes), but the recorded norm is the unclipped one.
func TestAdamClipsGlobalNorm(t *testing.T) {
	be := goBackend(t)
	ctx := context.New()
	opt := Adam{Name: "a", Scope: "/a", ClipNorm: 1}
	exec, err := context.NewExec(be, ctx, func(ctx *context.Context, lr *graph.Node) *graph.Node {
		g := lr.Graph()
		w := ctx.InAbsPath("/a").VariableWithValue("w", []float32{3, 4}).ValueGraph(g)
		loss := graph.MulScalar(graph.ReduceAllSum(w), 1000) // gradient (1000, 1000)
		return opt.Step(ctx, loss, lr)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(float32(0.01))
	if err != nil {
		t.Fatal(err)
	}
	if norm := tensors.ToScalar[float32](out[0]); math.Abs(float64(norm)-1000*math.Sqrt2) > 0.1 {
		t.Errorf("grad norm = %v, want %v", norm, 1000*math.Sqrt2)
	}
	w := ctx.GetVariableByScopeAndName("/a", "w").MustValue().Value().([]float32)
	if math.Abs(float64(w[0])-2.99) > 1e-4 || math.Abs(float64(w[1])-3.99) > 1e-4 {
		t.Errorf("w after one step = %v, want [2.99 3.99]", w)
	}
}

// TestCheckpointRoundTrip saves a context mid-training, restores it into a fresh context, and
// checks the next step gives bit-identical weights (moments and step count restored too).
func TestCheckpointRoundTrip(t *testing.T) {
	be := goBackend(t)
	dir := t.TempDir()
	build := func(ctx *context.Context) *context.Exec {
		opt := Adam{Name: "a", Scope: "/a"}
		// Unchecked: variables restored from a checkpoint are reused, not created anew.
		e, err := context.NewExec(be, ctx.Checked(false), func(ctx *context.Context, lr *graph.Node) *graph.Node {
			g := lr.Graph()
			w := ctx.InAbsPath("/a").VariableWithValue("w", []float32{0.5, -1, 2}).ValueGraph(g)
			loss := graph.ReduceAllSum(graph.Square(graph.AddScalar(w, -1)))
			opt.Step(ctx, loss, lr)
			return loss
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ctx1 := context.New()
	e1 := build(ctx1)
	step := func(e *context.Exec) {
		if _, err := e.Exec(float32(0.1)); err != nil {
			t.Fatal(err)
		}
	}
	step(e1)
	step(e1)
	if err := SaveCheckpoint(dir, ctx1, 2, map[string]int{"phase": 1}); err != nil {
		t.Fatal(err)
	}
	step(e1)
	want := ctx1.GetVariableByScopeAndName("/a", "w").MustValue().Value().([]float32)

	ck, err := LoadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]int
	if err := json.Unmarshal(ck.State, &st); ck.Step != 2 || err != nil || st["phase"] != 1 {
		t.Errorf("checkpoint step %d state %s", ck.Step, ck.State)
	}
	ctx2 := context.New()
	if err := ck.Restore(ctx2); err != nil {
		t.Fatal(err)
	}
	e2 := build(ctx2)
	step(e2)
	got := ctx2.GetVariableByScopeAndName("/a", "w").MustValue().Value().([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("w[%d] after restore+step = %v, want %v (bit-identical)", i, got[i], want[i])
		}
	}
	if _, err := LoadLatest(t.TempDir()); err != ErrNoCheckpoint {
		t.Errorf("empty run: err = %v, want ErrNoCheckpoint", err)
	}
}

// TestStepAllMatchesSeparateSteps: two optimizers updated from one backward pass move their
// weights exactly as one Step per optimizer does, on a loss where the first scope's gradient
// flows through the second's (as AmbientFlow's posterior's flows through its prior), each with
// its own learning rate, clipping and gradient norm.
func TestStepAllMatchesSeparateSteps(t *testing.T) {
	be := goBackend(t)
	run := func(joint bool) (norms [2]float32, a, b []float32) {
		ctx := context.New()
		opts := []Adam{{Name: "a", Scope: "/a", ClipNorm: 0.5}, {Name: "b", Scope: "/b"}}
		exec, err := context.NewExec(be, ctx, func(ctx *context.Context, lrA, lrB *graph.Node) []*graph.Node {
			g := lrA.Graph()
			wa := ctx.InAbsPath("/a").VariableWithValue("w", []float32{0.5, -1, 2}).ValueGraph(g)
			wb := ctx.InAbsPath("/b").VariableWithValue("w", []float32{1.5, 0.25, -0.75}).ValueGraph(g)
			h := graph.Tanh(graph.Mul(wa, wb)) // b's "network" applied to a's "sample"
			loss := graph.ReduceAllSum(graph.Square(graph.Sub(h, graph.Const(g, []float32{0.3, 0.1, -0.2}))))
			if joint {
				n := StepAll(ctx, loss, opts, []*graph.Node{lrA, lrB})
				return n
			}
			return []*graph.Node{opts[0].Step(ctx, loss, lrA), opts[1].Step(ctx, loss, lrB)}
		})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			out, err := exec.Exec(float32(0.1), float32(0.05))
			if err != nil {
				t.Fatal(err)
			}
			norms = [2]float32{tensors.ToScalar[float32](out[0]), tensors.ToScalar[float32](out[1])}
		}
		a = ctx.GetVariableByScopeAndName("/a", "w").MustValue().Value().([]float32)
		b = ctx.GetVariableByScopeAndName("/b", "w").MustValue().Value().([]float32)
		return norms, a, b
	}
	n1, a1, b1 := run(false)
	n2, a2, b2 := run(true)
	if n1 != n2 {
		t.Errorf("gradient norms: separate %v, joint %v", n1, n2)
	}
	for i := range a1 {
		if math.Abs(float64(a1[i]-a2[i])) > 1e-6 || math.Abs(float64(b1[i]-b2[i])) > 1e-6 {
			t.Errorf("weights after 3 steps: separate a %v b %v, joint a %v b %v", a1, b1, a2, b2)
			break
		}
	}
	if a1[0] == 0.5 || b1[0] == 1.5 {
		t.Errorf("a scope did not move: a %v b %v", a1, b1)
	}
}
