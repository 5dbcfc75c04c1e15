package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
)

// writeImages writes image i of b as dir/names[i].
func writeImages(t *testing.T, dir string, b *batch.Batch, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if err := data.WritePNG(filepath.Join(dir, n), b.Image(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// clip01 clips b to [0, 1] in place, as writing a PNG would, and returns it.
func clip01(b *batch.Batch) *batch.Batch {
	for i, v := range b.Data {
		b.Data[i] = min(max(v, 0), 1)
	}
	return b
}

func TestComparePathsFolders(t *testing.T) {
	dir := t.TempDir()
	ref := smoothPattern(3, 24, 20, 3, 1)
	img := clip01(addNoise(ref, 0.1, 3))
	gray := smoothPattern(1, 24, 20, 1, 2)
	writeImages(t, filepath.Join(dir, "ref"), ref, "b.png", "a.png", "c.png")
	writeImages(t, filepath.Join(dir, "ref"), gray, "d.png")
	writeImages(t, filepath.Join(dir, "img"), img, "b.png", "a.png", "c.png")
	writeImages(t, filepath.Join(dir, "img"), gray, "d.png")
	t.Setenv(LPIPSWeightsEnv, filepath.Join(dir, "absent.safetensors"))
	res, err := ComparePaths(context.Background(), filepath.Join(dir, "ref"), filepath.Join(dir, "img"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pairs) != 4 || filepath.Base(res.Pairs[0].Ref) != "a.png" || filepath.Base(res.Pairs[3].Img) != "d.png" {
		t.Fatalf("pairs = %v, want a, b, c, d", res.Pairs)
	}
	byID := map[string]MetricResult{}
	for _, m := range res.Metrics {
		byID[m.ID] = m
	}
	for _, id := range []string{"metric.lpips", "metric.psnr", "metric.ssim"} {
		if _, ok := byID[id]; !ok {
			t.Errorf("default metrics lack %s: %+v", id, res.Metrics)
		}
	}
	if f := byID["metric.fid_mnist_classifier"]; !f.Set || f.Unavailable == "" || f.Summary != nil {
		t.Errorf("fid on images of two sizes: %+v, want an unavailable set metric", f)
	}
	if l := byID["metric.lpips"]; l.Unavailable == "" || l.Summary != nil || l.Values != nil {
		t.Errorf("lpips without weights: %+v, want unavailable with a reason and no values", l)
	}
	// values against Compute on the 8-bit images read back, in pair order a, b, c
	ssim := byID["metric.ssim"]
	order := []int{1, 0, 2} // files a, b, c hold images 1, 0, 2
	for k, i := range order {
		a, _ := data.ReadImageFile(res.Pairs[k].Ref, 3, 0)
		b, _ := data.ReadImageFile(res.Pairs[k].Img, 3, 0)
		want, _ := SSIM{Range: 1}.Compute(context.Background(), a, b)
		if ssim.Values[k] != want[0] {
			t.Errorf("pair %d (image %d): ssim %v, Compute on the files gives %v", k, i, ssim.Values[k], want[0])
		}
		if ssim.Values[k] > 0.95 || ssim.Values[k] < 0.2 {
			t.Errorf("pair %d: ssim %v out of the plausible range for noise 0.1", k, ssim.Values[k])
		}
	}
	if v := ssim.Values[3]; v != 1 { // identical gray files
		t.Errorf("identical gray pair: ssim %v, want 1", v)
	}
	if p := byID["metric.psnr"].Values[3]; !math.IsInf(p, 1) {
		t.Errorf("identical gray pair: psnr %v, want +Inf", p)
	}
	if s := ssim.Summary; s == nil || s.N != 4 {
		t.Errorf("ssim summary %+v, want N=4", s)
	}
}

func TestComparePathsFilesLPIPS(t *testing.T) {
	testLPIPS(t) // skips without weights
	dir := t.TempDir()
	ref := smoothPattern(1, 32, 32, 3, 4)
	writeImages(t, dir, ref, "ref.png")
	writeImages(t, dir, clip01(addNoise(ref, 0.2, 5)), "img.png")
	res, err := ComparePaths(context.Background(), filepath.Join(dir, "ref.png"), filepath.Join(dir, "img.png"), []string{"metric.lpips"})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Metrics[0]
	if m.Unavailable != "" || len(m.Values) != 1 || !(m.Values[0] > 0.05) {
		t.Errorf("lpips of a noisy pair: %+v", m)
	}
}

func TestComparePathsMismatch(t *testing.T) {
	dir := t.TempDir()
	imgs := smoothPattern(3, 16, 16, 1, 6)
	writeImages(t, filepath.Join(dir, "ref"), imgs, "a.png", "b.png", "c.png")
	writeImages(t, filepath.Join(dir, "img"), imgs, "a.png", "b.png", "x.png")
	writeImages(t, filepath.Join(dir, "few"), imgs, "a.png")
	writeImages(t, filepath.Join(dir, "dup"), imgs, "a.png", "b.png", "c.png")
	if err := data.WriteTIFF16(filepath.Join(dir, "dup", "a.tif"), imgs.Image(0)); err != nil {
		t.Fatal(err)
	}
	writeImages(t, filepath.Join(dir, "tif"), imgs, "b.png", "c.png")
	if err := data.WriteTIFF16(filepath.Join(dir, "tif", "a.tif"), imgs.Image(0)); err != nil {
		t.Fatal(err)
	}
	big := smoothPattern(1, 20, 16, 1, 7)
	writeImages(t, filepath.Join(dir, "big"), big, "a.png")
	writeImages(t, filepath.Join(dir, "big"), imgs, "b.png", "c.png")
	p := func(s ...string) string { return filepath.Join(append([]string{dir}, s...)...) }
	ctx := context.Background()
	ids := []string{"metric.psnr", "metric.ssim"}
	for _, c := range []struct {
		name, ref, img string
		want           []string // substrings of the error
	}{
		{"names differ", p("ref"), p("img"), []string{p("ref", "c.png"), p("img", "x.png")}},
		{"counts differ", p("ref"), p("few"), []string{"3 images", "1 images", p("ref", "b.png")}},
		{"duplicate stem", p("dup"), p("ref"), []string{"a.png and a.tif"}},
		{"size differs", p("ref"), p("big"), []string{p("ref", "a.png"), p("big", "a.png"), "16x20"}},
		{"file and folder", p("ref", "a.png"), p("img"), []string{"two image files or two folders"}},
		{"missing", p("nope"), p("img"), []string{"nope"}},
	} {
		_, err := ComparePaths(ctx, c.ref, c.img, ids)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", c.name, err, w)
			}
		}
	}
	// a.png pairs with a.tif (names pair without extension); 16-bit and 8-bit of one image
	res, err := ComparePaths(ctx, p("ref"), p("tif"), ids)
	if err != nil {
		t.Fatalf("png vs tif folders: %v", err)
	}
	if v := res.Metrics[1].Values[0]; !(v > 0.99) {
		t.Errorf("a.png vs a.tif of one image: ssim %v, want > 0.99", v)
	}
	if _, err := ComparePaths(ctx, p("ref"), p("tif"), []string{"metric.ssimm"}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("unknown metric: err = %v", err)
	}
}

// TestComparePathsSetMetrics scores two folders of 28x28 gray images with FID and KID: the
// folder against itself gives FID 0, against a noisy copy a positive FID, and each is one
// value for the whole folder.
func TestComparePathsSetMetrics(t *testing.T) {
	dir := t.TempDir()
	ref := smoothPattern(12, 28, 28, 1, 6)
	names := make([]string, ref.N)
	for i := range names {
		names[i] = fmt.Sprintf("%02d.png", i)
	}
	writeImages(t, filepath.Join(dir, "ref"), ref, names...)
	writeImages(t, filepath.Join(dir, "noisy"), clip01(addNoise(ref, 0.3, 7)), names...)
	ids := []string{"metric.fid_mnist_classifier", "metric.kid_mnist_classifier"}
	self, err := ComparePaths(context.Background(), filepath.Join(dir, "ref"), filepath.Join(dir, "ref"), ids)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ComparePaths(context.Background(), filepath.Join(dir, "ref"), filepath.Join(dir, "noisy"), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range self.Metrics {
		o := other.Metrics[i]
		if m.Summary == nil || o.Summary == nil || !m.Set || m.Values != nil || m.Summary.N != ref.N {
			t.Fatalf("%s: %+v / %+v, want one value over %d images", m.ID, m, o, ref.N)
		}
		if m.ID == ids[0] && (m.Summary.Mean > 1e-6 || !(o.Summary.Mean > 0.01)) {
			t.Errorf("fid: self %v, noisy %v; want 0 and positive", m.Summary.Mean, o.Summary.Mean)
		}
	}
}
