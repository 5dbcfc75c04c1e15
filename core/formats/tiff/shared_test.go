package tiff

import (
	"bytes"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"

	xtiff "golang.org/x/image/tiff"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
)

// tifffileDump saves each TIFF named on the command line (after the output folder) as .npy
// in that folder, as tifffile reads it, and prints the dtype and shape of each.
const tifffileDump = `
import json, os, sys, numpy as np, tifffile
out = {}
for p in sys.argv[2:]:
    a = tifffile.imread(p)
    np.save(os.path.join(sys.argv[1], os.path.basename(os.path.dirname(p)) + '_' + os.path.basename(p) + '.npy'), a)
    out[p] = {'dtype': a.dtype.name, 'shape': list(a.shape)}
print(json.dumps(out))
`

// TestSharedTIFFs reads the real microscopy TIFFs of the shared data folder: the 21
// tubulin images (512x512 uint16, 8 strips of 64 rows, little-endian) and the 10 FMD
// confocal images (512x512 uint8, one strip). Their values must equal what
// golang.org/x/image/tiff decodes (an independent reader of these single-page files) and,
// when Python's tifffile is present, what tifffile reads.
func TestSharedTIFFs(t *testing.T) {
	var files []string
	tub := fmttest.SharedData(t, "tubulin-nih3t3")
	m, _ := filepath.Glob(filepath.Join(tub, "*.tif"))
	files = append(files, m...)
	fmd := fmttest.SharedData(t, "fmd")
	m, _ = filepath.Glob(filepath.Join(fmd, "*", "*.tif"))
	files = append(files, m...)
	if len(files) != 31 {
		t.Fatalf("found %d TIFFs, want 21 tubulin + 10 FMD", len(files))
	}
	dir := t.TempDir()
	var ref map[string]struct {
		DType string `json:"dtype"`
		Shape []int  `json:"shape"`
	}
	if py := pythonOrNil(t); py != "" {
		if err := json.Unmarshal(fmttest.RunPython(t, py, tifffileDump, append([]string{dir}, files...)...), &ref); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		want := dtype.Uint8
		if filepath.Base(tub) == filepath.Base(filepath.Dir(p)) {
			want = dtype.Uint16
		}
		if s.W != 512 || s.H != 512 || s.C != 1 || s.Pages != 1 || s.Type != want || s.Meta.ByteOrder != "II" {
			t.Errorf("%s: %dx%dx%d x%d %v %s, want 512x512x1 x1 %v II", p, s.W, s.H, s.C, s.Pages, s.Type, s.Meta.ByteOrder, want)
		}
		img, err := xtiff.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Data, pixels(img)) {
			t.Errorf("%s: values differ from golang.org/x/image/tiff", p)
		}
		if r, ok := ref[p]; ok {
			a, err := npy.ReadFile(filepath.Join(dir, filepath.Base(filepath.Dir(p))+"_"+filepath.Base(p)+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			if r.DType != s.Type.String() || !slices.Equal(r.Shape, []int{512, 512}) || !slices.Equal(a.Data, s.Data) {
				t.Errorf("%s: tifffile reads %s %v; values equal: %v", p, r.DType, r.Shape, slices.Equal(a.Data, s.Data))
			}
		}
	}
}

// pythonOrNil returns a python3 with tifffile, or "" (a failure under $CI, through Python).
func pythonOrNil(t *testing.T) string {
	var py string
	t.Run("tifffile", func(t *testing.T) { py = fmttest.Python(t, "numpy", "tifffile") })
	return py
}

// pixels returns the samples of an 8- or 16-bit gray image as float32.
func pixels(img image.Image) []float32 {
	switch m := img.(type) {
	case *image.Gray:
		f := make([]float32, len(m.Pix))
		for i, v := range m.Pix {
			f[i] = float32(v)
		}
		return f
	case *image.Gray16:
		f := make([]float32, len(m.Pix)/2)
		for i := range f {
			f[i] = float32(uint16(m.Pix[2*i])<<8 | uint16(m.Pix[2*i+1]))
		}
		return f
	}
	return nil
}
