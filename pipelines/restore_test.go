package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// restorePipeline trains on noisy 16-bit TIFFs only (no references): 32x32 patches, a small
// flow, steps joint steps. The rates and the prior weight were chosen by trying a few at 200
// steps on these data (restored PSNR: flow_lr 0.003, lambda 1: +0.35 dB at 300 steps; 0.006
// and lambda 2: +0.56; lambda 4: +1.41; lambda 8: +0.88; lambda 4 with diffusion_lr 0.004:
// +1.54 dB).
func restorePipeline(obs string, steps int) string {
	return fmt.Sprintf(`version: 1
name: restore-e2e
seed: 3
data:
  source: observations
  path: %s
  size: 32
  patches: 16
  train: 88
  test: 8
corruption:
  - op: noise.gaussian
    sigma: %g
train:
  batch: 8
  steps: %d
  flow_lr: 0.006
  diffusion_lr: 0.004
  lambda: 4
  warmup: 10
  prior_warmup: 20
  checkpoint_every: 100
  posterior_samples: 4
  flow: {levels: 2, steps: 2, hidden: 16, cond_hidden: 8}
  unet: {channels: 8, multipliers: [1, 2], time_embed: 16}
evaluate: {metrics: [metric.psnr]}
`, obs, obsSigma, steps)
}

// trainedRun trains restorePipeline on fresh observations (6 files of 64x64) and returns the
// run folder and the observation and clean folders.
func trainedRun(t *testing.T, steps int) (run, obs, clean string) {
	t.Helper()
	tmp := t.TempDir()
	obs, clean = writeNoisyTIFFs(t, tmp, 6, 1, 64, 11)
	p, err := Parse("restore.yaml", []byte(restorePipeline(obs, steps)))
	if err != nil {
		t.Fatal(err)
	}
	run = filepath.Join(tmp, "run")
	if _, err := Execute(context.Background(), p, Options{Out: run}); err != nil {
		t.Fatal(err)
	}
	return run, obs, clean
}

// psnr16 is the PSNR of img against ref over all samples, with the 16-bit peak 65535.
func psnr16(t *testing.T, ref, img string) float64 {
	t.Helper()
	a, err := formats.Read(ref)
	if err != nil {
		t.Fatal(err)
	}
	b, err := formats.Read(img)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != b.Len() {
		t.Fatalf("%s and %s differ in size", ref, img)
	}
	var se float64
	for i := range a.Data {
		d := float64(a.Data[i] - b.Data[i])
		se += d * d
	}
	return 10 * math.Log10(65535*65535/(se/float64(a.Len())))
}

