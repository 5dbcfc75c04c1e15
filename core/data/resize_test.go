package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// pattern returns a one-image batch with value f(y, x, c).
func pattern(h, w, c int, f func(y, x, c int) float32) *batch.Batch {
	b := batch.New(1, h, w, c)
	for y := range h {
		for x := range w {
			for k := range c {
				b.Set(0, y, x, k, f(y, x, k))
			}
		}
	}
	return b
}

func TestFitBlocksAndCrop(t *testing.T) {
	// 2x2 blocks of four values shrink to exactly those values.
	blocks := pattern(4, 4, 1, func(y, x, _ int) float32 { return float32(2*(y/2) + x/2) })
	if got := Fit(blocks, 2, 2).Data; !slices.Equal(got, []float32{0, 1, 2, 3}) {
		t.Errorf("2x2 blocks -> %v, want [0 1 2 3]", got)
	}
	// A 4-high, 6-wide image is center-cropped to columns 1..4 before any resampling.
	wide := pattern(4, 6, 2, func(y, x, c int) float32 { return float32(10*x + c) })
	got := Fit(wide, 4, 4)
	for x := range 4 {
		if v := got.At(0, 3, x, 1); v != float32(10*(x+1)+1) {
			t.Errorf("crop column %d = %v, want %v", x, v, 10*(x+1)+1)
		}
	}
	// A tall image keeps its middle rows; odd excess rounds the offset down.
	tall := pattern(7, 4, 1, func(y, _, _ int) float32 { return float32(y) })
	if v := Fit(tall, 4, 4).At(0, 0, 0, 0); v != 1 {
		t.Errorf("tall crop first row = %v, want 1", v)
	}
}

// TestResizeRamp checks that both resamplers reproduce a linear ramp at output pixel centers:
// area averaging by an integer factor and bilinear away from the clamped border exactly
// (tolerance 1e-5, float32 accumulation); area averaging by a fractional factor within half
// a source pixel's step (0.5*(0.01+0.02) = 0.015).
func TestResizeRamp(t *testing.T) {
	ramp := func(y, x float64) float64 { return 0.01*x + 0.02*y + 0.1 }
	cases := []struct {
		sh, sw, dh, dw, border int
		tol                    float64
	}{
		{12, 12, 4, 4, 0, 1e-5}, {30, 20, 5, 10, 0, 1e-5}, {9, 9, 3, 3, 0, 1e-5}, // integer shrink
		{12, 12, 5, 5, 0, 0.015}, {30, 20, 7, 9, 0, 0.015}, // fractional shrink
		{5, 5, 12, 12, 2, 1e-5}, {4, 6, 9, 13, 2, 1e-5}, // grow: bilinear
		{10, 6, 5, 9, 2, 1e-5}, // integer shrink in y, grow in x
	}
	for _, c := range cases {
		src := pattern(c.sh, c.sw, 1, func(y, x, _ int) float32 { return float32(ramp(float64(y)+0.5, float64(x)+0.5)) })
		out := Resize(src, c.dh, c.dw)
		sy, sx := float64(c.sh)/float64(c.dh), float64(c.sw)/float64(c.dw)
		for y := c.border; y < c.dh-c.border; y++ {
			for x := c.border; x < c.dw-c.border; x++ {
				want := ramp((float64(y)+0.5)*sy, (float64(x)+0.5)*sx)
				if math.Abs(float64(out.At(0, y, x, 0))-want) > c.tol {
					t.Errorf("%dx%d->%dx%d at (%d,%d): %v, want %v", c.sh, c.sw, c.dh, c.dw, y, x, out.At(0, y, x, 0), want)
				}
			}
		}
	}
}

func TestResizeAreaPreservesMean(t *testing.T) {
	src := pattern(17, 23, 3, func(y, x, c int) float32 { return float32((y*7+x*13+c*5)%11) / 10 })
	out := Resize(src, 17, 23)
	if !slices.Equal(out.Data, src.Data) {
		t.Error("same-size resize changed the image")
	}
	// Integer-factor shrink preserves the mean exactly (up to float32 rounding, tol 1e-5).
	src = pattern(18, 24, 1, func(y, x, _ int) float32 { return float32((y*7+x*13)%11) / 10 })
	mean := func(b *batch.Batch) (s float64) {
		for _, v := range b.Data {
			s += float64(v)
		}
		return s / float64(len(b.Data))
	}
	if a, b := mean(src), mean(Resize(src, 6, 8)); math.Abs(a-b) > 1e-5 {
		t.Errorf("mean %v -> %v after 3x shrink", a, b)
	}
}

