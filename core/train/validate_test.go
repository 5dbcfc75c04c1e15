package train

import (
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/metrics"
)

// readValidation returns validation.csv's rows without the header.
func readValidation(t *testing.T, dir string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, ValidationFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || rows[0][0] != "phase" || rows[0][3] != "psnr_posterior_mean" {
		t.Fatalf("validation.csv header = %v", rows)
	}
	return rows[1:]
}

// TestValidationCurve trains the tiny model for 6 steps with checkpoints every 3 and
// validation on 5 of the problem's images: validation.csv gets a row at steps 3 and 6 with
// increasing training time, and the PSNR of its last row equals the PSNR of a posterior mean
// computed afterwards with the same seed and samples (to 1e-3 dB, the CSV's rounding). An
// interrupted run resumed from step 3 writes the same steps again, not twice.
func TestValidationCurve(t *testing.T) {
	be := goBackend(t)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	prob := tinyProblem(t)
	clean := batch.New(16, 8, 8, 1)
	for i := range clean.Data {
		clean.Data[i] = float32(i%7) / 7 // tinyProblem's clean images
	}
	val := Validation{Test: prob, Clean: clean, Images: 5, Samples: 3, Seed: 9}

	dir := t.TempDir()
	tr, err := New(ctx, be, tinyConfig(t, 6), prob, 11, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetValidation(ctx, val); err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx, dir); err != nil {
		t.Fatal(err)
	}
	rows := readValidation(t, dir)
	if len(rows) != 2 || rows[0][1] != "3" || rows[1][1] != "6" || rows[0][5] != "5" || rows[0][6] != "3" {
		t.Fatalf("validation rows = %v, want steps 3 and 6 on 5 images with 3 samples", rows)
	}
	t3, _ := strconv.ParseFloat(rows[0][2], 64)
	t6, _ := strconv.ParseFloat(rows[1][2], 64)
	if !(t3 > 0 && t6 > t3) {
		t.Errorf("train_s = %v then %v, want positive and increasing", t3, t6)
	}
	idx := []int{0, 1, 2, 3, 4}
	post, err := tr.Posterior(ctx, prob.Obs.Gather(idx), prob.Obs.Gather(idx), 3, 9)
	if err != nil {
		t.Fatal(err)
	}
	v, err := metrics.PSNR{Range: 1}.Compute(ctx, clean.Gather(idx), post.Mean)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := strconv.ParseFloat(rows[1][3], 64)
	if want := mean(v); math.Abs(got-want) > 1e-3 {
		t.Errorf("validation PSNR at step 6 = %v, want %v (posterior mean recomputed)", got, want)
	}

	split := t.TempDir()
	tr1, _ := New(ctx, be, tinyConfig(t, 6), prob, 11, log)
	tr1.SetValidation(ctx, val)
	tr1.stopAfter = 4
	if err := tr1.Run(ctx, split); !errors.Is(err, errStopped) {
		t.Fatalf("interrupted run: err = %v", err)
	}
	tr2, _ := New(ctx, be, tinyConfig(t, 6), prob, 11, log)
	tr2.SetValidation(ctx, val)
	if err := tr2.Run(ctx, split); err != nil {
		t.Fatal(err)
	}
	resumed := readValidation(t, split)
	if len(resumed) != 2 || resumed[1][1] != "6" || resumed[1][3] != rows[1][3] {
		t.Errorf("resumed run's validation rows = %v, want steps 3 and 6 with the uninterrupted PSNR %s", resumed, rows[1][3])
	}
}

// TestValidationRefusesMismatch: clean images and observations must pair up.
func TestValidationRefusesMismatch(t *testing.T) {
	tr, err := New(context.Background(), goBackend(t), tinyConfig(t, 1), tinyProblem(t), 1, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetValidation(context.Background(), Validation{Test: tinyProblem(t), Clean: batch.New(3, 8, 8, 1), Samples: 1}); err == nil {
		t.Error("16 observations with 3 clean images: want an error")
	}
}