// TestRestoreEndToEnd is the done-when test: a folder of noisy 16-bit TIFFs with no
// clean images trains from one pipeline (200 joint steps, about 90 s on the loaded 2-core
// machine) and is restored by one Restore call (what `flowdiff restore` runs), whole and by
// 32x32 tiles overlapping by 8 pixels, with the same latent draws. It checks that:
//   - the outputs are 16-bit TIFFs of the inputs' size, the standard deviation float32;
//   - their PSNR against the clean originals (kept aside) beats the observations' by 0.5 dB
//     (measured: 20.06 -> 21.60 dB);
//   - tiled and whole restorations agree 4 pixels away from the image border: RMS difference
//     below 0.01 and largest difference below 0.06 of the 16-bit range, a tenth and 0.6 of the
//     noise's sigma (measured: RMS 0.0027-0.0030, largest 0.023-0.030); what remains
//     is where a tile's convolutions see its edge instead of the neighbouring pixels;
//   - the sidecar records the scaling, the outputs and the residual diagnostics.
func TestRestoreEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model for about 90 s")
	}
	run, obs, clean := trainedRun(t, 200)
	ctx := context.Background()
	whole, tiled := filepath.Join(t.TempDir(), "whole"), filepath.Join(t.TempDir(), "tiled")
	for _, c := range []struct{ out, tiling string }{{whole, "whole"}, {tiled, "tiles"}} {
		sum, err := Restore(ctx, RestoreRequest{RunDir: run, Inputs: []string{obs}, Out: c.out, Tiling: c.tiling, Draws: 8})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Restored != 6 || sum.Skipped != 0 || len(sum.Failed) != 0 {
			t.Fatalf("%s: summary %+v", c.tiling, sum)
		}
	}
	var in, out float64
	for f := range 6 {
		name := fmt.Sprintf("img%02d.tif", f)
		img, err := formats.Read(filepath.Join(whole, name))
		if err != nil {
			t.Fatal(err)
		}
		if img.SourceType != dtype.Uint16 || img.W != 64 || img.H != 64 || img.N != 1 {
			t.Errorf("%s: %v %dx%d x%d, want uint16 64x64 x1", name, img.SourceType, img.W, img.H, img.N)
		}
		std, err := formats.Read(filepath.Join(whole, fmt.Sprintf("std/img%02d.tif", f)))
		if err != nil || std.SourceType != dtype.Float32 || std.W != 64 {
			t.Errorf("std of %s: %v, %v", name, std, err)
		}
		in += psnr16(t, filepath.Join(clean, name), filepath.Join(obs, name)) / 6
		out += psnr16(t, filepath.Join(clean, name), filepath.Join(whole, name)) / 6
		d := interiorDiff(t, filepath.Join(whole, name), filepath.Join(tiled, name), 4)
		t.Logf("%s: tiled vs whole, 4 px from the border: RMS %.5f, largest %.5f of the 16-bit range", name, d.rms, d.max)
		if d.rms > 0.01 || d.max > 0.06 {
			t.Errorf("%s: tiled and whole restorations differ by RMS %.4f, largest %.4f; want below 0.01 and 0.06", name, d.rms, d.max)
		}
	}
	t.Logf("PSNR against the clean originals: observations %.2f dB, restored %.2f dB", in, out)
	if out < in+0.5 {
		t.Errorf("restored PSNR %.2f dB does not beat the observations' %.2f dB by 0.5 dB", out, in)
	}
	var car Sidecar
	raw, err := os.ReadFile(filepath.Join(whole, "img00.tif.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &car); err != nil {
		t.Fatal(err)
	}
	if car.Scaling.Scale != 65535 || len(car.Outputs) != 2 || car.Residual == nil || car.Settings.Draws != 8 || car.Settings.Tiling != "whole" {
		t.Errorf("sidecar: %s", raw)
	}
	t.Logf("residual of img00 (model units): %+v", *car.Residual)
}

type diffStats struct{ rms, max float64 }

// interiorDiff compares two images away from a margin of m pixels, relative to 65535.
func interiorDiff(t *testing.T, a, b string, m int) diffStats {
	t.Helper()
	x, err := formats.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := formats.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	var d diffStats
	n := 0
	for r := m; r < x.H-m; r++ {
		for c := m; c < x.W-m; c++ {
			v := math.Abs(float64(x.Data[r*x.W+c]-y.Data[r*x.W+c])) / 65535
			d.rms += v * v
			d.max = max(d.max, v)
			n++
		}
	}
	d.rms = math.Sqrt(d.rms / float64(n))
	return d
}

// writeInputs writes a mixed set of observations into dir: a 37x23 uint16 TIFF (restored
// through reflection padding to 40x24), a 2-page uint16 stack, an 8-bit PNG, a float32 MRC
// stack of 3 and a float32 .npy in a subfolder. Values are noise around mid-range.
func writeInputs(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, f := range []struct {
		name    string
		w, h, n int
		typ     dtype.Type
		scale   float64
	}{
		{"a.tif", 37, 23, 1, dtype.Uint16, 65535}, {"b.tif", 20, 20, 2, dtype.Uint16, 65535}, {"c.png", 24, 24, 1, dtype.Uint8, 255},
		{"d.mrcs", 16, 16, 3, dtype.Float32, 3}, {"sub/f.npy", 16, 16, 1, dtype.Float32, 1},
	} {
		img := &formats.Image{W: f.w, H: f.h, C: 1, N: f.n, SourceType: f.typ, Data: make([]float32, f.w*f.h*f.n)}
		for i := range img.Data {
			img.Data[i] = float32(f.scale * (0.5 + 0.1*rng.NormFloat64()))
		}
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if _, err := formats.Write(p, img); err != nil {
			t.Fatal(err)
		}
	}
}

