package train

import (
	"context"
	"log/slog"
	"testing"
)

// TestCountStepFLOPs checks the joint step's product count on the tiny test model: every
// product has a recorded arithmetic; the count is affine in the batch size (the per-sample
// layers scale with it, the mixing matrices of the flow do not), so with f(B) the count at
// batch B, f(4) - f(2) = 2·(f(2) - f(1)) exactly; and counting leaves the training untouched:
// the first step's losses equal those of a trainer that did not count (bit for bit).
func TestCountStepFLOPs(t *testing.T) {
	be := goBackend(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	count := func(batch int) StepFLOPs {
		cfg := tinyConfig(t, 1)
		cfg.Batch = batch
		tr, err := New(ctx, be, cfg, tinyProblem(t), 3, log)
		if err != nil {
			t.Fatal(err)
		}
		s, err := tr.CountStepFLOPs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Flow.FLOPs <= 0 || s.Diffusion.FLOPs <= 0 || s.Flow.Unknown+s.Diffusion.Unknown+s.Joint.Unknown != 0 {
			t.Fatalf("batch %d: got %+v", batch, s)
		}
		// The joint step shares the U-Net's forward pass between the flow's prior term and
		// the denoising loss: it computes less than its halves apart, but more than the flow
		// step alone (the U-Net's weight gradient).
		if !(s.Joint.FLOPs < s.Flow.FLOPs+s.Diffusion.FLOPs && s.Joint.FLOPs > s.Flow.FLOPs) || s.Total() != s.Joint.FLOPs {
			t.Errorf("batch %d: joint step %v FLOPs, flow step %v, diffusion step %v", batch, s.Joint.FLOPs, s.Flow.FLOPs, s.Diffusion.FLOPs)
		}
		return s
	}
	f1, f2, f4 := count(1), count(2), count(4)
	for _, c := range []struct {
		name    string
		a, b, d float64
	}{
		{"flow", f1.Flow.FLOPs, f2.Flow.FLOPs, f4.Flow.FLOPs},
		{"diffusion", f1.Diffusion.FLOPs, f2.Diffusion.FLOPs, f4.Diffusion.FLOPs},
		{"joint", f1.Joint.FLOPs, f2.Joint.FLOPs, f4.Joint.FLOPs},
	} {
		if c.d-c.b != 2*(c.b-c.a) {
			t.Errorf("%s step: FLOPs at batch 1, 2, 4 = %v, %v, %v: not affine in the batch", c.name, c.a, c.b, c.d)
		}
	}

	firstStep := func(countFirst bool) CurveRow {
		tr, err := New(ctx, be, tinyConfig(t, 1), tinyProblem(t), 3, log)
		if err != nil {
			t.Fatal(err)
		}
		if countFirst {
			if _, err := tr.CountStepFLOPs(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.compile(); err != nil {
			t.Fatal(err)
		}
		row, err := tr.step(ctx, &State{LRScale: 1})
		if err != nil {
			t.Fatal(err)
		}
		return row
	}
	if a, b := firstStep(false), firstStep(true); a != b {
		t.Errorf("counting changed the first step:\n%+v\n%+v", a, b)
	}
}
