package diffusion

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// emaRun trains a tiny U-Net for steps Adam steps with UpdateEMA(decay) in the training graph
// and returns the context and the values of every U-Net variable after each step.
func emaRun(t *testing.T, decay float64, steps int) (*context.Context, [][][]float64) {
	t.Helper()
	b := gomlxtest.Backend(t, testGoConfig)
	cfg := UNetConfig{Channels: 4, Multipliers: []int{1, 2}, TimeEmbed: 8}
	shape := batch.Shape{N: 4, H: 8, W: 8, C: 1}
	sched, _ := NewLinear(100, 1e-3, 0.2)
	ctx := seededContext(t, 5)
	opt := optimizers.Adam().LearningRate(1e-2).Done()
	e := context.MustNewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node {
		loss := DenoiseLoss(ctx, cfg, in[0], in[1], in[2], in[3], in[4])
		opt.UpdateGraph(ctx, loss.Graph(), loss)
		UpdateEMA(ctx, loss.Graph(), UNetScope, decay)
		return loss
	})
	rng := rand.New(rand.NewPCG(6, 6))
	var history [][][]float64
	for range steps {
		in := sched.LossInputs(rng, shape, Uniform)
		x0 := randomBatch(rng, shape)
		e.MustExec(tensors.FromFlatDataAndDimensions(x0.Data, shape.Dims()...),
			tensors.FromFlatDataAndDimensions(in.Eps.Data, shape.Dims()...),
			tensors.FromFlatDataAndDimensions(in.T, shape.N), tensors.FromFlatDataAndDimensions(in.SqrtAbar, shape.N),
			tensors.FromFlatDataAndDimensions(in.SqrtOneMinusAbar, shape.N))
		var snap [][]float64
		for _, v := range trainableVars(ctx, "/"+UNetScope) {
			snap = append(snap, gomlxtest.Flat64(v.MustValue()))
		}
		history = append(history, snap)
	}
	return ctx, history
}

// shadows returns the EMA values of the U-Net variables, in trainableVars order.
func shadows(t *testing.T, ctx *context.Context) [][]float64 {
	t.Helper()
	var out [][]float64
	for _, v := range trainableVars(ctx, "/"+UNetScope) {
		s := ctx.GetVariableByScopeAndName(shadowScope(v.Scope()), v.Name())
		if s == nil {
			t.Fatalf("no shadow for %s", v.ScopeAndName())
		}
		if s.Trainable {
			t.Errorf("shadow of %s is trainable", v.ScopeAndName())
		}
		out = append(out, gomlxtest.Flat64(s.MustValue()))
	}
	return out
}

// TestEMADecayZero checks that with decay 0 the average is the weights themselves (exactly:
// 0·old + 1·w in float32), so EMA converges to the weights as decay -> 0.
func TestEMADecayZero(t *testing.T) {
	ctx, hist := emaRun(t, 0, 3)
	last := hist[len(hist)-1]
	for i, s := range shadows(t, ctx) {
		for j := range s {
			if s[j] != last[i][j] {
				t.Fatalf("variable %d [%d]: shadow %v, weight %v", i, j, s[j], last[i][j])
			}
		}
	}
	if n := EMAUpdates(ctx, UNetScope); n != 3 {
		t.Errorf("EMAUpdates = %d, want 3", n)
	}
}

// TestEMALags checks decay 0.999 against the recursion computed in float64 from the recorded
// weights (first update copies; tolerance 1e-6 absolute, float32 accumulation over 8 updates
// of values below 1), and that the average stays near the first weights while the weights move:
// ||shadow - w_last|| > 0.9·||w_first - w_last||.
func TestEMALags(t *testing.T) {
	const decay, steps = 0.999, 8
	ctx, hist := emaRun(t, decay, steps)
	got := shadows(t, ctx)
	var lag, moved float64
	for i := range got {
		want := append([]float64(nil), hist[0][i]...)
		for k := 1; k < steps; k++ {
			for j := range want {
				want[j] = decay*want[j] + (1-decay)*hist[k][i][j]
			}
		}
		for j := range want {
			if math.Abs(got[i][j]-want[j]) > 1e-6 {
				t.Fatalf("variable %d [%d]: shadow %.9g, recursion %.9g", i, j, got[i][j], want[j])
			}
			lag += math.Pow(got[i][j]-hist[steps-1][i][j], 2)
			moved += math.Pow(hist[0][i][j]-hist[steps-1][i][j], 2)
		}
	}
	if moved == 0 || lag < 0.81*moved {
		t.Errorf("||shadow - w_last||² = %g, ||w_first - w_last||² = %g: the average does not lag", lag, moved)
	}
}

// TestEMAContext checks that EMAContext copies the shadows to the model's scopes, and its errors.
func TestEMAContext(t *testing.T) {
	ctx, _ := emaRun(t, 0.5, 2)
	ema, err := EMAContext(ctx, UNetScope)
	if err != nil {
		t.Fatal(err)
	}
	want := shadows(t, ctx)
	vars := trainableVars(ctx, "/"+UNetScope)
	for i, v := range vars {
		c := ema.GetVariableByScopeAndName(v.Scope(), v.Name())
		if c == nil {
			t.Fatalf("EMA context lacks %s", v.ScopeAndName())
		}
		for j, x := range gomlxtest.Flat64(c.MustValue()) {
			if x != want[i][j] {
				t.Fatalf("%s[%d] = %v, shadow %v", v.ScopeAndName(), j, x, want[i][j])
			}
		}
	}
	if n := len(trainableVars(ema, "/")); n != len(vars) {
		t.Errorf("EMA context holds %d variables, want the %d of the model only", n, len(vars))
	}
	if _, err := EMAContext(seededContext(t, 1), UNetScope); err == nil || !strings.Contains(err.Error(), "no trainable variables") {
		t.Errorf("empty context: error %v", err)
	}
	fresh := seededContext(t, 1)
	if err := InitUNet(gomlxtest.Backend(t, testGoConfig), fresh, UNetConfig{}, batch.Shape{N: 1, H: 8, W: 8, C: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := EMAContext(fresh, UNetScope); err == nil || !strings.Contains(err.Error(), "never updated") {
		t.Errorf("model without EMA: error %v", err)
	}
}
