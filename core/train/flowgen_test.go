package train

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// TestFlowGeneratorIsTheTrainedFlow trains a tiny model for 3 steps and checks that the flow
// loaded from its checkpoint draws exactly what the trainer's own forward pass draws for the
// same z (bit for bit: the same graph on the same weights), that it runs at 2x and 3x the
// training size (the flow is convolutional), and that a configuration other than the trained
// one is refused instead of running on fresh weights.
func TestFlowGeneratorIsTheTrainedFlow(t *testing.T) {
	be := goBackend(t)
	ctx := context.Background()
	dir := t.TempDir()
	cfg := tinyConfig(t, 3)
	prob := tinyProblem(t)
	tr, err := New(ctx, be, cfg, prob, 2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	z := gaussian(rng, cfg.Batch, prob.Clean)
	base := prob.Obs.Slice(0, cfg.Batch)
	if tr.genEx, err = tr.buildGenerate(); err != nil {
		t.Fatal(err)
	}
	want, err := tr.generate(z, base)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewFlowGenerator(be, dir, cfg.Flow)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Finalize()
	got, err := g.Generate(z, base)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Data {
		if got.Data[i] != want.Data[i] {
			t.Fatalf("value %d: generator %v, trainer %v", i, got.Data[i], want.Data[i])
		}
	}
	for _, side := range []int{16, 24} {
		s := batch.Shape{N: 1, H: side, W: side, C: 1}
		x, err := g.Generate(gaussian(rng, 1, s), gaussian(rng, 1, s))
		if err != nil || x.Shape != s {
			t.Fatalf("%dx%d: %v, %v", side, side, x, err)
		}
		if err := x.CheckFinite(); err != nil {
			t.Error(err)
		}
	}
	other := cfg.Flow
	other.Steps = 2 // the checkpoint holds one step per level
	g2, err := NewFlowGenerator(be, dir, other)
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Finalize()
	// Step 1 of each level would be new, and the conditioning projection feeding it twice as
	// wide: the engine refuses the shape (or the check, the fresh variables).
	if _, err := g2.Generate(z, base); err == nil || !(strings.Contains(err.Error(), "different shape") || strings.Contains(err.Error(), "does not match its checkpoint")) {
		t.Errorf("a flow with more steps than trained: err = %v, want a configuration mismatch", err)
	}
	// A variable the graph uses but the checkpoint lacked (simulated: forgotten by the
	// generator) is named.
	g3, err := NewFlowGenerator(be, dir, cfg.Flow)
	if err != nil {
		t.Fatal(err)
	}
	defer g3.Finalize()
	delete(g3.saved, "/flow/level0/step0/act_norm/bias")
	if _, err := g3.Generate(z, base); err == nil || !strings.Contains(err.Error(), "act_norm/bias") {
		t.Errorf("a variable missing from the checkpoint: err = %v, want it named", err)
	}
	if _, err := NewFlowGenerator(be, t.TempDir(), cfg.Flow); err == nil {
		t.Error("a folder without checkpoints gave a generator")
	}
}
