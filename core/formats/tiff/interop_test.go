package tiff

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/internal/fmttest"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
)

// tifffileWrite writes seeded stacks with tifffile (one file per case) and, next to each,
// the array as .npy for comparison; it prints what it wrote as JSON.
const tifffileWrite = `
import json, sys, numpy as np, tifffile
d = sys.argv[1]
rng = np.random.default_rng(11)
def ints(dt, shape):
    i = np.iinfo(dt)
    a = rng.integers(i.min, int(i.max) + 1, size=shape).astype(dt)
    a.flat[0], a.flat[1] = i.min, i.max
    return a
cases = {
    'u8_pages':      (ints(np.uint8, (3, 40, 30)), {'photometric': 'minisblack'}),
    'i8_pages':      (ints(np.int8, (2, 9, 7)), {'photometric': 'minisblack'}),
    'u16_pages':     (ints(np.uint16, (4, 33, 47)), {'rowsperstrip': 5, 'photometric': 'minisblack'}),
    'u16_pages_be':  (ints(np.uint16, (4, 33, 47)), {'byteorder': '>', 'rowsperstrip': 7, 'photometric': 'minisblack'}),
    'i16_pages':     (ints(np.int16, (2, 17, 19)), {'photometric': 'minisblack'}),
    'f16_pages':     ((rng.standard_normal((2, 12, 10)) * 100).astype(np.float16), {'photometric': 'minisblack'}),
    'f32_pages':     ((rng.standard_normal((5, 20, 25)) * 100).astype(np.float32), {'photometric': 'minisblack'}),
    'f32_pages_be':  ((rng.standard_normal((2, 20, 25)) * 100).astype(np.float32), {'byteorder': '>', 'photometric': 'minisblack'}),
    'f64_page':      (rng.standard_normal((20, 25)), {}),
    'f32_zlib':      ((rng.standard_normal((3, 31, 29)) * 100).astype(np.float32), {'compression': 'zlib', 'photometric': 'minisblack'}),
    'u16_zlib_pred': (ints(np.uint16, (3, 31, 29)), {'compression': 'zlib', 'predictor': True, 'photometric': 'minisblack'}),
    'rgb8':          (ints(np.uint8, (16, 24, 3)), {'photometric': 'rgb'}),
    'u16_imagej':    (ints(np.uint16, (2, 3, 16, 16)), {'imagej': True, 'resolution': (5.0, 5.0),
                      'metadata': {'spacing': 0.5, 'unit': 'um', 'axes': 'TZYX'}}),
}
out = {}
for name, (a, kw) in cases.items():
    tifffile.imwrite(f'{d}/{name}.tif', a, **kw)
    np.save(f'{d}/{name}.npy', tifffile.imread(f'{d}/{name}.tif'))
    with tifffile.TiffFile(f'{d}/{name}.tif') as t:
        out[name] = {'pages': len(t.pages), 'dtype': t.pages[0].dtype.name, 'description': t.pages[0].description}
print(json.dumps(out))
`

// tifffileRead reads each TIFF named on the command line with tifffile, saves its array as
// .npy next to it and prints the fields of its first page as JSON.
const tifffileRead = `
import json, sys, numpy as np, tifffile
out = {}
for p in sys.argv[1:]:
    with tifffile.TiffFile(p) as t:
        pg = t.pages[0]
        a = t.asarray()
        np.save(p + '.npy', a)
        tags = pg.tags
        out[p] = {'pages': len(t.pages), 'shape': list(a.shape), 'dtype': a.dtype.name,
                  'compression': int(pg.compression), 'photometric': int(pg.photometric),
                  'description': pg.description, 'software': pg.software,
                  'xres': list(tags['XResolution'].value), 'unit': int(tags['ResolutionUnit'].value)}
print(json.dumps(out))
`

// sameAsNPY decodes the TIFF at path and compares it with the .npy reference exactly.
func sameAsNPY(t *testing.T, path, ref string, wantType dtype.Type, wantPages int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Decode(f)
	if err != nil {
		t.Errorf("%s: %v", filepath.Base(path), err)
		return
	}
	a, err := npy.ReadFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != wantType || s.Pages != wantPages || !slices.Equal(s.Data, a.Data) {
		t.Errorf("%s: read %v x%d (%dx%dx%d), want %v x%d; values equal to the reference: %v",
			filepath.Base(path), s.Type, s.Pages, s.W, s.H, s.C, wantType, wantPages, slices.Equal(s.Data, a.Data))
	}
}

