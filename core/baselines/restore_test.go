package baselines

import (
	"context"
	"encoding/csv"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/train"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

// TestBaselinesAtInitialization runs one training step of SURE-Score and of Ambient Diffusion
// with learning rate 0, so the U-Net keeps its initialization, whose zero-initialized output
// layer makes eps_theta = 0 and Ambient's network output F = 0. Then, in closed form:
//   - SURE-Score's denoiser is the identity, D(u) = u, so with a Rademacher probe the step's
//     SURE is exactly sigma² (fit 0, divergence n): sure_mse = sigma² in intensity units
//     (tolerance 1e-4: float32 finite differences at eps 1e-3), and the DSM weight starts at 0;
//     DenoiseSURE returns the observations (tolerance 1e-6);
//   - RestoreAmbient returns EDM's skip alone, (c_skip u + 1)/2 with c_skip = sigma_d²/(sigma² +
//     sigma_d²) on the pixels the mask shows and (0 + 1)/2 on those it hides (tolerance 1e-6).
//
// Both restorations read the weights back with train.LoadPrior (the EMA copy) and run 5
// observations in batches of 2, so the padded last batch is covered.
func TestBaselinesAtInitialization(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	ctx := context.Background()
	sched, _ := diffusion.NewLinear(200, 1e-4, 0.02)
	cfg := tinyConfig()
	cfg.Steps, cfg.DiffusionLR = 1, 0
	y := tinyImages(3).Slice(0, 5)
	const sigma = 0.2

	sure, err := NewSUREScore(y, sigma, SUREConfig{Epsilon: 1e-3, Probe: "rademacher", DSMWeight: 1}, tinyUNet, sched, 10)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sure")
	tr, _ := NewTrainer(b, cfg, sure, 1, nil)
	if err := tr.Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	row := curveRow(t, dir)
	if got := row["sure_mse"]; math.Abs(got-sigma*sigma) > 1e-4 {
		t.Errorf("SURE of the identity denoiser: sure_mse %v, want sigma² = %v", got, sigma*sigma)
	}
	if row["dsm_weight"] != 0 {
		t.Errorf("DSM weight at step 0: %v, want 0", row["dsm_weight"])
	}
	model, _, err := train.LoadPrior(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	d, err := DenoiseSURE(ctx, b, model, tinyUNet, sched, y, sigma, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range d.Data {
		if math.Abs(float64(v-y.Data[i])) > 1e-6 {
			t.Fatalf("D(y) at pixel %d = %v, want y = %v", i, v, y.Data[i])
		}
	}

	mask := batch.New(y.N, y.H, y.W, y.C)
	for i := range mask.Data {
		mask.Data[i] = float32(i % 2)
	}
	amb, err := NewAmbient(y, mask, AmbientConfig{Delta: 0.1, SigmaData: 0.5, PMean: -1.2, PStd: 1.2}, tinyUNet, sched, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "ambient")
	tr, _ = NewTrainer(b, cfg, amb, 1, nil)
	if err := tr.Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if s := amb.Survival(); !(s > 0.3 && s < 0.5) {
		t.Errorf("survival %v, want about 0.5 x 0.9", s)
	}
	model, _, err = train.LoadPrior(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	x, err := RestoreAmbient(ctx, b, model, tinyUNet, 0.5, sched, y, mask, sigma, 2)
	if err != nil {
		t.Fatal(err)
	}
	cSkip := 0.25 / (0.25 + 4*sigma*sigma) // sigma_d² / (sigma² + sigma_d²), sigma = 2 x 0.2 in model units
	for i, v := range x.Data {
		want := 0.5 // a hidden pixel: 0 in model units
		if mask.Data[i] == 1 {
			want = (cSkip*(2*float64(y.Data[i])-1) + 1) / 2
		}
		if math.Abs(float64(v)-want) > 1e-6 {
			t.Fatalf("ambient restoration at pixel %d (mask %v) = %v, want %v", i, mask.Data[i], v, want)
		}
	}
}

// curveRow returns the first data row of dir/losses.csv by column name.
func curveRow(t *testing.T, dir string) map[string]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, train.CurveFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("losses.csv: %v, %d rows", err, len(rows))
	}
	out := map[string]float64{}
	for j, name := range rows[0] {
		out[name], _ = strconv.ParseFloat(rows[1][j], 64)
	}
	return out
}
