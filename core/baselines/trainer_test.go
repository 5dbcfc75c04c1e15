package baselines

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/diffusion"
	"github.com/flowdiff/flowdiff-go/core/train"
	"github.com/flowdiff/flowdiff-go/internal/gomlxtest"
)

func tinyConfig() train.Config {
	return train.Config{Batch: 4, Steps: 6, DiffusionLR: 1e-3, Warmup: 2, Decay: "cosine", FinalLR: 0.1, Clip: 1,
		EMA: 0.9, Checkpoint: 2, MaxRollback: 2, UNet: tinyUNet}
}

func tinyImages(seed uint64) *batch.Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := batch.New(16, 8, 8, 1)
	for i := range b.Data {
		b.Data[i] = rng.Float32()
	}
	return b
}

// TestDDPMTrainsOnItsImages checks the data of the DDPM objective: the step's x0 input is
// 2x-1 of exactly the images it was given at the drawn rows (for the naive baseline, the
// observations y; pipelines checks that it is given them).
func TestDDPMTrainsOnItsImages(t *testing.T) {
	sched, _ := diffusion.NewLinear(50, 1e-3, 0.05)
	imgs := tinyImages(1)
	d, err := NewDDPM("naive", imgs, tinyUNet, sched)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{5, 0, 11}
	in := d.Inputs(rand.New(rand.NewPCG(1, 1)), idx, 0)
	got := tensors.MustCopyFlatData[float32](in[0].(*tensors.Tensor))
	want := toModel(imgs.Gather(idx)).Data
	if !slices.Equal(got, want) {
		t.Error("the DDPM's x0 input is not 2x-1 of its images at the drawn rows")
	}
	if _, err := NewDDPM("naive", batch.New(2, 6, 6, 1), tinyUNet, sched); err == nil {
		t.Error("6x6 images accepted by a two-level patch-2 U-Net")
	}
}

// TestTrainerResumeIsExact stops a DDPM training after 3 of 6 steps (checkpoints every 2) and
// continues it in a new trainer from the folder: the final weights, EMA weights included, and
// losses.csv must equal an uninterrupted run's bit for bit (every step's randomness is keyed
// by its step, the context's RNG and the optimizer state are checkpointed). A folder trained
// with another objective is refused.
func TestTrainerResumeIsExact(t *testing.T) {
	b := gomlxtest.Backend(t, testGoConfig)
	sched, _ := diffusion.NewLinear(50, 1e-3, 0.05)
	d, _ := NewDDPM("naive", tinyImages(2), tinyUNet, sched)
	ctx := context.Background()
	full, stopped := filepath.Join(t.TempDir(), "full"), filepath.Join(t.TempDir(), "stopped")
	tr, err := NewTrainer(b, tinyConfig(), d, 9, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx, full); err != nil {
		t.Fatal(err)
	}
	tr, _ = NewTrainer(b, tinyConfig(), d, 9, nil)
	tr.stopAfter = 3
	if err := tr.Run(ctx, stopped); !errors.Is(err, errStopped) {
		t.Fatalf("stopped run: %v", err)
	}
	tr, _ = NewTrainer(b, tinyConfig(), d, 9, nil)
	if err := tr.Run(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	a, err := train.LoadLatest(full)
	if err != nil {
		t.Fatal(err)
	}
	c, err := train.LoadLatest(stopped)
	if err != nil {
		t.Fatal(err)
	}
	if a.Step != 6 || c.Step != 6 {
		t.Fatalf("checkpoints at steps %d and %d, want 6", a.Step, c.Step)
	}
	names := 0
	for name, v := range a.Values {
		w, ok := c.Values[name]
		if !ok {
			t.Errorf("resumed checkpoint lacks %s", name)
			continue
		}
		if strings.HasPrefix(name, "/unet/") || strings.HasPrefix(name, "/ema/unet/") {
			names++
		}
		if !v.Shape().Equal(w.Shape()) || !slices.Equal(flatBytes(v), flatBytes(w)) {
			t.Errorf("variable %s differs after resuming", name)
		}
	}
	if names == 0 {
		t.Error("no U-Net or EMA weights in the checkpoint")
	}
	ca, _ := os.ReadFile(filepath.Join(full, train.CurveFile))
	cc, _ := os.ReadFile(filepath.Join(stopped, train.CurveFile))
	if string(ca) != string(cc) || strings.Count(string(ca), "\n") != 7 {
		t.Errorf("losses.csv differs after resuming or has not 6 rows:\n%s\n---\n%s", ca, cc)
	}
	if err := PlotCurve(full); err != nil {
		t.Error(err)
	}
	other, _ := NewDDPM("clean_prior", tinyImages(2), tinyUNet, sched)
	tr, _ = NewTrainer(b, tinyConfig(), other, 9, nil)
	if err := tr.Run(ctx, full); err == nil || !strings.Contains(err.Error(), `"naive"`) {
		t.Errorf("a folder of another objective: err = %v", err)
	}
}

// flatBytes is a tensor's values as bytes, for exact comparison whatever the dtype.
func flatBytes(t *tensors.Tensor) []byte {
	var out []byte
	t.MutableBytes(func(data []byte) { out = slices.Clone(data) })
	return out
}
