package operators_test

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/registry"
	"github.com/flowdiff/flowdiff-go/registry/conformance"
)

// Tests of the operators declared by files (blur.kernel's PSF, mask.file): the operators a
// pipeline of real observations declares as measured.

// writeImage writes h x w values to path in the format of its extension (float32 TIFF and
// .npy, 8-bit PNG), with core/formats, the readers' own package.
func writeImage(t *testing.T, path string, h, w int, v []float32, typ dtype.Type) {
	t.Helper()
	if _, err := formats.Write(path, &formats.Image{W: w, H: h, C: 1, N: 1, Data: v, SourceType: typ}); err != nil {
		t.Fatal(err)
	}
}

// TestPSFFileEqualsGaussian: the taps of blur.gaussian (size 9, sigma 1.5) written to a float32
// TIFF and a .npy, read back by blur.kernel, blur a random batch like blur.gaussian itself.
// Tolerance 1e-6 relative to the largest output: the taps are rounded to float32 on the way.
func TestPSFFileEqualsGaussian(t *testing.T) {
	g, err := operators.NewGaussianBlur(operators.GaussianBlurConfig{Size: 9, Sigma: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	taps := make([]float32, 81)
	for i, v := range g.Kernel().K {
		taps[i] = float32(v * 1000) // any scale: blur.kernel normalizes to sum 1
	}
	dir := t.TempDir()
	x := batch.New(2, 24, 20, 3)
	rng := rand.New(rand.NewPCG(3, 1))
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	want, err := g.Apply(ctx, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"psf.tif", "psf.npy"} {
		p := filepath.Join(dir, name)
		writeImage(t, p, 9, 9, taps, dtype.Float32)
		op, err := operators.NewKernelBlur(operators.KernelBlurConfig{Path: p})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := op.Apply(ctx, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, m := 0.0, 0.0
		for i := range got.Data {
			d = max(d, math.Abs(float64(got.Data[i]-want.Data[i])))
			m = max(m, math.Abs(float64(want.Data[i])))
		}
		if d > 1e-6*m {
			t.Errorf("%s: blur.kernel differs from blur.gaussian by %.3g (largest output %.3g)", name, d, m)
		}
	}
}

// TestFileOperatorsConformance runs the conformance suite (adjoint, linearity, VJP, in-graph
// form) on a float32-TIFF PSF and on a PNG mask, through the registry as a pipeline builds them.
func TestFileOperatorsConformance(t *testing.T) {
	dir := t.TempDir()
	psf := filepath.Join(dir, "psf.tif")
	writeImage(t, psf, 5, 3, []float32{0, 1, 0, 1, 2, 1, 2, 6, 1, 1, 3, 1, 0, 1, 0.5}, dtype.Float32)
	mask := filepath.Join(dir, "mask.png")
	writeMaskPNG(t, mask, 16, 20, func(y, x int) bool { return (x*7+y*3)%5 != 0 })
	shape := batch.Shape{N: 3, H: 16, W: 20, C: 2}
	for _, c := range []struct{ id, path string }{{"blur.kernel", psf}, {"mask.file", mask}} {
		t.Run(c.id, func(t *testing.T) {
			e, err := registry.Lookup(c.id)
			if err != nil {
				t.Fatal(err)
			}
			cfg := e.Config()
			switch cc := cfg.(type) {
			case *operators.KernelBlurConfig:
				cc.Path = c.path
			case *operators.FileMaskConfig:
				cc.Path = c.path
			}
			conformance.Require(t, conformance.CheckEntry(ctx, e, cfg, conformance.Options{Shape: shape}))
		})
	}
}

// writeMaskPNG writes an 8-bit mask, 255 where keep(y, x) and 0 elsewhere.
func writeMaskPNG(t *testing.T, path string, h, w int, keep func(y, x int) bool) {
	t.Helper()
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if keep(y, x) {
				g.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, g); err != nil {
		t.Fatal(err)
	}
}

// TestMaskFileByName: a folder of masks is matched to observations by name without extension,
// pages share their file's mask, and a patch gets the same patch of its mask.
func TestMaskFileByName(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "day1"), 0o755)
	writeMaskPNG(t, filepath.Join(dir, "a.png"), 8, 10, func(y, x int) bool { return x != 3 })
	writeImage(t, filepath.Join(dir, "day1", "b.npy"), 8, 10, func() []float32 {
		v := make([]float32, 80)
		for i := range v {
			if i%10 != 7 || i/10 != 5 {
				v[i] = 1
			}
		}
		return v
	}(), dtype.Float32)
	op, err := operators.NewFileMask(operators.FileMaskConfig{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	// a.tif whole, page 2 of day1/b.tif whole, and a 4x5 patch of day1/b.tif at (2, 4).
	p, err := op.ParamsFor(ctx, nil, []string{"a.tif", "day1/b.tif#page2"}, batch.Shape{N: 2, H: 8, W: 10, C: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := p[operators.MaskKey]
	for i, v := range m.Data {
		n, y, x := i/80, i%80/10, i%10
		want := float32(1)
		if n == 0 && x == 3 || n == 1 && y == 5 && x == 7 {
			want = 0
		}
		if v != want {
			t.Fatalf("image %d pixel (%d,%d) = %v, want %v", n, y, x, v, want)
		}
	}
	p, err = op.ParamsFor(ctx, nil, []string{"day1/b.tif#page0#p3@2,4"}, batch.Shape{N: 1, H: 4, W: 5, C: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range p[operators.MaskKey].Data {
		y, x := i/2/5, i/2%5
		if want := float32(1); (y+2 == 5 && x+4 == 7) == (v == want) {
			t.Fatalf("patch pixel (%d,%d) = %v", y, x, v)
		}
	}
}

// TestFileOperatorErrors: every mistake names the file and says what to fix.
func TestFileOperatorErrors(t *testing.T) {
	dir := t.TempDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	npy.WriteFile(in("even.npy"), []int{4, 5}, make([]float32, 20))
	neg := []float32{0, 1, 0, 1, 4, -0.5, 0, 1, 0}
	npy.WriteFile(in("neg.npy"), []int{3, 3}, neg)
	off := make([]float32, 25)
	off[0] = 1 // all the light at the top-left corner: centroid 2 pixels off
	npy.WriteFile(in("off.npy"), []int{5, 5}, off)
	writeImage(t, in("stack.tif"), 3, 3, make([]float32, 9), dtype.Float32)
	// a two-page TIFF: the PSF's z-stack rather than one plane
	formats.Write(in("zstack.tif"), &formats.Image{W: 3, H: 3, C: 1, N: 2, Data: make([]float32, 18), SourceType: dtype.Float32})
	writeMaskPNG(t, in("m.png"), 16, 20, func(y, x int) bool { return x > 2 })
	gray := image.NewGray(image.Rect(0, 0, 4, 4))
	gray.Pix[5] = 128
	gray.Pix[6] = 255
	f, _ := os.Create(in("gray.png"))
	png.Encode(f, gray)
	f.Close()
	os.MkdirAll(in("masks"), 0o755)
	writeMaskPNG(t, filepath.Join(dir, "masks", "cell1.png"), 16, 20, func(y, x int) bool { return true })

	kernel := func(p string) error {
		_, err := operators.NewKernelBlur(operators.KernelBlurConfig{Path: p})
		return err
	}
	mask := func(p string, names []string, s batch.Shape) error {
		op, err := operators.NewFileMask(operators.FileMaskConfig{Path: p})
		if err != nil {
			return err
		}
		var pp part.Params
		if names == nil {
			pp, err = op.SampleParams(ctx, nil, s)
		} else {
			pp, err = op.ParamsFor(ctx, nil, names, s)
		}
		_ = pp
		return err
	}
	s1620 := batch.Shape{N: 1, H: 16, W: 20, C: 1}
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"missing kernel", kernel(in("nope.tif")), []string{"nope.tif", "no such file"}},
		{"even kernel", kernel(in("even.npy")), []string{"even.npy", "is 4x5", "odd sides", "crop or pad"}},
		{"negative tap", kernel(in("neg.npy")), []string{"neg.npy", "tap (1,2)", "-0.5", "no negative taps"}},
		{"off-center PSF", kernel(in("off.npy")), []string{"off.npy", "centroid is -2.00 rows and -2.00 columns", "crop the kernel"}},
		{"z-stack PSF", kernel(in("zstack.tif")), []string{"zstack.tif", "2 pages", "in-focus plane"}},
		{"missing mask", mask(in("nope.png"), nil, s1620), []string{"nope.png", "no such file"}},
		{"gray mask", mask(in("gray.png"), nil, s1620), []string{"gray.png", "pixel (1,2)", "is 255", "(128 here)", "threshold"}},
		{"mask shape", mask(in("m.png"), nil, batch.Shape{N: 1, H: 16, W: 16, C: 1}), []string{"m.png", "20x16", "16x16", "observations' size"}},
		{"mask shape by name", mask(in("masks"), []string{"cell1.tif"}, batch.Shape{N: 1, H: 8, W: 8, C: 1}), []string{"cell1.png", "(cell1.tif)", "observations' size"}},
		{"patch outside the mask", mask(in("m.png"), []string{"big.tif#p0@10,0"}, batch.Shape{N: 1, H: 8, W: 8, C: 1}), []string{"m.png", "row 10", "big.tif"}},
		{"no mask for an observation", mask(in("masks"), []string{"cell2.tif"}, s1620), []string{"no mask for observation cell2.tif", "add cell2.png"}},
		{"folder without names", mask(in("masks"), nil, s1620), []string{"masks", "folder of masks matched by observation name", "give one mask file"}},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(c.err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, c.err, w)
			}
		}
	}
}
