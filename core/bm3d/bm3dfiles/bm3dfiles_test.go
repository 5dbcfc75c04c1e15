package bm3dfiles

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/bm3d"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/randx"
)

const h, w = 32, 40

// clean is a smooth test scene in [0.1, 0.9] with one edge.
func clean(y, x int) float64 {
	v := 0.3 + 0.3*float64(x)/w
	if y > h/2 {
		v += 0.3
	}
	return v
}

// noisy returns clean + sigma n, seeded.
func noisy(sigma float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, h*w)
	for i := range out {
		out[i] = clean(i/w, i%w) + sigma*rng.NormFloat64()
	}
	return out
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readPNGFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// rmse255 is the RMS error, in 8-bit levels, of the gray (or red, not premultiplied) channel
// of img against clean.
func rmse255(img image.Image) float64 {
	var s float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64).R
			d := float64(r)/65535 - clean(y, x)
			s += d * d
		}
	}
	return 255 * math.Sqrt(s/(h*w))
}

func clip(v float64) float64 { return math.Min(math.Max(v, 0), 1) }

// TestPNGTypes: each PNG kind comes back in its own bit depth (gray as gray), less noisy, the
// input file unchanged; JPEG comes back as PNG.
func TestPNGTypes(t *testing.T) {
	const sigma = 20.0 / 255
	z := noisy(sigma, 1)
	gray := image.NewGray(image.Rect(0, 0, w, h))
	gray16 := image.NewGray16(image.Rect(0, 0, w, h))
	rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgb16 := image.NewRGBA64(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), nil)
	for i := 0; i < 256; i++ {
		pal.Palette = append(pal.Palette, color.RGBA{uint8(i), uint8(i), uint8(i), 255})
	}
	for i, v := range z {
		x, y := i%w, i/w
		q8, q16 := uint8(math.Round(clip(v)*255)), uint16(math.Round(clip(v)*65535))
		gray.SetGray(x, y, color.Gray{q8})
		gray16.SetGray16(x, y, color.Gray16{q16})
		rgba.SetNRGBA(x, y, color.NRGBA{q8, q8, q8, uint8(100 + x)})
		rgb16.SetRGBA64(x, y, color.RGBA64{q16, q16, q16, 0xffff})
		pal.SetColorIndex(x, y, q8)
	}
	dir, out := t.TempDir(), t.TempDir()
	cases := []struct {
		file string
		img  image.Image
		want string // Go type of the decoded output
	}{
		{"gray.png", gray, "*image.Gray"},
		{"gray16.png", gray16, "*image.Gray16"},
		{"rgba.png", rgba, "*image.RGBA"}, // alpha dropped (core/formats)
		{"rgb16.png", rgb16, "*image.RGBA64"},
		{"pal.png", pal, "*image.RGBA"},
	}
	var inputs []string
	before := map[string][]byte{}
	for _, c := range cases {
		p := filepath.Join(dir, c.file)
		writePNG(t, p, c.img)
		inputs = append(inputs, p)
		before[p], _ = os.ReadFile(p)
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, gray, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "photo.jpg"), jb.Bytes(), 0o644)
	inputs = append(inputs, filepath.Join(dir, "photo.jpg"))
	jobs, err := Plan(inputs, out, sigma)
	if err != nil {
		t.Fatal(err)
	}
	if failed := Run(context.Background(), jobs, Options{Sigma: sigma}); len(failed) > 0 {
		t.Fatalf("failures: %v", failed)
	}
	for _, c := range cases {
		got := readPNGFile(t, filepath.Join(out, c.file))
		if typ := fmt.Sprintf("%T", got); typ != c.want {
			t.Errorf("%s: output decodes as %s, want %s", c.file, typ, c.want)
		}
		in, den := rmse255(c.img), rmse255(got)
		t.Logf("%s: RMSE %.2f -> %.2f levels", c.file, in, den)
		if den > 0.5*in {
			t.Errorf("%s: RMSE %.2f levels after denoising, %.2f before; want at most half", c.file, den, in)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, c.file)); !bytes.Equal(data, before[filepath.Join(dir, c.file)]) {
			t.Errorf("%s: the input file changed", c.file)
		}
	}
	if got := readPNGFile(t, filepath.Join(out, "photo.png")); fmt.Sprintf("%T", got) != "*image.Gray" || rmse255(got) > 0.5*rmse255(gray) {
		t.Errorf("photo.jpg: output %T with RMSE %.2f levels, want a less noisy gray PNG", got, rmse255(got))
	}
	// The 8-bit gray output is the quantized BM3D estimate of the input levels.
	b := batch.New(1, h, w, 1)
	for i, v := range gray.Pix {
		b.Data[i] = float32(v) / 255
	}
	want, err := bm3d.DenoiseBatch(context.Background(), b, bm3d.Options{Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	g := readPNGFile(t, filepath.Join(out, "gray.png")).(*image.Gray)
	for i, v := range want.Data {
		if q := uint8(math.Round(clip(float64(v)) * 255)); g.Pix[i] != q {
			t.Fatalf("gray.png pixel %d = %d, BM3D gives %d", i, g.Pix[i], q)
		}
	}
}

// TestNPY: (H, W) and (N, H, W, C) arrays keep their shape and carry the BM3D estimate in the
// stored units (here [0, 255] with Peak 255), unclipped.
func TestNPY(t *testing.T) {
	const sigma = 15.0
	dir, out := t.TempDir(), t.TempDir()
	z := noisy(sigma/255, 2)
	plane := make([]float32, h*w)
	for i, v := range z {
		plane[i] = float32(255 * v)
	}
	stack := make([]float32, 2*h*w*3) // N=2, C=3: six copies with different scales
	for n := 0; n < 2; n++ {
		for i, v := range plane {
			for c := 0; c < 3; c++ {
				stack[((n*h*w)+i)*3+c] = v * float32(1+n+c) / 4
			}
		}
	}
	if err := npy.WriteFile(filepath.Join(dir, "a.npy"), []int{h, w}, plane); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(filepath.Join(dir, "b.npy"), []int{2, h, w, 3}, stack); err != nil {
		t.Fatal(err)
	}
	jobs, err := Plan([]string{dir}, out, sigma)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("folder input: %d jobs, want 2", len(jobs))
	}
	if failed := Run(context.Background(), jobs, Options{Sigma: sigma, Peak: 255}); len(failed) > 0 {
		t.Fatalf("failures: %v", failed)
	}
	a, err := npy.ReadFile(filepath.Join(out, "a.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := bm3d.Denoise(context.Background(), plane, h, w, bm3d.Options{Sigma: sigma, Peak: 255})
	if len(a.Shape) != 2 || a.Shape[0] != h || a.Shape[1] != w {
		t.Fatalf("a.npy: shape %v, want [%d %d]", a.Shape, h, w)
	}
	for i, v := range want {
		if a.Data[i] != v {
			t.Fatalf("a.npy[%d] = %v, BM3D gives %v", i, a.Data[i], v)
		}
	}
	b, err := npy.ReadFile(filepath.Join(out, "b.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Shape) != 4 || b.Shape[0] != 2 || b.Shape[3] != 3 {
		t.Fatalf("b.npy: shape %v, want [2 %d %d 3]", b.Shape, h, w)
	}
}

// TestPlanRefusals: the usage errors, each before any work.
func TestPlanRefusals(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "x.png")
	writePNG(t, p, image.NewGray(image.Rect(0, 0, 16, 16)))
	q := filepath.Join(other, "x.png")
	writePNG(t, q, image.NewGray(image.Rect(0, 0, 16, 16)))
	txt := filepath.Join(dir, "notes.txt")
	os.WriteFile(txt, []byte("hi"), 0o644)
	for _, c := range []struct {
		name   string
		inputs []string
		out    string
		sigma  float64
		want   string
	}{
		{"overwrite", []string{p}, dir, 0.1, "is the input itself"},
		{"overwrite via folder", []string{dir}, dir + "/.", 0.1, "is the input itself"},
		{"same names", []string{p, q}, t.TempDir(), 0.1, "have the same output name"},
		{"8-bit sigma", []string{p}, t.TempDir(), 25, "--sigma 0.098"},
		{"type", []string{txt}, t.TempDir(), 0.1, `extension ".txt" unknown`},
		{"no out", []string{p}, "", 0.1, "give --out"},
		{"out is a file", []string{p}, txt, 0.1, "is a file"},
		{"missing", []string{filepath.Join(dir, "nope.png")}, t.TempDir(), 0.1, "no such file"},
	} {
		_, err := Plan(c.inputs, c.out, c.sigma)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestRunGoesOn: a broken file is reported and the others are still written.
func TestRunGoesOn(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	small := filepath.Join(dir, "small.png")
	writePNG(t, small, image.NewGray(image.Rect(0, 0, 4, 4)))
	good := filepath.Join(dir, "good.png")
	writePNG(t, good, image.NewGray(image.Rect(0, 0, 16, 16)))
	jobs, err := Plan([]string{bad, small, good}, out, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	failed := Run(context.Background(), jobs, Options{Sigma: 0.1})
	if len(failed) != 2 || failed[0].Input != bad || failed[1].Input != small ||
		!strings.Contains(failed[1].Err.Error(), "smaller than the 8x8 blocks") {
		t.Fatalf("failures %v, want bad.png and small.png (too small)", failed)
	}
	if _, err := os.Stat(filepath.Join(out, "good.png")); err != nil {
		t.Errorf("good.png was not written after the failures: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("output folder holds %d entries, want only good.png (no temporary files)", len(entries))
	}
}

// TestTIFFStack: a 16-bit two-page TIFF (a microscopy stack) comes back as a 16-bit two-page
// TIFF, each page denoised, sigma in [0, 1] of the 16-bit range.
func TestTIFFStack(t *testing.T) {
	const sigma = 0.05
	dir, out := t.TempDir(), t.TempDir()
	in := &formats.Image{W: w, H: h, C: 1, N: 2, SourceType: dtype.Uint16, Data: make([]float32, 2*h*w)}
	for k := 0; k < 2; k++ {
		for i, v := range noisy(sigma, uint64(3+k)) {
			in.Data[k*h*w+i] = float32(math.Round(clip(v) * 65535))
		}
	}
	p := filepath.Join(dir, "stack.tif")
	if _, err := formats.Write(p, in); err != nil {
		t.Fatal(err)
	}
	jobs, err := Plan([]string{p}, out, sigma)
	if err != nil {
		t.Fatal(err)
	}
	if failed := Run(context.Background(), jobs, Options{Sigma: sigma}); len(failed) > 0 {
		t.Fatalf("failures: %v", failed)
	}
	got, err := formats.Read(filepath.Join(out, "stack.tif"))
	if err != nil {
		t.Fatal(err)
	}
	if got.SourceType != dtype.Uint16 || got.N != 2 || got.W != w || got.H != h || got.C != 1 {
		t.Fatalf("output %v %dx%dx%d x%d, want uint16 %dx%dx1 x2", got.SourceType, got.W, got.H, got.C, got.N, w, h)
	}
	for k := 0; k < 2; k++ {
		var before, after float64
		for i := 0; i < h*w; i++ {
			c := clean(i/w, i%w)
			before += math.Pow(float64(in.Data[k*h*w+i])/65535-c, 2)
			after += math.Pow(float64(got.Data[k*h*w+i])/65535-c, 2)
		}
		if after > 0.25*before {
			t.Errorf("page %d: squared error %.4f after, %.4f before; want at most a quarter", k, after, before)
		}
	}
}

// TestPoissonGaussianFiles: with Gain set, a float .npy of Poisson-Gaussian counts comes back
// as bm3d.DenoisePG's estimate of its plane, bit for bit, with the same gain, read noise and
// offset.
func TestPoissonGaussianFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("a 48x48 BM3D run")
	}
	dir, out := t.TempDir(), t.TempDir()
	const h, w, gain, sigma, offset = 48, 48, 2.0, 1.5, 10.0
	rng := rand.New(rand.NewPCG(9, 9))
	plane := make([]float32, h*w)
	for i := range plane {
		lam := 5 + 20*float64(i%w)/w
		plane[i] = float32(gain*float64(randx.Poisson(rng, lam)) + sigma*rng.NormFloat64() + offset)
	}
	if err := npy.WriteFile(filepath.Join(dir, "c.npy"), []int{h, w}, plane); err != nil {
		t.Fatal(err)
	}
	jobs, err := Plan([]string{dir}, out, sigma)
	if err != nil {
		t.Fatal(err)
	}
	if failed := Run(context.Background(), jobs, Options{Sigma: sigma, Gain: gain, Offset: offset}); len(failed) > 0 {
		t.Fatalf("failures: %v", failed)
	}
	got, err := npy.ReadFile(filepath.Join(out, "c.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := bm3d.DenoisePG(context.Background(), plane, h, w, bm3d.PGOptions{A: gain, Sigma: sigma, Offset: offset})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range want {
		if got.Data[i] != v {
			t.Fatalf("c.npy[%d] = %v, DenoisePG gives %v", i, got.Data[i], v)
		}
	}
}
