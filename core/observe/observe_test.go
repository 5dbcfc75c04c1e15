package observe

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
)

// writeImage writes an n-page w x h uint16 (or float32) file whose sample (k, y, x) is
// base + 100k + 10y + x.
func writeImage(t *testing.T, path string, w, h, n int, typ dtype.Type, base float32) {
	t.Helper()
	img := &formats.Image{W: w, H: h, C: 1, N: n, SourceType: typ, Data: make([]float32, w*h*n)}
	for k := range n {
		for y := range h {
			for x := range w {
				img.Data[(k*h+y)*w+x] = base + float32(100*k+10*y+x)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := formats.Write(path, img); err != nil {
		t.Fatal(err)
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	obs := filepath.Join(dir, "obs")
	writeImage(t, filepath.Join(obs, "b.tif"), 4, 4, 1, dtype.Uint16, 0)
	writeImage(t, filepath.Join(obs, "day1", "a.tif"), 4, 4, 1, dtype.Uint16, 0)
	writeImage(t, filepath.Join(obs, ".hidden", "c.tif"), 4, 4, 1, dtype.Uint16, 0)
	writeImage(t, filepath.Join(obs, "stack.mrcs"), 4, 4, 3, dtype.Float32, 0)
	os.WriteFile(filepath.Join(obs, "README.md"), []byte("notes"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	single := filepath.Join(dir, "single.npy")
	writeImage(t, single, 4, 4, 1, dtype.Float32, 0)

	got, err := List([]string{obs, single})
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, in := range got {
		rels = append(rels, in.Rel)
	}
	if want := "b.tif day1/a.tif single.npy stack.mrcs"; strings.Join(rels, " ") != want {
		t.Errorf("List = %v, want %s", rels, want)
	}
	if g, err := List([]string{filepath.Join(obs, "*.tif")}); err != nil || len(g) != 1 || g[0].Rel != "b.tif" {
		t.Errorf("glob: %v, %v; want b.tif only", g, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no input given"},
		{[]string{filepath.Join(dir, "missing")}, "no such file or folder"},
		{[]string{filepath.Join(dir, "empty")}, "no image file"},
		{[]string{filepath.Join(dir, "notes.txt")}, `extension ".txt" unknown`},
		{[]string{filepath.Join(dir, "nothing*.tif")}, "matches no image file"},
		{[]string{obs, filepath.Join(obs, "b.tif")}, `both named "b.tif"`},
	} {
		if _, err := List(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("List(%v): error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestMatchReferences(t *testing.T) {
	obs := []Input{{"o/a.tif", "a.tif"}, {"o/b.tif", "b.tif"}}
	got, err := MatchReferences(obs, []Input{{"r/b.tif", "b.tif"}, {"r/a.tif", "a.tif"}})
	if err != nil || got["a.tif"] != "r/a.tif" || got["b.tif"] != "r/b.tif" {
		t.Errorf("MatchReferences = %v, %v", got, err)
	}
	_, err = MatchReferences(obs, []Input{{"r/a.tif", "a.tif"}, {"r/b.tif", "b.tif"}, {"r/c.tif", "c.tif"}})
	if err == nil || !strings.Contains(err.Error(), "reference(s) with no observation of the same name: c.tif") {
		t.Errorf("orphan reference: %v", err)
	}
	_, err = MatchReferences(obs, []Input{{"r/a.tif", "a.tif"}})
	if err == nil || !strings.Contains(err.Error(), "observation(s) with no reference of the same name: b.tif") {
		t.Errorf("missing reference: %v", err)
	}
}

func TestNormalization(t *testing.T) {
	u16 := &formats.Image{W: 2, H: 1, C: 1, N: 1, SourceType: dtype.Uint16, Data: []float32{0, 65535}}
	f32 := &formats.Image{W: 2, H: 1, C: 1, N: 1, SourceType: dtype.Float32, Data: []float32{-3, 5}}
	for _, tc := range []struct {
		name          string
		n             Normalization
		img           *formats.Image
		offset, scale float64
		err           string
	}{
		{"auto on uint16 is range", Normalization{}, u16, 0, 65535, ""},
		{"auto on float is minmax", Normalization{Mode: formats.Auto}, f32, -3, 8, ""},
		{"fixed", Normalization{Mode: Fixed, Offset: -5, Scale: 10}, f32, -5, 10, ""},
		{"range on float", Normalization{Mode: formats.Range}, f32, 0, 0, "has no fixed range"},
		{"fixed without scale", Normalization{Mode: Fixed}, f32, 0, 0, "scale > 0"},
		{"unknown", Normalization{Mode: "zscore"}, f32, 0, 0, "unknown"},
	} {
		s, err := tc.n.ScalingFor(tc.img)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || s.Offset != tc.offset || s.Scale != tc.scale || s.SourceType != tc.img.SourceType {
			t.Errorf("%s: %+v, %v; want offset %v scale %v", tc.name, s, err, tc.offset, tc.scale)
		}
	}
}

// TestLoadPatchesWithReferences cuts patches from a 3-page observation stack and its
// reference and checks that each reference patch is the reference page's window at the
// position the patch's name gives, normalized with the observation's scaling (range: /65535),
// and that the observation patch is its own page's window.
func TestLoadPatchesWithReferences(t *testing.T) {
	dir := t.TempDir()
	obsPath, refPath := filepath.Join(dir, "o", "s.tif"), filepath.Join(dir, "r", "s.tif")
	writeImage(t, obsPath, 9, 7, 3, dtype.Uint16, 1000)
	writeImage(t, refPath, 9, 7, 3, dtype.Uint16, 2000)
	in := []Input{{obsPath, "s.tif"}}
	set, err := Load(in, map[string]string{"s.tif": refPath}, Options{Height: 4, Width: 5, Patches: 2, Seed: 3, Norm: Normalization{Mode: formats.Range}})
	if err != nil {
		t.Fatal(err)
	}
	if set.Obs.N != 6 || set.Ref.N != 6 || set.Obs.H != 4 || set.Obs.W != 5 || len(set.Names) != 6 {
		t.Fatalf("shapes %s %s, %d names", set.Obs.Shape, set.Ref.Shape, len(set.Names))
	}
	if s := set.Scalings["s.tif"]; s.Mode != formats.Range || s.Scale != 65535 {
		t.Errorf("scaling %+v", s)
	}
	for i, name := range set.Names {
		var k, p, y0, x0 int
		if _, err := fmt.Sscanf(name, "s.tif#page%d#p%d@%d,%d", &k, &p, &y0, &x0); err != nil {
			t.Fatalf("name %q: %v", name, err)
		}
		for y := range 4 {
			for x := range 5 {
				v := float32(100*k + 10*(y0+y) + x0 + x)
				if o, r := set.Obs.At(i, y, x, 0)*65535, set.Ref.At(i, y, x, 0)*65535; math.Abs(float64(o-(1000+v))) > 0.01 || math.Abs(float64(r-(2000+v))) > 0.01 {
					t.Fatalf("%s pixel (%d,%d): obs %v ref %v, want %v and %v", name, y, x, o, r, 1000+v, 2000+v)
				}
			}
		}
	}
	again, _ := Load(in, nil, Options{Height: 4, Width: 5, Patches: 2, Seed: 3, Norm: Normalization{Mode: formats.Range}})
	if strings.Join(again.Names, ",") != strings.Join(set.Names, ",") || again.Ref != nil {
		t.Error("patch positions depend on more than the seed, or references appeared")
	}
}

func TestLoadNamesTheMistake(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.tif")
	writeImage(t, a, 8, 8, 1, dtype.Uint16, 0)
	small := filepath.Join(dir, "small.tif")
	writeImage(t, small, 6, 8, 1, dtype.Uint16, 0)
	rgb := filepath.Join(dir, "rgb.png")
	img := &formats.Image{W: 8, H: 8, C: 3, N: 1, SourceType: dtype.Uint8, Data: make([]float32, 192)}
	if _, err := formats.Write(rgb, img); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []Input
		refs map[string]string
		o    Options
		want string
	}{
		{"whole image of another size", []Input{{a, "a.tif"}}, nil, Options{Height: 4, Width: 4}, "8x8 pixels (width x height), the models take 4x4"},
		{"patch larger than the image", []Input{{small, "small.tif"}}, nil, Options{Height: 8, Width: 8, Patches: 1}, "smaller than the 8x8 patches"},
		{"color into a gray model", []Input{{rgb, "rgb.png"}}, nil, Options{}, "3 samples per pixel, the model takes 1"},
		{"reference of another size", []Input{{a, "a.tif"}}, map[string]string{"a.tif": small}, Options{}, "reference of " + a},
		{"files of different sizes", []Input{{a, "a.tif"}, {small, "small.tif"}}, nil, Options{}, "6x8 pixels (width x height), the models take 8x8"},
	} {
		if _, err := Load(tc.in, tc.refs, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  bool
	}{
		{"", Shard{}, false}, {"0/4", Shard{0, 4}, false}, {"3/4", Shard{3, 4}, false},
		{"4/4", Shard{}, true}, {"-1/4", Shard{}, true}, {"1/0", Shard{}, true}, {"1", Shard{}, true}, {"a/b", Shard{}, true},
	} {
		got, err := ParseShard(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v", tc.in, got, err)
		}
	}
	// Every name belongs to exactly one shard, and the shards are of similar size: 3000 names
	// over 7 shards, about 429 each with a binomial spread of 19; the bound is 5 spreads.
	var names []Input
	for i := range 3000 {
		names = append(names, Input{Rel: fmt.Sprintf("run%d/img_%04d.tif", i%5, i)})
	}
	for _, n := range []int{1, 2, 7} {
		total := 0
		for k := range n {
			got := len(Shard{k, n}.Select(names))
			total += got
			if mean := 3000.0 / float64(n); n > 1 && math.Abs(float64(got)-mean) > 5*math.Sqrt(mean*(1-1/float64(n))) {
				t.Errorf("shard %d/%d holds %d names, mean %.0f", k, n, got, mean)
			}
		}
		if total != 3000 {
			t.Errorf("%d shards hold %d names in all, want 3000", n, total)
		}
	}
}
