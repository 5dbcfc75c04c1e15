package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// Synthetic observations for the tests: clean microtubule images (core/data) mapped to
// [0.2, 0.8] of the 16-bit range (so that Gaussian noise of sigma 0.1 clips in about 0.1% of
// the pixels, beyond 3 sigma), plus that noise, written as uint16 TIFFs; the clean images are
// written alongside for scoring, never for training.
const (
	obsSigma  = 0.1
	obsOffset = 0.2
	obsGain   = 0.6
)

// writeNoisyTIFFs writes files noisy uint16 TIFFs of side x side pixels into dir/obs and
// their clean originals into dir/clean (names img00.tif, ...); pages > 1 makes each file a
// stack of that many images. It returns the two folders.
func writeNoisyTIFFs(t testing.TB, dir string, files, pages, side int, seed int64) (obs, clean string) {
	t.Helper()
	obs, clean = filepath.Join(dir, "obs"), filepath.Join(dir, "clean")
	set, err := data.Synthetic(data.SyntheticOptions{Height: side, Width: side}, files*pages, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 99))
	n := side * side * pages
	for f := range files {
		c := &formats.Image{W: side, H: side, C: 1, N: pages, SourceType: dtype.Uint16, Data: make([]float32, n)}
		y := &formats.Image{W: side, H: side, C: 1, N: pages, SourceType: dtype.Uint16, Data: make([]float32, n)}
		for i := range n {
			v := obsOffset + obsGain*float64(set.Images.Data[f*n+i])
			c.Data[i] = float32(v * 65535)
			y.Data[i] = float32((v + obsSigma*rng.NormFloat64()) * 65535)
		}
		name := fmt.Sprintf("img%02d.tif", f)
		for _, w := range []struct {
			dir string
			img *formats.Image
		}{{obs, y}, {clean, c}} {
			if err := os.MkdirAll(w.dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := formats.Write(filepath.Join(w.dir, name), w.img); err != nil {
				t.Fatal(err)
			}
		}
	}
	return obs, clean
}

// observationsPipeline is a tiny training pipeline on the observations in obs (references
// in ref when not empty); extra is appended to the data section.
func observationsPipeline(obs, ref, extra string, steps int) string {
	refLine := ""
	if ref != "" {
		refLine = "  reference_path: " + ref + "\n"
	}
	return fmt.Sprintf(`version: 1
name: observed
seed: 5
data:
  source: observations
  path: %s
%s  size: 16
  patches: 4
  train: 24
  test: 8
%scorruption:
  - op: noise.gaussian
    sigma: %g
train:
  batch: 4
  steps: %d
  warmup: 1
  prior_warmup: 1
  checkpoint_every: 50
  posterior_samples: 2
  flow: {levels: 2, steps: 1, hidden: 8, cond_hidden: 4}
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
evaluate: {metrics: [metric.psnr, metric.ssim]}
report: {grid: 4}
`, obs, refLine, extra, obsSigma, steps)
}

// TestObservationsRun trains on observations that arrive noisy, with and without references.
// It checks that the stored observations are the files' values as read (normalized by the
// 16-bit range, to float32 precision), that scaling.json records each file's normalization,
// that with references the observations' PSNR is that of Gaussian noise of sigma 0.1
// (20 dB, within 0.6 dB over 8 patches of 256 pixels, a few of them clipped), and that
// without references the metrics are skipped with a note while the residual diagnostics run.
func TestObservationsRun(t *testing.T) {
	tmp := t.TempDir()
	obs, clean := writeNoisyTIFFs(t, tmp, 4, 2, 32, 1)
	for _, withRef := range []bool{true, false} {
		t.Run(fmt.Sprintf("references=%v", withRef), func(t *testing.T) {
			ref := ""
			if withRef {
				ref = clean
			}
			p, err := Parse("obs.yaml", []byte(observationsPipeline(obs, ref, "", 3)))
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "run")
			if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
				t.Fatal(err)
			}
			set, err := corrupt.Read(filepath.Join(dir, testStore))
			if err != nil {
				t.Fatal(err)
			}
			if set.Observations.N != 8 || set.Observations.H != 16 {
				t.Fatalf("test observations %s, want 8 of 16x16", set.Observations.Shape)
			}
			checkStoredAsRead(t, obs, set.Observations.Data)
			var rec ScalingRecord
			raw, err := os.ReadFile(ScalingPath(dir))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &rec); err != nil || len(rec.Files) != 4 || rec.Files["img03.tif"].Scale != 65535 || rec.Files["img03.tif"].Mode != formats.Range {
				t.Errorf("scaling.json: %s (%v)", raw, err)
			}
			m := readMetrics(t, dir)
			if _, ok := m.Residual["posterior_mean"]; !ok {
				t.Errorf("no residual diagnostics of the posterior mean: %+v", m.Residual)
			}
			if withRef {
				if got := m.Metrics["psnr.input"]; math.Abs(got-20) > 0.6 {
					t.Errorf("psnr.input = %.2f dB, want 20 +- 0.6 (sigma 0.1)", got)
				}
				if _, ok := m.Metrics["psnr.posterior_mean"]; !ok {
					t.Error("no psnr.posterior_mean with references")
				}
				return
			}
			if len(m.Metrics) != 0 || !strings.Contains(m.Notes["psnr"], "no clean references") {
				t.Errorf("without references: metrics %v, notes %v; want none and a note", m.Metrics, m.Notes)
			}
			html, err := os.ReadFile(filepath.Join(dir, ReportHTML))
			if err != nil || !strings.Contains(string(html), "observation") {
				t.Errorf("report without references lacks the observation grid (%v)", err)
			}
		})
	}
}