// TestTifffileWritesWeRead: stacks tifffile wrote (every type, both byte orders, several
// strips, zlib with and without predictor, RGB, an ImageJ hyperstack) decode to exactly the
// values tifffile reads back.
func TestTifffileWritesWeRead(t *testing.T) {
	py := fmttest.Python(t, "numpy", "tifffile")
	dir := t.TempDir()
	var written map[string]struct {
		Pages       int    `json:"pages"`
		DType       string `json:"dtype"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(fmttest.RunPython(t, py, tifffileWrite, dir), &written); err != nil {
		t.Fatal(err)
	}
	if len(written) != 13 {
		t.Fatalf("tifffile wrote %d files, want 13", len(written))
	}
	for name, w := range written {
		typ, err := dtype.Parse(w.DType)
		if err != nil {
			t.Fatal(err)
		}
		sameAsNPY(t, filepath.Join(dir, name+".tif"), filepath.Join(dir, name+".npy"), typ, w.Pages)
	}
	f, _ := os.Open(filepath.Join(dir, "u16_imagej.tif"))
	defer f.Close()
	// tifffile's description drops the trailing newline ImageJ writes; we keep the exact text.
	if s, err := Decode(f); err != nil || strings.TrimSpace(s.Meta.Description) != written["u16_imagej"].Description ||
		!strings.HasPrefix(s.Meta.Description, "ImageJ=") || s.Meta.XResolution != [2]uint32{5, 1} {
		t.Errorf("ImageJ metadata: %+v, %v", s.Meta, err)
	}
}

// TestLibtiffCodings: libtiff's tiffcp re-encodes tifffile's stacks with LZW, Deflate and
// PackBits, predictors 2 and 3, big-endian byte order and one-row strips (all lossless), and
// we read the same values; tiled output is refused with a clear error.
func TestLibtiffCodings(t *testing.T) {
	py := fmttest.Python(t, "numpy", "tifffile")
	tiffcp := fmttest.Tool(t, "tiffcp", "libtiff-tools")
	dir := t.TempDir()
	fmttest.RunPython(t, py, tifffileWrite, dir)
	cases := []struct {
		src             string
		args            []string
		typ             dtype.Type
		pages           int
		comp, predictor int
		order           string
	}{
		{"u16_pages", []string{"-c", "lzw"}, dtype.Uint16, 4, LZW, 1, "II"},
		{"u16_pages", []string{"-c", "lzw:2"}, dtype.Uint16, 4, LZW, 2, "II"},
		{"u16_pages", []string{"-c", "zip:2"}, dtype.Uint16, 4, Deflate, 2, "II"},
		{"u16_pages", []string{"-c", "packbits"}, dtype.Uint16, 4, PackBits, 1, "II"},
		{"u16_pages", []string{"-B", "-c", "lzw:2"}, dtype.Uint16, 4, LZW, 2, "MM"},
		{"u16_pages", []string{"-r", "1"}, dtype.Uint16, 4, None, 1, "II"},
		{"u8_pages", []string{"-c", "packbits"}, dtype.Uint8, 3, PackBits, 1, "II"},
		{"u8_pages", []string{"-B", "-c", "lzw:2"}, dtype.Uint8, 3, LZW, 2, "MM"},
		{"i16_pages", []string{"-c", "zip:2"}, dtype.Int16, 2, Deflate, 2, "II"},
		{"f32_pages", []string{"-c", "lzw:3"}, dtype.Float32, 5, LZW, 3, "II"},
		{"f32_pages", []string{"-c", "zip:3"}, dtype.Float32, 5, Deflate, 3, "II"},
		{"f32_pages", []string{"-c", "lzw:2"}, dtype.Float32, 5, LZW, 2, "II"},
		{"f32_pages", []string{"-B", "-c", "zip:2"}, dtype.Float32, 5, Deflate, 2, "MM"},
		{"f32_pages_be", []string{"-L", "-c", "none"}, dtype.Float32, 2, None, 1, "II"},
		{"f64_page", []string{"-c", "lzw:3"}, dtype.Float64, 1, LZW, 3, "II"},
		{"rgb8", []string{"-c", "lzw:2"}, dtype.Uint8, 1, LZW, 2, "II"},
		// Not tested: predictor 3 in big-endian files (-B -c lzw:3). libtiff 4.5 writes
		// their byte planes least significant first and reads them back wrongly itself.
	}
	for i, c := range cases {
		out := filepath.Join(dir, c.src+"-"+strings.Join(c.args, "")+".tif")
		cmd := exec.Command(tiffcp, append(c.args, filepath.Join(dir, c.src+".tif"), out)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("case %d: tiffcp %v: %v: %s", i, c.args, err, bytes.TrimSpace(msg))
			continue
		}
		b, _ := os.ReadFile(out)
		cfg, err := DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Compression != c.comp || cfg.Predictor != c.predictor || cfg.ByteOrder != c.order {
			t.Errorf("case %d (tiffcp %v): config %+v, %v; want compression %d, predictor %d, %s", i, c.args, cfg, err, c.comp, c.predictor, c.order)
		}
		sameAsNPY(t, out, filepath.Join(dir, c.src+".npy"), c.typ, c.pages)
	}
	tiled := filepath.Join(dir, "tiled.tif")
	if msg, err := exec.Command(tiffcp, "-t", "-w", "16", "-l", "16", filepath.Join(dir, "u16_pages.tif"), tiled).CombinedOutput(); err != nil {
		t.Fatalf("tiffcp -t: %v: %s", err, msg)
	}
	b, _ := os.ReadFile(tiled)
	if _, err := Decode(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "tiled TIFF not supported") {
		t.Errorf("tiled file: err = %v", err)
	}
}

// TestWeWriteTheyRead: stacks Encode wrote are read by tifffile with the expected shape,
// type, values (quantized by our rule), compression, photometric interpretation, description
// and resolution, and by libtiff (tiffcp copies them, and the copy reads back the same).
func TestWeWriteTheyRead(t *testing.T) {
	py := fmttest.Python(t, "numpy", "tifffile")
	dir := t.TempDir()
	meta := Meta{Description: "ImageJ=1.53t\nimages=3\nslices=3\nunit=micron\nspacing=0.25",
		XResolution: [2]uint32{40000, 1000}, YResolution: [2]uint32{40000, 1000}, ResolutionUnit: 1}
	cases := []struct {
		name        string
		s           *Stack
		t           dtype.Type
		comp        int
		shape       []int
		photometric int
	}{
		{"u8", randomStack(30, 20, 1, 3, dtype.Uint8, 1), dtype.Uint8, None, []int{3, 20, 30}, 1},
		{"u16", randomStack(300, 70, 1, 3, dtype.Uint16, 2), dtype.Uint16, None, []int{3, 70, 300}, 1},
		{"u16_deflate", randomStack(300, 70, 1, 3, dtype.Uint16, 3), dtype.Uint16, Deflate, []int{3, 70, 300}, 1},
		{"i16", randomStack(31, 17, 1, 2, dtype.Int16, 4), dtype.Int16, None, []int{2, 17, 31}, 1},
		{"f16", randomStack(31, 17, 1, 2, dtype.Float16, 5), dtype.Float16, None, []int{2, 17, 31}, 1},
		{"f32", randomStack(64, 48, 1, 4, dtype.Float32, 6), dtype.Float32, None, []int{4, 48, 64}, 1},
		{"f32_deflate", randomStack(64, 48, 1, 4, dtype.Float32, 7), dtype.Float32, Deflate, []int{4, 48, 64}, 1},
		{"rgb8", randomStack(24, 16, 3, 1, dtype.Uint8, 8), dtype.Uint8, None, []int{16, 24, 3}, 2},
	}
	var paths []string
	for _, c := range cases {
		c.s.Meta = meta
		p := filepath.Join(dir, c.name+".tif")
		var b bytes.Buffer
		if _, err := Encode(&b, c.s, c.t, &EncodeOptions{Compression: c.comp}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	var read map[string]struct {
		Pages       int      `json:"pages"`
		Shape       []int    `json:"shape"`
		DType       string   `json:"dtype"`
		Compression int      `json:"compression"`
		Photometric int      `json:"photometric"`
		Description string   `json:"description"`
		Software    string   `json:"software"`
		XRes        []uint32 `json:"xres"`
		Unit        int      `json:"unit"`
	}
	if err := json.Unmarshal(fmttest.RunPython(t, py, tifffileRead, paths...), &read); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		r := read[paths[i]]
		want := make([]float32, len(c.s.Data))
		for j, v := range c.s.Data {
			q, _ := c.t.Quantize(v)
			want[j] = float32(q)
		}
		a, err := npy.ReadFile(paths[i] + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		if r.DType != c.t.String() || !slices.Equal(r.Shape, c.shape) || r.Pages != c.s.Pages || !slices.Equal(a.Data, want) {
			t.Errorf("%s: tifffile reads %s %v (%d pages), want %v %v (%d); values equal: %v", c.name, r.DType, r.Shape, r.Pages, c.t, c.shape, c.s.Pages, slices.Equal(a.Data, want))
		}
		if r.Compression != max(c.comp, None) || r.Photometric != c.photometric || r.Description != meta.Description ||
			r.Software != "FlowDiff-Go" || !slices.Equal(r.XRes, meta.XResolution[:]) || r.Unit != 1 {
			t.Errorf("%s: tifffile sees compression %d, photometric %d, description %q, software %q, resolution %v unit %d",
				c.name, r.Compression, r.Photometric, r.Description, r.Software, r.XRes, r.Unit)
		}
	}
	tiffcp, err := exec.LookPath("tiffcp")
	if err != nil {
		t.Log("tiffcp absent: libtiff reading not checked")
		return
	}
	for i, c := range cases {
		out := paths[i] + ".libtiff.tif"
		if msg, err := exec.Command(tiffcp, paths[i], out).CombinedOutput(); err != nil || len(bytes.TrimSpace(msg)) > 0 {
			t.Errorf("%s: libtiff: %v: %s", c.name, err, msg)
			continue
		}
		sameAsNPY(t, out, paths[i]+".npy", c.t, c.s.Pages)
	}
}
