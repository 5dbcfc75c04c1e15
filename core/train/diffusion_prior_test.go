package train

import (
	"context"
	"log/slog"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/diffusion"
)

// TestLoadPriorIsTheEMA trains the tiny models for 3 steps and checks that LoadPrior returns,
// at the U-Net's scope, exactly the EMA weights of the trained context (bitwise), and that a
// folder without checkpoints is an error.
func TestLoadPriorIsTheEMA(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tr, err := New(ctx, goBackend(t), tinyConfig(t, 3), tinyProblem(t), 5, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	want, err := diffusion.EMAContext(tr.Context(), "unet")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := LoadPrior(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for v := range want.IterVariables() {
		g := got.GetVariableByScopeAndName(v.Scope(), v.Name())
		if g == nil {
			t.Fatalf("LoadPrior lacks %s", v.ScopeAndName())
		}
		a := tensors.MustCopyFlatData[float32](v.MustValue())
		b := tensors.MustCopyFlatData[float32](g.MustValue())
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: loaded %v, EMA %v", v.ScopeAndName(), i, b[i], a[i])
			}
		}
		n++
	}
	if n == 0 {
		t.Fatal("the EMA context is empty")
	}
	if _, _, err := LoadPrior(t.TempDir(), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("LoadPrior of a folder without checkpoints succeeded")
	}
}
