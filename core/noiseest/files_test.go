package noiseest

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// writeNoisy writes n gradient images of side 128 with N(0, sigma²) noise as 16-bit TIFFs
// (quantization 1/65535, negligible) into dir, values kept inside [0, 1] by the signal range.
func writeNoisy(t *testing.T, dir string, n int, sigma float64, seed uint64) {
	t.Helper()
	for k, p := range addGaussian(gradients(n, 128, seed), sigma, seed+1) {
		b, _ := batch.FromData(batch.Shape{N: 1, H: p.H, W: p.W, C: 1}, p.Data)
		if err := data.WriteTIFF16(filepath.Join(dir, "img"+string(rune('a'+k))+".tif"), b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEstimatePaths(t *testing.T) {
	dir := t.TempDir()
	writeNoisy(t, dir, 3, 0.05, 9)
	files, err := ExpandPaths([]string{dir}, false)
	if err != nil || len(files) != 3 {
		t.Fatalf("ExpandPaths: %v %v", files, err)
	}
	load, err := DataLoader("")
	if err != nil {
		t.Fatal(err)
	}
	r, err := EstimatePaths(files, load, PathOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Files) != 3 || r.Pooled.Gaussian.Images != 3 {
		t.Fatalf("%d files, pooled over %d images; want 3 and 3", len(r.Files), r.Pooled.Gaussian.Images)
	}
	// 3 x 128² pixels of gradient: within 5% as the accuracy table finds for larger sets.
	if got := r.Pooled.Gaussian.Sigma; math.Abs(got/0.05-1) > 0.05 {
		t.Errorf("pooled sigma %.5f, want 0.05 within 5%%", got)
	}
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "pooled (3 files)") || !strings.Contains(text.String(), "imgc.tif") {
		t.Errorf("text report lacks the pooled or per-file lines:\n%s", text.String())
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Pooled.Gaussian.Sigma != r.Pooled.Gaussian.Sigma {
		t.Errorf("JSON round trip: %v, sigma %v", err, back.Pooled.Gaussian)
	}
	pg, err := EstimatePaths(files, load, PathOptions{Model: ModelPoissonGaussian})
	if err != nil || pg.Pooled.PG == nil || pg.Pooled.Gaussian != nil {
		t.Fatalf("poisson-gaussian report: %+v, %v", pg, err)
	}
	// Gaussian noise is the model with a = 0 and b = 0.05² = 2.5e-3: the variance predicted at
	// intensity 0.5 must be 2.5e-3 within 10%, and a within 3 standard errors of 0 (on 3 small
	// images a and b are only loosely told apart).
	if e := pg.Pooled.PG; math.Abs((e.A*0.5+e.B)/2.5e-3-1) > 0.1 || e.A > 3*e.StdErrA {
		t.Errorf("poisson-gaussian on Gaussian noise: a %.3g ± %.2g, b %.3g; want a·0.5 + b = 2.5e-3 and a ≈ 0", e.A, e.StdErrA, e.B)
	}
}

// TestDataLoaderChannels: an RGB PNG gives three planes, a gray one (or RGB with equal
// channels) one.
func TestDataLoaderChannels(t *testing.T) {
	dir := t.TempDir()
	rgb := batch.New(1, 16, 16, 3)
	for i := range rgb.Data {
		rgb.Data[i] = float32(i%7) / 7
	}
	grayRGB := batch.New(1, 16, 16, 3)
	for i := range grayRGB.Data {
		grayRGB.Data[i] = float32((i/3)%5) / 5
	}
	for name, b := range map[string]*batch.Batch{"rgb.png": rgb, "gray.png": grayRGB} {
		if err := data.WritePNG(filepath.Join(dir, name), b); err != nil {
			t.Fatal(err)
		}
	}
	load, _ := DataLoader(data.PercentileNormalization)
	for name, want := range map[string]int{"rgb.png": 3, "gray.png": 1} {
		b, err := load(filepath.Join(dir, name))
		if err != nil || b.C != want {
			t.Errorf("%s: %v channels, err %v; want %d", name, b, err, want)
		}
	}
	if _, err := DataLoader("gamma"); err == nil {
		t.Error("normalize gamma accepted")
	}
}

// TestDataLoaderTIFFStack: every page of a multi-page 16-bit TIFF is an image, as in a
// pipeline's folder source; the stack's two pages carry noise of sigma 0.05 (seeded).
func TestDataLoaderTIFFStack(t *testing.T) {
	pages := addGaussian(gradients(2, 96, 4), 0.05, 5)
	img := &formats.Image{W: 96, H: 96, C: 1, N: 2, SourceType: dtype.Uint16}
	for _, p := range pages {
		for _, v := range p.Data {
			img.Data = append(img.Data, float32(math.Round(float64(v)*65535)))
		}
	}
	path := filepath.Join(t.TempDir(), "stack.tif")
	if _, err := formats.Write(path, img); err != nil {
		t.Fatal(err)
	}
	load, _ := DataLoader("")
	b, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.N != 2 || b.C != 1 || b.H != 96 {
		t.Fatalf("stack read as %s, want [2,96,96,1]", b.Shape)
	}
	for i, v := range b.Image(1).Data {
		if math.Abs(float64(v-pages[1].Data[i])) > 1.0/65535 {
			t.Fatalf("page 1 value %d: %v, want %v", i, v, pages[1].Data[i])
		}
	}
}

func TestPathErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := ExpandPaths([]string{empty}, false); err == nil || !strings.Contains(err.Error(), "no .png") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := ExpandPaths([]string{filepath.Join(empty, "missing.png")}, false); err == nil {
		t.Error("missing file accepted")
	}
	bad := filepath.Join(empty, "bad.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	load, _ := DataLoader("")
	if _, err := EstimatePaths([]string{bad}, load, PathOptions{}); err == nil || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("corrupt file: %v, want an error naming it", err)
	}
	if _, err := EstimatePaths([]string{bad}, load, PathOptions{Model: "laplace"}); err == nil || !strings.Contains(err.Error(), "laplace") {
		t.Errorf("unknown model: %v", err)
	}
}
