package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/operators"
)

// writeMask writes a 32x32 float32 .npy mask whose pixel (y, x) is keep(y, x).
func writeMask(t *testing.T, file string, keep func(y, x int) bool) {
	t.Helper()
	m := &formats.Image{W: 32, H: 32, C: 1, N: 1, SourceType: dtype.Float32, Data: make([]float32, 32*32)}
	for i := range m.Data {
		if keep(i/32, i%32) {
			m.Data[i] = 1
		}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := formats.Write(file, m); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreWithMeasuredMasks restores with a run whose forward model reads a measured mask
// per observation (mask.file with a folder), trained for 3 steps (quality is not the point):
//   - the run's own observations restore with their masks, by the flow and by DPS (whole and by
//     tiles), and the sidecar records the mask folder;
//   - DPS really uses each input's mask: with an all-zero mask (nothing observed) the
//     restoration of two different inputs of one name is the same, byte for byte (the
//     guidance sees no observation), whole and by tiles; with an all-one mask they differ;
//   - an input with no mask in the --mask folder fails with an error that says which file to
//     add, and the other inputs go on;
//   - where the run's masks are gone, the error says to give --mask, and --mask works;
//   - --mask on a run without mask.file, and a run whose mask is drawn at random (mask.random),
//     are refused with errors that say why.
func TestRestoreWithMeasuredMasks(t *testing.T) {
	tmp := t.TempDir()
	obs, _ := writeNoisyTIFFs(t, tmp, 2, 1, 32, 3)
	masks := filepath.Join(tmp, "masks")
	writeMask(t, filepath.Join(masks, "img00.npy"), func(y, x int) bool { return (x+2*y)%5 != 0 })
	writeMask(t, filepath.Join(masks, "img01.npy"), func(y, x int) bool { return y < 20 || x > 9 })
	// 2 files of 4 patches: 2 of the 8 patches for testing.
	base := strings.Replace(observationsPipeline(obs, "", "", 3), "train: 24\n  test: 8\n", "train: 6\n  test: 2\n", 1)
	yaml := strings.Replace(base, "corruption:\n", "corruption:\n  - op: mask.file\n    path: "+masks+"\n", 1)
	p, err := Parse("masked.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(tmp, "run")
	if _, err := Execute(context.Background(), p, Options{Out: run}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for _, req := range []RestoreRequest{
		{Out: filepath.Join(tmp, "flow"), Draws: 2},
		{Out: filepath.Join(tmp, "dps"), Method: "dps", Steps: 3},
		{Out: filepath.Join(tmp, "dps-tiles"), Method: "dps", Steps: 3, Tiling: "tiles", Tile: 16, Overlap: 8},
	} {
		req.RunDir, req.Inputs = run, []string{obs}
		sum, err := Restore(ctx, req)
		if err != nil || sum.Restored != 2 {
			t.Fatalf("%s: %+v, %v; want both files restored with the run's masks", req.Out, sum, err)
		}
		var car Sidecar
		raw, _ := os.ReadFile(filepath.Join(req.Out, "img01.tif.json"))
		if err := json.Unmarshal(raw, &car); err != nil || car.Settings.Mask != masks || car.Residual == nil {
			t.Errorf("%s: sidecar %s (%v); want the mask folder %s and residual diagnostics", req.Out, raw, err, masks)
		}
	}

	// Two different observations under one name (the restoration's seed comes from the name).
	for i, dir := range []string{"u", "v"} {
		raw, err := os.ReadFile(filepath.Join(obs, []string{"img00.tif", "img01.tif"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(tmp, dir), 0o755)
		os.WriteFile(filepath.Join(tmp, dir, "img00.tif"), raw, 0o644)
	}
	none, all := filepath.Join(tmp, "none.npy"), filepath.Join(tmp, "all.npy")
	writeMask(t, none, func(int, int) bool { return false })
	writeMask(t, all, func(int, int) bool { return true })
	dps := func(mask, dir, tiling string) []byte {
		t.Helper()
		out := filepath.Join(tmp, "out-"+filepath.Base(mask)+"-"+dir+"-"+tiling)
		_, err := Restore(ctx, RestoreRequest{RunDir: run, Inputs: []string{filepath.Join(tmp, dir)}, Out: out, Method: "dps", Steps: 3,
			Mask: mask, Tiling: tiling, Tile: 16, Overlap: 8})
		if err != nil {
			t.Fatalf("dps with --mask %s: %v", mask, err)
		}
		raw, err := os.ReadFile(filepath.Join(out, "img00.tif"))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, tiling := range []string{"whole", "tiles"} {
		if !bytes.Equal(dps(none, "u", tiling), dps(none, "v", tiling)) {
			t.Errorf("%s: with an all-zero mask DPS restorations of different observations differ: the mask did not reach the guidance", tiling)
		}
	}
	if bytes.Equal(dps(all, "u", "whole"), dps(all, "v", "whole")) {
		t.Error("with an all-one mask DPS restorations of different observations are equal: the guidance ignores the observations")
	}

	// A folder of masks without one for an input.
	partial := filepath.Join(tmp, "partial")
	writeMask(t, filepath.Join(partial, "img00.npy"), func(int, int) bool { return true })
	sum, err := Restore(ctx, RestoreRequest{RunDir: run, Inputs: []string{obs}, Out: filepath.Join(tmp, "partial-out"), Draws: 2, Mask: partial})
	if err == nil || sum.Restored != 1 || !strings.Contains(err.Error(), "no mask for observation img01.tif in "+partial+": add img01.png") {
		t.Errorf("a missing mask: %+v, %v; want img00 restored and img01 reported with the file to add", sum, err)
	}

	// The run's masks gone (restoring elsewhere): the error says to give --mask, which works.
	moved := filepath.Join(tmp, "moved")
	if err := os.Rename(masks, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, RestoreRequest{RunDir: run, Inputs: []string{obs}, Out: filepath.Join(tmp, "gone")}); err == nil || !strings.Contains(err.Error(), "give the masks of the files to restore with --mask") {
		t.Errorf("the run's masks gone: %v; want a hint to --mask", err)
	}
	if sum, err := Restore(ctx, RestoreRequest{RunDir: run, Inputs: []string{obs}, Out: filepath.Join(tmp, "moved-out"), Draws: 2, Mask: moved}); err != nil || sum.Restored != 2 {
		t.Errorf("the run's masks gone, --mask given: %+v, %v", sum, err)
	}

	// --mask on a run without mask.file; a mask drawn at random.
	plain, err := Parse("plain.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := useMask(plain.Corruption, all); err == nil || !strings.Contains(err.Error(), "has no mask.file operator") {
		t.Errorf("--mask without mask.file: %v", err)
	}
	random, err := Parse("random.yaml", []byte(strings.Replace(base, "corruption:\n", "corruption:\n  - op: mask.random\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ops, noise, err := operators.FromSpecs(ctx, random.Corruption)
	if err != nil {
		t.Fatal(err)
	}
	fwd := &Forward{Ops: ops, Op: operators.NewCompose(ops...), Noise: noise}
	defer fwd.Close()
	if err := checkRestorable(ctx, fwd, random.Data); err == nil || !strings.Contains(err.Error(), "draw random per-sample parameters") {
		t.Errorf("mask.random: %v; want it refused", err)
	}
}
