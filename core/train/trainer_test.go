package train

import (
	"context"
	"errors"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"gopkg.in/yaml.v3"
)

// tinyConfig is a model small enough for tests: 8x8 images.
func tinyConfig(t *testing.T, steps int) Config {
	var cfg Config
	src := `steps: 6
batch: 4
checkpoint_every: 3
prior_warmup: 2
warmup: 1
flow: {levels: 1, steps: 1, hidden: 4, cond_hidden: 2}
unet: {channels: 4, multipliers: [1], time_embed: 8, patch: 1}
diffusion: {steps: 50}
`
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(src), &node); err != nil {
		t.Fatal(err)
	}
	if errs := schema.Decode(node.Content[0], &cfg, "train"); len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg.Steps = steps
	return cfg
}

func tinyProblem(t *testing.T) Problem {
	clean := batch.New(16, 8, 8, 1)
	for i := range clean.Data {
		clean.Data[i] = float32(i%7) / 7
	}
	noise, err := operators.NewGaussianNoise(operators.GaussianNoiseConfig{Sigma: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	obs, params, err := corrupt.Corrupt(context.Background(), clean, nil, noise, 1)
	if err != nil {
		t.Fatal(err)
	}
	return Problem{Obs: obs, Params: params, Op: operators.NewCompose(), Noise: noise, Clean: clean.Shape}
}

func curve(t *testing.T, dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, CurveFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestResumeIsExact interrupts training after 4 of 6 steps (the last checkpoint is at step 3),
// resumes it in a new trainer, and checks the training curve equals an uninterrupted run's
// bit for bit: same batches, same noise, same optimizer state.
func TestResumeIsExact(t *testing.T) {
	be := goBackend(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	prob := tinyProblem(t)

	whole := t.TempDir()
	tr, err := New(ctx, be, tinyConfig(t, 6), prob, 11, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx, whole); err != nil {
		t.Fatal(err)
	}

	split := t.TempDir()
	tr1, _ := New(ctx, be, tinyConfig(t, 6), prob, 11, log)
	tr1.stopAfter = 4
	if err := tr1.Run(ctx, split); !errors.Is(err, errStopped) {
		t.Fatalf("interrupted run: err = %v", err)
	}
	tr2, _ := New(ctx, be, tinyConfig(t, 6), prob, 11, log)
	if err := tr2.Run(ctx, split); err != nil {
		t.Fatal(err)
	}
	if a, b := curve(t, whole), curve(t, split); a != b {
		t.Errorf("resumed training differs from uninterrupted training:\n%s\n---\n%s", a, b)
	}
	post, err := tr2.Posterior(ctx, prob.Obs, prob.Obs, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := post.Mean.CheckFinite(); err != nil {
		t.Error(err)
	}
	if post.Std.Data[0] <= 0 {
		t.Errorf("posterior std = %v, want > 0 with 3 samples", post.Std.Data[0])
	}
}

// TestNonFiniteRollsBack trains 3 good steps (a checkpoint), then resumes with an absurd flow
// learning rate: every step diverges, each time the trainer restores the checkpoint and halves
// the rate instead of writing NaNs, and after max_rollbacks it gives up naming the remedy.
func TestNonFiniteRollsBack(t *testing.T) {
	be := goBackend(t)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	prob := tinyProblem(t)
	good, _ := New(context.Background(), be, tinyConfig(t, 3), prob, 3, log)
	if err := good.Run(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, 12)
	cfg.FlowLR, cfg.Clip, cfg.MaxRollback = 1e30, 0, 2
	bad, _ := New(context.Background(), be, cfg, prob, 3, log)
	err := bad.Run(context.Background(), dir)
	if !errors.Is(err, errNonFinite) || !strings.Contains(err.Error(), "gave up after 2 rollbacks") {
		t.Fatalf("err = %v, want a non-finite loss and 2 rollbacks", err)
	}
	ck, err := LoadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != 3 {
		t.Errorf("latest checkpoint at step %d, want the good one at 3 (no garbage saved)", ck.Step)
	}
	for name, v := range ck.Values {
		if err := finiteTensor(v); err != nil {
			t.Errorf("checkpoint variable %s: %v", name, err)
		}
	}
}

func TestNewRejectsMissingNoise(t *testing.T) {
	be := goBackend(t)
	prob := tinyProblem(t)
	prob.Noise = nil
	if _, err := New(context.Background(), be, tinyConfig(t, 1), prob, 1, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("training without a noise model accepted")
	}
}

func finiteTensor(v *tensors.Tensor) error {
	var err error
	v.ConstFlatData(func(flat any) {
		if f, ok := flat.([]float32); ok {
			for _, x := range f {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					err = errors.New("non-finite value")
					return
				}
			}
		}
	})
	return err
}

// TestTornCurveRowDropped: a run killed while writing losses.csv leaves a partial row; the
// resumed run drops it (and rows past the checkpoint) instead of failing.
func TestTornCurveRowDropped(t *testing.T) {
	p := filepath.Join(t.TempDir(), CurveFile)
	os.WriteFile(p, []byte(strings.Join(curveHeader, ",")+"\njoint,1,0,1,1,1,1,1,1,1,0\njoint,2,0,1,1,1,1,1,1,1,0\njoint,3,0,1,1"), 0o644)
	if err := truncateCurve(p, State{Phase: PhaseJoint, Step: 1}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if got := strings.Count(string(data), "\njoint,"); got != 1 {
		t.Errorf("kept %d rows, want 1:\n%s", got, data)
	}
}

// TestOldCurveWidened: a losses.csv from a build without the extra_prior column keeps its
// complete rows on resume, widened with zeros under the current header; a torn row still goes.
func TestOldCurveWidened(t *testing.T) {
	p := filepath.Join(t.TempDir(), CurveFile)
	old := strings.Join(curveHeader[:10], ",") + "\njoint,1,0,1,1,1,1,1,1,1\njoint,2,0,1,1,1,1,1,1,1\njoint,3,0,1"
	os.WriteFile(p, []byte(old), 0o644)
	if err := truncateCurve(p, State{Phase: PhaseJoint, Step: 2}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	want := strings.Join(curveHeader, ",") + "\njoint,1,0,1,1,1,1,1,1,1,0\njoint,2,0,1,1,1,1,1,1,1,0\n"
	if string(data) != want {
		t.Errorf("got\n%s\nwant\n%s", data, want)
	}
}

// TestResetRestartsEMA trains through the model-reset phases: after the diffusion model is
// re-initialized its EMA restarts from the new weights (the update counter counts only the
// diffusion-reset steps), instead of averaging the old model in.
func TestResetRestartsEMA(t *testing.T) {
	be := goBackend(t)
	cfg := tinyConfig(t, 3)
	cfg.Reset = ResetConfig{FlowSteps: 2, DiffusionSteps: 2}
	tr, err := New(context.Background(), be, cfg, tinyProblem(t), 3, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
	v := tr.ctx.GetVariableByScopeAndName("/"+diffusion.EMAScope+UNetScope, diffusion.EMACountName)
	if v == nil {
		t.Fatal("no EMA counter after training")
	}
	if n := v.MustValue().Value().(int64); n != 2 {
		t.Errorf("EMA updates after the diffusion reset = %d, want 2 (the reset's steps only)", n)
	}
}