// sameOutputs compares two restore folders: every image file byte for byte, and every
// sidecar's settings and outputs (their timings differ).
func sameOutputs(t *testing.T, a, b string) {
	t.Helper()
	n := 0
	filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s: missing from %s", rel, b)
			return nil
		}
		n++
		if strings.HasSuffix(rel, ".json") {
			var cx, cy Sidecar
			json.Unmarshal(x, &cx)
			json.Unmarshal(y, &cy)
			if cx.Settings != cy.Settings || !slices.Equal(cx.Outputs, cy.Outputs) || cx.InputSHA256 != cy.InputSHA256 {
				t.Errorf("%s: sidecars differ:\n%s\n%s", rel, x, y)
			}
			return nil
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s", rel, a, b)
		}
		return nil
	})
	if n == 0 {
		t.Errorf("%s is empty", a)
	}
}

// TestRestoreResumesSkipsAndReportsFailures restores mixed files with a model trained for 3
// steps (quality is not the point): types and sizes come back, a broken file fails while the
// others go on, a rerun skips finished files and redoes a damaged output, a restore stopped
// after 2 files and run again ends with the same bytes as an uninterrupted one, tiles and DPS
// run, and an output folder holding the inputs is refused.
func TestRestoreResumesSkipsAndReportsFailures(t *testing.T) {
	tmp := t.TempDir()
	obs, _ := writeNoisyTIFFs(t, tmp, 4, 2, 32, 3)
	p, err := Parse("obs.yaml", []byte(observationsPipeline(obs, "", "  normalize: auto\n", 3)))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(tmp, "run")
	if _, err := Execute(context.Background(), p, Options{Out: run}); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(tmp, "in")
	writeInputs(t, in)
	os.WriteFile(filepath.Join(in, "e.tif"), []byte("II*\x00 not a tiff"), 0o644)
	ctx := context.Background()
	req := RestoreRequest{RunDir: run, Inputs: []string{in}, Out: filepath.Join(tmp, "A"), Draws: 2, Samples: 1}

	sum, err := Restore(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "1 of 6 files failed") || !strings.Contains(err.Error(), "e.tif") || sum.Restored != 5 {
		t.Fatalf("with a broken file: %+v, %v; want 5 restored and e.tif reported", sum, err)
	}
	for _, c := range []struct {
		name    string
		typ     dtype.Type
		w, h, n int
	}{
		{"a.tif", dtype.Uint16, 37, 23, 1}, {"b.tif", dtype.Uint16, 20, 20, 2}, {"c.png", dtype.Uint8, 24, 24, 1},
		{"std/c.tif", dtype.Float32, 24, 24, 1}, {"samples/c.tif", dtype.Uint8, 24, 24, 1}, {"d.mrcs", dtype.Float32, 16, 16, 3},
		{"samples/d.mrcs", dtype.Float32, 16, 16, 3}, {"samples/b.tif", dtype.Uint16, 20, 20, 2}, {"sub/f.npy", dtype.Float32, 16, 16, 1},
	} {
		img, err := formats.Read(filepath.Join(req.Out, filepath.FromSlash(c.name)))
		if err != nil || img.SourceType != c.typ || img.W != c.w || img.H != c.h || img.N != c.n {
			t.Errorf("%s: %v; want %v %dx%d x%d", c.name, err, c.typ, c.w, c.h, c.n)
			continue
		}
	}
	os.Remove(filepath.Join(in, "e.tif"))

	if sum, err = Restore(ctx, req); err != nil || sum.Skipped != 5 || sum.Restored != 0 {
		t.Errorf("rerun: %+v, %v; want all 5 skipped", sum, err)
	}
	damaged := filepath.Join(req.Out, "b.tif")
	good, _ := os.ReadFile(damaged)
	os.WriteFile(damaged, append(slices.Clone(good), 0), 0o644)
	if sum, err = Restore(ctx, req); err != nil || sum.Restored != 1 || sum.Skipped != 4 {
		t.Errorf("rerun with a damaged output: %+v, %v; want it restored again", sum, err)
	}
	if again, _ := os.ReadFile(damaged); !bytes.Equal(again, good) {
		t.Error("b.tif restored again differs from its first restoration")
	}

	stopped := req
	stopped.Out, stopped.stopAfter = filepath.Join(tmp, "B"), 2
	if _, err := Restore(ctx, stopped); !errors.Is(err, errStopped) {
		t.Fatalf("stopped restore: %v", err)
	}
	stale := filepath.Join(stopped.Out, ".d.mrcs.tmp-123") // what a kill during a write leaves
	os.WriteFile(stale, []byte("torn"), 0o644)
	stopped.stopAfter = 0
	if sum, err = Restore(ctx, stopped); err != nil || sum.Skipped != 2 || sum.Restored != 3 {
		t.Errorf("resumed restore: %+v, %v; want 2 skipped, 3 restored", sum, err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale temporary file of a killed write is still there")
	}
	sameOutputs(t, req.Out, stopped.Out)

	tiled := RestoreRequest{RunDir: run, Inputs: []string{filepath.Join(in, "a.tif")}, Out: filepath.Join(tmp, "T"), Draws: 2, Tiling: "tiles", Tile: 8, Overlap: 4}
	if _, err := Restore(ctx, tiled); err != nil {
		t.Errorf("tiles: %v", err)
	} else if img, err := formats.Read(filepath.Join(tiled.Out, "a.tif")); err != nil || img.W != 37 || img.H != 23 {
		t.Errorf("tiled a.tif: %v", err)
	}
	dps := RestoreRequest{RunDir: run, Inputs: []string{filepath.Join(in, "c.png")}, Out: filepath.Join(tmp, "D"), Method: "dps", Steps: 2, Tiling: "tiles"}
	if _, err := Restore(ctx, dps); err != nil {
		t.Errorf("dps: %v", err)
	} else if raw, err := os.ReadFile(filepath.Join(dps.Out, "c.png.json")); err != nil || !strings.Contains(string(raw), `"method": "dps"`) {
		t.Errorf("dps sidecar: %s, %v", raw, err)
	}

	if _, err := Restore(ctx, RestoreRequest{RunDir: run, Inputs: []string{in}, Out: in}); err == nil || !strings.Contains(err.Error(), "would overwrite input") {
		t.Errorf("output folder = input folder: %v", err)
	}
	// An input folder named std: the mean of std/a.tif and the std of a.tif would be one file.
	clash := filepath.Join(tmp, "clash")
	raw, _ := os.ReadFile(filepath.Join(in, "a.tif"))
	os.MkdirAll(filepath.Join(clash, "std"), 0o755)
	os.WriteFile(filepath.Join(clash, "a.tif"), raw, 0o644)
	os.WriteFile(filepath.Join(clash, "std", "a.tif"), raw, 0o644)
	out := filepath.Join(tmp, "C")
	if _, err := Restore(ctx, RestoreRequest{RunDir: run, Inputs: []string{clash}, Out: out}); err == nil || !strings.Contains(err.Error(), "would overwrite the output of") {
		t.Errorf("two inputs writing one output: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the refused restore wrote into its output folder")
	}
}