// checkStoredAsRead checks that every stored value is some pixel of the observation files
// divided by 65535 (the patches' positions are random, so by value: each stored value must
// be one of the files' values, exactly as float32 division gives it).
func checkStoredAsRead(t *testing.T, dir string, stored []float32) {
	t.Helper()
	values := map[float32]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tif"))
	for _, f := range files {
		img, err := formats.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range img.Data {
			values[float32(float64(v)/65535)] = true
		}
	}
	for i, v := range stored {
		if !values[v] {
			t.Fatalf("stored observation value %d = %v is no file value / 65535: the observations were changed", i, v)
		}
	}
}

// TestObservationsNameTheMistake runs the data and corrupt stages of pipelines with a mistake
// in how the observations and the declared forward model fit together.
func TestObservationsNameTheMistake(t *testing.T) {
	tmp := t.TempDir()
	obs, clean := writeNoisyTIFFs(t, tmp, 2, 1, 16, 2)
	extraRef := filepath.Join(tmp, "refs")
	os.MkdirAll(extraRef, 0o755)
	for _, f := range []string{"img00.tif", "img01.tif", "img07.tif"} {
		raw, _ := os.ReadFile(filepath.Join(clean, "img00.tif"))
		os.WriteFile(filepath.Join(extraRef, f), raw, 0o644)
	}
	base := func(path, ref, data, corruption string) string {
		refLine := ""
		if ref != "" {
			refLine = "  reference_path: " + ref + "\n"
		}
		return fmt.Sprintf("version: 1\nname: x\ndata:\n  source: observations\n  path: %s\n%s  size: 16\n  train: 1\n  test: 1\n%scorruption:\n%s", path, refLine, data, corruption)
	}
	gauss := "  - op: noise.gaussian\n"
	smallMask := filepath.Join(tmp, "mask8.npy")
	if _, err := formats.Write(smallMask, &formats.Image{W: 8, H: 8, C: 1, N: 1, SourceType: dtype.Float32, Data: make([]float32, 64)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"operator output shape", base(obs, "", "", "  - op: op.downsample\n    factor: 2\n"+gauss),
			"maps a 16x16 clean image to 8x8 observations"},
		{"random per-sample mask", base(obs, "", "", "  - op: mask.random\n"+gauss),
			"corruption[0] (mask.random): draws random per-sample parameters"},
		{"reference without observation", base(obs, extraRef, "", gauss), "data.reference_path: 1 reference(s) with no observation of the same name: img07.tif"},
		{"missing path", base(filepath.Join(tmp, "nowhere"), "", "", gauss), "data.path: " + filepath.Join(tmp, "nowhere") + ": no such file or folder"},
		{"empty folder", base(t.TempDir(), "", "", gauss), "no image file"},
		{"unknown extension", base(filepath.Join(tmp, "notes.txt"), "", "", gauss), `extension ".txt" unknown`},
		{"size differs", base(obs, "", "", gauss), "data.path: img00.tif: 16x16"}, // data.size set to 8 below
		{"float files by range", base(writeFloat(t, tmp), "", "", gauss), "float32 has no fixed range"},
		{"mask of another size", base(obs, "", "", "  - op: mask.file\n    path: "+smallMask+"\n"+gauss),
			"mask file " + smallMask + " is 8x8 (width x height) but the images (img00.tif) are 16x16: the mask must have the observations' size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(tmp, "notes.txt"), []byte("x"), 0o644)
			p, err := Parse("x.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "size differs" {
				p.Data.Size = 8
			}
			_, err = Execute(context.Background(), p.Only("data", "corrupt"), Options{Out: filepath.Join(t.TempDir(), "run")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// writeFloat writes one float32 TIFF into dir/float and returns that folder.
func writeFloat(t *testing.T, dir string) string {
	d := filepath.Join(dir, "float")
	os.MkdirAll(d, 0o755)
	img := &formats.Image{W: 16, H: 16, C: 1, N: 1, SourceType: dtype.Float32, Data: make([]float32, 256)}
	if _, err := formats.Write(filepath.Join(d, "f.tif"), img); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestObservationsAutoSigma declares the observations' noise as sigma: auto: the run estimates
// it from the training observations (core/noiseest, in normalized units), writes it into its
// pipeline.yaml, and stores the observations as read. The files carry sigma 0.1 (a few pixels
// clipped); the bound, 15%, leaves room for the filaments' edges, which the estimators
// discount but not entirely on 16x16 patches (measured: 0.0964).
func TestObservationsAutoSigma(t *testing.T) {
	obs, _ := writeNoisyTIFFs(t, t.TempDir(), 4, 2, 32, 4)
	y := strings.Replace(observationsPipeline(obs, "", "", 3), fmt.Sprintf("sigma: %g", obsSigma), "sigma: auto", 1)
	p, err := Parse("auto.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p.Only("data", "corrupt"), Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	resolved, err := Load(filepath.Join(dir, PipelineFileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("estimated: %+v", resolved.Estimated)
	if len(resolved.Estimated) != 1 || math.Abs(resolved.Estimated[0].Value-obsSigma) > 0.15*obsSigma {
		t.Errorf("estimated %+v, want sigma within 15%% of %g", resolved.Estimated, obsSigma)
	}
	set, err := corrupt.Read(filepath.Join(dir, trainStore))
	if err != nil {
		t.Fatal(err)
	}
	checkStoredAsRead(t, obs, set.Observations.Data)
}

// TestObservationsFileMask declares a measured mask per observation file (mask.file with a
// folder, matched by name) for observations cut into patches: each stored patch's mask must
// be its own file's mask cut at the patch's position, which the test finds by locating the
// patch's values in the files.
func TestObservationsFileMask(t *testing.T) {
	tmp := t.TempDir()
	obs, _ := writeNoisyTIFFs(t, tmp, 2, 1, 32, 3)
	masks := filepath.Join(tmp, "masks")
	os.MkdirAll(masks, 0o755)
	mask := map[string][]float32{}
	for f, keep := range []func(y, x int) bool{
		func(y, x int) bool { return (x+2*y)%5 != 0 },
		func(y, x int) bool { return y < 20 || x > 9 },
	} {
		name := fmt.Sprintf("img%02d", f)
		m := make([]float32, 32*32)
		for i := range m {
			if keep(i/32, i%32) {
				m[i] = 1
			}
		}
		mask[name] = m
		if _, err := formats.Write(filepath.Join(masks, name+".npy"), &formats.Image{W: 32, H: 32, C: 1, N: 1, SourceType: dtype.Float32, Data: m}); err != nil {
			t.Fatal(err)
		}
	}
	yaml := fmt.Sprintf("version: 1\nname: x\ndata:\n  source: observations\n  path: %s\n  size: 16\n  patches: 3\n  train: 4\n  test: 2\ncorruption:\n  - op: mask.file\n    path: %s\n  - op: noise.gaussian\n    sigma: 0.1\n", obs, masks)
	p, err := Parse("x.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p.Only("data", "corrupt"), Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	files := map[string][]float32{}
	for _, name := range []string{"img00", "img01"} {
		img, err := formats.Read(filepath.Join(obs, name+".tif"))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range img.Data {
			img.Data[i] = float32(float64(v) / 65535)
		}
		files[name] = img.Data
	}
	for _, store := range []string{trainStore, testStore} {
		set, err := corrupt.Read(filepath.Join(dir, store))
		if err != nil {
			t.Fatal(err)
		}
		got := set.Params["0."+"mask"]
		if got == nil {
			t.Fatalf("%s: no stored mask (params %v)", store, set.Params.Keys())
		}
		for n := range set.Observations.N {
			patch := set.Observations.Data[n*256 : (n+1)*256]
			name, y0, x0 := locate(files, patch)
			if name == "" {
				t.Fatalf("%s: patch %d not found in the observation files", store, n)
			}
			for i, v := range got.Data[n*256 : (n+1)*256] {
				if want := mask[name][(y0+i/16)*32+x0+i%16]; v != want {
					t.Fatalf("%s: patch %d (%s at %d,%d): mask pixel (%d,%d) = %v, want the mask file's %v", store, n, name, y0, x0, i/16, i%16, v, want)
				}
			}
		}
	}
}

// locate finds the 16x16 patch among the 32x32 files: the file and top-left pixel.
func locate(files map[string][]float32, patch []float32) (string, int, int) {
	for name, f := range files {
		for y0 := range 17 {
		next:
			for x0 := range 17 {
				for i, v := range patch {
					if f[(y0+i/16)*32+x0+i%16] != v {
						continue next
					}
				}
				return name, y0, x0
			}
		}
	}
	return "", 0, 0
}
