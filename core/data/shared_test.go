package data

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData returns the directory shared/data/SUB, looked up via $FLOWDIFF_SHARED and then
// at ../../../shared relative to this package, or skips the test when neither has it.
func sharedData(t *testing.T, sub string) string {
	t.Helper()
	var roots []string
	if env := os.Getenv("FLOWDIFF_SHARED"); env != "" {
		roots = append(roots, env)
	}
	roots = append(roots, filepath.Join("..", "..", "..", "shared"))
	for _, r := range roots {
		p := filepath.Join(r, "data", sub)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	t.Skipf("shared data %s not found under $FLOWDIFF_SHARED or %v", sub, roots)
	return ""
}

func TestSharedTubulin(t *testing.T) {
	dir := sharedData(t, "tubulin-nih3t3")
	files, err := ListImages(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 21 {
		t.Errorf("%s: %d TIFFs, want 21", dir, len(files))
	}
	for _, f := range files {
		data, err := readFileLimited(f)
		if err != nil {
			t.Fatal(err)
		}
		img, format, err := DecodeImage(data, f, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := img.(*image.Gray16); !ok || format != "tiff" || img.Bounds() != image.Rect(0, 0, 512, 512) {
			t.Errorf("%s: %s %T %v, want 512x512 16-bit gray tiff", f, format, img, img.Bounds())
		}
	}
	// Percentile-normalized 64x64 patches: deterministic, in [0,1], spanning most of the range.
	opts := FolderOptions{Height: 64, Width: 64, Patches: 4, Seed: 3, Normalize: PercentileNormalization, Limit: 5}
	a, err := LoadFolder(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := LoadFolder(dir, opts)
	if a.Len() != 20 || a.Images.H != 64 || !strings.Contains(a.Names[0], "#p0@") {
		t.Fatalf("patches: %s, names %v", a.Images.Shape, a.Names[:1])
	}
	lo, hi := float32(1), float32(0)
	for i, v := range a.Images.Data {
		if v != b.Images.Data[i] {
			t.Fatal("patches differ between two loads with one seed")
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < 0 || hi > 1 || hi-lo < 0.5 {
		t.Errorf("percentile-normalized patches span [%v,%v], want within [0,1] and wider than 0.5", lo, hi)
	}
}

func TestSharedCIFARDog(t *testing.T) {
	dir := sharedData(t, "cifar10-dog")
	cases := []struct {
		sub   string
		count int
	}{{"test", 1000}, {"train", 5000}}
	for _, c := range cases {
		d, err := LoadFolder(filepath.Join(dir, c.sub), FolderOptions{Channels: 3, Recursive: true})
		if err != nil {
			t.Fatal(err)
		}
		s := d.Images.Shape
		if s.N != c.count || s.H != 32 || s.W != 32 || s.C != 3 || d.Labels != nil {
			t.Errorf("cifar dog %s: shape %s, want [%d,32,32,3]", c.sub, s, c.count)
		}
		if !strings.HasSuffix(d.Names[0], filepath.Join("dog", "0000.jpg")) {
			t.Errorf("first file %s, want dog/0000.jpg", d.Names[0])
		}
		// Color images: the channels differ somewhere.
		var diff float64
		for i := 0; i < len(d.Images.Data); i += 3 {
			diff += float64(max(d.Images.Data[i]-d.Images.Data[i+2], d.Images.Data[i+2]-d.Images.Data[i]))
		}
		if diff/float64(s.N*s.H*s.W) < 0.01 {
			t.Errorf("cifar dog %s: mean |R-B| %v, want color content", c.sub, diff/float64(s.N*s.H*s.W))
		}
	}
}