func TestNormalizePercentile(t *testing.T) {
	// Values 0..100 / 1000: percentiles 2 and 99.8 are 0.002 and 0.0998.
	b := pattern(1, 101, 1, func(_, x, _ int) float32 { return float32(x) / 1000 })
	if err := NormalizePercentile(b, 2, 99.8); err != nil {
		t.Fatal(err)
	}
	for x, want := range map[int]float64{0: 0, 2: 0, 51: (0.051 - 0.002) / (0.0998 - 0.002), 100: 1} {
		if math.Abs(float64(b.Data[x])-want) > 1e-5 {
			t.Errorf("value %d -> %v, want %v (tol 1e-5)", x, b.Data[x], want)
		}
	}
	flat := pattern(3, 3, 1, func(_, _, _ int) float32 { return 0.4 })
	NormalizePercentile(flat, 2, 99.8)
	if flat.Data[4] != 0 {
		t.Errorf("constant image -> %v, want 0", flat.Data[4])
	}
	if err := NormalizePercentile(flat, 50, 50); err == nil {
		t.Error("equal percentiles: no error")
	}
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "cls", "sub"), 0o755)
	os.MkdirAll(filepath.Join(dir, ".hidden"), 0o755)
	for _, f := range []struct {
		path string
		val  float32
		h, w int
	}{{"b.png", 0.2, 8, 8}, {"a.tif", 0.4, 8, 8}, {"cls/c.TIFF", 0.6, 8, 12}, {"cls/sub/d.png", 0.8, 16, 16}, {".hidden/e.png", 1, 8, 8}} {
		b := pattern(f.h, f.w, 1, func(_, _, _ int) float32 { return f.val })
		if err := WriteTIFF16(filepath.Join(dir, f.path), b); err != nil { // TIFF bytes even for .png: decoding sniffs
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	cases := []struct {
		name   string
		opts   FolderOptions
		n      int
		first  float32
		errHas string
	}{
		{"flat", FolderOptions{}, 2, 0.4, ""},
		{"recursive-mixed-size", FolderOptions{Recursive: true}, 0, 0, "set height and width"},
		{"recursive-fit", FolderOptions{Recursive: true, Height: 4, Width: 4, Channels: 3}, 4, 0.4, ""},
		{"limit", FolderOptions{Recursive: true, Height: 4, Width: 4, Limit: 3}, 3, 0.4, ""},
		{"patches", FolderOptions{Recursive: true, Height: 4, Width: 4, Patches: 3, Seed: 9}, 12, 0.4, ""},
		{"patch-too-big", FolderOptions{PatchSize: 9, Patches: 1}, 0, 0, "smaller than the 9x9 patch"},
		{"bad-channels", FolderOptions{Channels: 2}, 0, 0, "channels 2"},
		{"bad-size", FolderOptions{Height: 4}, 0, 0, "both be positive"},
		{"bad-normalize", FolderOptions{Normalize: "log"}, 0, 0, `normalize "log"`},
	}
	for _, c := range cases {
		d, err := LoadFolder(dir, c.opts)
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%s: error %v should contain %q", c.name, err, c.errHas)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d.Len() != c.n || len(d.Names) != c.n || d.Labels != nil {
			t.Fatalf("%s: %d images, want %d", c.name, d.Len(), c.n)
		}
		if math.Abs(float64(d.Images.Data[0]-c.first)) > 1e-4 || !strings.HasSuffix(d.Names[0], "a.tif") && !strings.Contains(d.Names[0], "a.tif#p0@") {
			t.Errorf("%s: first image %s = %v, want a.tif = %v", c.name, d.Names[0], d.Images.Data[0], c.first)
		}
		if c.opts.Channels == 3 && d.Images.C != 3 {
			t.Errorf("%s: %d channels", c.name, d.Images.C)
		}
	}
	if _, err := LoadFolder(filepath.Join(dir, ".hidden", "none"), FolderOptions{}); err == nil {
		t.Error("missing folder: no error")
	}
	empty := t.TempDir()
	if _, err := LoadFolder(empty, FolderOptions{}); err == nil || !strings.Contains(err.Error(), "no .png") {
		t.Errorf("empty folder: error %v", err)
	}
}
