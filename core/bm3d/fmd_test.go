package bm3d

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/metrics"
	"github.com/flowdiff/flowdiff-go/core/noiseest"
)

// The FMD comparison of docs/restore.md: BM3D on the four confocal captures the FlowDiff
// example (pipelines/examples/fmd-denoise.yaml) is scored on, against their 50-frame
// averages, with the noise parameters taken from the noisy captures alone:
//
//	go test ./core/bm3d -run TestFMDTable -v [-update]
var fmdFiles = []string{"Confocal_BPAE_B.tif", "Confocal_BPAE_G.tif", "Confocal_BPAE_R.tif", "Confocal_mice.tif"}

// fmdExample reads the Poisson-Gaussian model the FlowDiff example declares (gain, sigma,
// offset of its noise.poisson_gaussian), so both methods see the same noise parameters.
func fmdExample(t *testing.T) (a, sigma, offset float64) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "pipelines", "examples", "fmd-denoise.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Corruption []struct {
			Op     string  `yaml:"op"`
			Gain   float64 `yaml:"gain"`
			Sigma  float64 `yaml:"sigma"`
			Offset float64 `yaml:"offset"`
		} `yaml:"corruption"`
	}
	if err := yaml.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Corruption {
		if c.Op == "noise.poisson_gaussian" {
			return c.Gain, c.Sigma, c.Offset
		}
	}
	t.Fatal("fmd-denoise.yaml declares no noise.poisson_gaussian")
	return
}

// readUnit reads a one-page gray 8-bit file as [0, 1] (value/255).
func readUnit(t *testing.T, path string) ([]float32, int, int) {
	img, err := formats.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if img.N != 1 || img.C != 1 {
		t.Fatalf("%s: %d pages of %d channels, want one gray image", path, img.N, img.C)
	}
	for i, v := range img.Data {
		img.Data[i] = v / 255
	}
	return img.Data, img.H, img.W
}

// to8bit rounds to the 8-bit steps `flowdiff bm3d` writes for 8-bit input.
func to8bit(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(math.Round(math.Min(math.Max(float64(v)*255, 0), 255)) / 255)
	}
	return out
}

type fmdRow struct {
	name        string
	psnr, ssim  []float64
	params      []string
	secPerImage float64
}

func TestFMDTable(t *testing.T) {
	if testing.Short() {
		t.Skip("12 BM3D runs on 512x512 images (a few CPU-minutes); run without -short")
	}
	dir := sharedData(t, "fmd")
	a, sigma, offset := fmdExample(t)
	ctx := context.Background()
	rows := []*fmdRow{
		{name: "noisy capture"},
		{name: "BM3D, Gaussian σ from `estimate-noise` (wavelet-mad-screened) per image"},
		{name: fmt.Sprintf("BM3D + generalized Anscombe, the example's (gain %g, sigma %g, offset %g)", a, sigma, offset)},
		{name: "BM3D + generalized Anscombe, (a, b) from `estimate-noise --model poisson-gaussian` per image (offset 0)"},
	}
	score := func(r *fmdRow, ref, img []float32, h, w int) {
		rb, ib := &batch.Batch{Shape: batch.Shape{N: 1, H: h, W: w, C: 1}, Data: ref}, &batch.Batch{Shape: batch.Shape{N: 1, H: h, W: w, C: 1}, Data: img}
		p, err := metrics.PSNR{Range: 1}.Compute(ctx, rb, ib)
		if err != nil {
			t.Fatal(err)
		}
		s, err := metrics.SSIM{Range: 1}.Compute(ctx, rb, ib)
		if err != nil {
			t.Fatal(err)
		}
		r.psnr, r.ssim = append(r.psnr, p[0]), append(r.ssim, s[0])
	}
	for _, f := range fmdFiles {
		y, h, w := readUnit(t, filepath.Join(dir, "noisy", f))
		x, _, _ := readUnit(t, filepath.Join(dir, "clean", f))
		score(rows[0], x, y, h, w)
		planes := []noiseest.Plane{{H: h, W: w, Data: y}}
		ge, err := noiseest.EstimateGaussian(planes, noiseest.GaussianOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pe, err := noiseest.EstimatePoissonGaussian(planes, noiseest.PGOptions{})
		if err != nil {
			t.Fatal(err)
		}
		runs := []struct {
			row    *fmdRow
			param  string
			denois func() ([]float32, error)
		}{
			{rows[1], fmt.Sprintf("σ %.4f", ge.Sigma), func() ([]float32, error) { return Denoise(ctx, y, h, w, Options{Sigma: ge.Sigma}) }},
			{rows[2], "", func() ([]float32, error) {
				return DenoisePG(ctx, y, h, w, PGOptions{A: a, Sigma: sigma, Offset: offset})
			}},
			{rows[3], fmt.Sprintf("a %.4f, b %.1e", pe.A, pe.B), func() ([]float32, error) {
				return DenoisePG(ctx, y, h, w, PGOptions{A: pe.A, Sigma: math.Sqrt(pe.B)})
			}},
		}
		for _, r := range runs {
			start := time.Now()
			d, err := r.denois()
			if err != nil {
				t.Fatalf("%s, %s: %v", f, r.row.name, err)
			}
			r.row.secPerImage += time.Since(start).Seconds() / float64(len(fmdFiles))
			score(r.row, x, to8bit(d), h, w)
			if r.param != "" {
				r.row.params = append(r.row.params, r.param)
			}
		}
	}
	// Every BM3D variant must beat the noisy capture on average: a sanity bound, not a target.
	for _, r := range rows[1:] {
		if mean(r.psnr) <= mean(rows[0].psnr) {
			t.Errorf("%s: mean PSNR %.2f dB does not beat the noisy captures' %.2f", r.name, mean(r.psnr), mean(rows[0].psnr))
		}
	}
	var b strings.Builder
	b.WriteString("| | PSNR (dB) per image: BPAE B, G, R, mice | mean PSNR | mean SSIM | time per image | noise parameters per image |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		ps := make([]string, len(r.psnr))
		for i, p := range r.psnr {
			ps[i] = fmt.Sprintf("%.2f", p)
		}
		tm := "—"
		if r.secPerImage > 0 {
			tm = fmt.Sprintf("%.1f s", r.secPerImage)
		}
		par := strings.Join(r.params, "; ")
		if par == "" {
			par = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.3f | %s | %s |\n", r.name, strings.Join(ps, ", "), mean(r.psnr), mean(r.ssim), tm, par)
	}
	fmt.Fprintf(&b, "\nPSNR with data range 1 on [0, 1] intensities (value/255, the same as peak 255 on the 8-bit values), SSIM as `metric.ssim`; "+
		"BM3D outputs rounded to 8 bits as `flowdiff bm3d` writes them. %s. Generated by `go test ./core/bm3d -run TestFMDTable -update`.\n", machine())
	t.Log("\n" + b.String())
	if *update && !t.Failed() {
		writeDocSectionIn(t, "restore.md", "fmd", b.String())
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
