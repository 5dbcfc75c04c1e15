package formats

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/mrc"
	"github.com/flowdiff/flowdiff-go/core/formats/tiff"
)

// ramp returns n values from lo in steps of step.
func ramp(n int, lo, step float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + float32(i)*step
	}
	return v
}

// quantized is what storing v as t gives back, and how many values t clips.
func quantized(v []float32, t dtype.Type) ([]float32, int) {
	out := make([]float32, len(v))
	n := 0
	for i, x := range v {
		q, c := t.Quantize(x)
		out[i] = float32(q)
		if c {
			n++
		}
	}
	return out, n
}

// TestWriteReadRoundTrip writes an image in each format and type and reads back the
// quantized values, dimensions, type and metadata, with the clip count Write returned.
func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	mrcMeta := &mrc.Header{NX: 5, NY: 4, NZ: 2, Mode: 2, MX: 5, MY: 4, MZ: 1, CellA: [3]float32{5 * 1.338, 4 * 1.338, 1.338},
		Origin: [3]float32{1, 2, 3}, Labels: []string{"particles"}, ExtHeader: []byte("extended"), MapC: 1, MapR: 2, MapS: 3}
	cases := []struct {
		file string
		img  Image
		meta func(*Image) bool
	}{
		{"u16.tif", Image{W: 6, H: 5, C: 1, N: 3, SourceType: dtype.Uint16, Data: ramp(90, -1000, 900),
			Meta: &tiff.Meta{Description: "ImageJ=1.53t\nimages=3\n"}},
			func(m *Image) bool { return m.Meta.(*tiff.Meta).Description == "ImageJ=1.53t\nimages=3\n" }},
		{"f32.tiff", Image{W: 6, H: 5, C: 3, N: 1, SourceType: dtype.Float32, Data: ramp(90, -1, 0.123)}, nil},
		{"stack.mrcs", Image{W: 5, H: 4, C: 1, N: 2, SourceType: dtype.Float32, Data: ramp(40, -3, 0.17), Meta: mrcMeta},
			func(m *Image) bool {
				h := m.Meta.(*mrc.Header)
				return math.Abs(h.VoxelSize()[0]-1.338) < 1e-6 && slices.Equal(h.Labels, mrcMeta.Labels) &&
					string(h.ExtHeader) == "extended" && h.Origin == mrcMeta.Origin && h.ISPG == 0
			}},
		{"volume.mrc", Image{W: 3, H: 3, C: 1, N: 3, SourceType: dtype.Int16, Data: ramp(27, -40000, 3000)},
			func(m *Image) bool { return m.Meta.(*mrc.Header).ISPG == 1 }},
		{"u8.npy", Image{W: 4, H: 2, C: 3, N: 2, SourceType: dtype.Uint8, Data: ramp(48, -5, 6)},
			func(m *Image) bool { return slices.Equal(m.Meta.(*NPYMeta).Shape, []int{2, 2, 4, 3}) }},
		{"rank2.npy", Image{W: 4, H: 3, C: 1, N: 1, SourceType: dtype.Float16, Data: ramp(12, 0, 0.1), Meta: &NPYMeta{Shape: []int{3, 4}}},
			func(m *Image) bool { return slices.Equal(m.Meta.(*NPYMeta).Shape, []int{3, 4}) }},
		{"g8.png", Image{W: 7, H: 3, C: 1, N: 1, SourceType: dtype.Uint8, Data: ramp(21, -20, 14)}, nil},
		{"g16.PNG", Image{W: 7, H: 3, C: 1, N: 1, SourceType: dtype.Uint16, Data: ramp(21, 0, 4000)}, nil},
		{"rgb8.png", Image{W: 3, H: 2, C: 3, N: 1, SourceType: dtype.Uint8, Data: ramp(18, 0, 20)}, nil},
		{"rgb16.png", Image{W: 3, H: 2, C: 3, N: 1, SourceType: dtype.Uint16, Data: ramp(18, 0, 5000)}, nil},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.file)
		img := c.img
		clipped, err := Write(p, &img)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		want, wantClipped := quantized(c.img.Data, c.img.SourceType)
		got, err := Read(p)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if clipped != wantClipped || got.W != img.W || got.H != img.H || got.C != img.C || got.N != img.N ||
			got.SourceType != img.SourceType || !slices.Equal(got.Data, want) {
			t.Errorf("%s: clipped %d (want %d), read %dx%dx%d x%d %v, values equal %v", c.file, clipped, wantClipped,
				got.W, got.H, got.C, got.N, got.SourceType, slices.Equal(got.Data, want))
		}
		if c.meta != nil && !c.meta(got) {
			t.Errorf("%s: metadata not kept: %+v", c.file, got.Meta)
		}
	}
}

// TestWriteBack16BitTIFF is the restore rule: a 16-bit TIFF, normalized, changed and
// denormalized, goes back to 16-bit TIFF with values rounded and the clipped ones counted.
func TestWriteBack16BitTIFF(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.tif")
	src := &Image{W: 4, H: 2, C: 1, N: 2, SourceType: dtype.Uint16, Data: []float32{0, 1, 100, 4095, 30000, 65000, 65535, 7,
		8, 9, 10, 11, 12, 13, 14, 15}}
	if _, err := Write(in, src); err != nil {
		t.Fatal(err)
	}
	img, err := Read(in)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Normalize(img, Auto)
	if err != nil || s.Mode != Range || s.Scale != 65535 || s.Offset != 0 {
		t.Fatalf("scaling %+v, %v", s, err)
	}
	for i := range img.Data {
		img.Data[i] += 0.01 // 655.35 in stored units: 65000 and 65535 go past the top
	}
	Denormalize(img, s)
	out := filepath.Join(dir, "out.tif")
	clipped, err := Write(out, img)
	if err != nil || clipped != 2 {
		t.Fatalf("clipped %d, %v; want 2", clipped, err)
	}
	back, err := Read(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range src.Data {
		want := min(float32(math.Round(float64(v)+655.35)), 65535)
		if back.Data[i] != want || back.SourceType != dtype.Uint16 {
			t.Errorf("sample %d: %v became %v (%v), want %v", i, v, back.Data[i], back.SourceType, want)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	one := func(t dtype.Type) *Image { return &Image{W: 1, H: 1, C: 1, N: 1, SourceType: t, Data: []float32{1}} }
	cases := []struct {
		file string
		img  *Image
		want string
	}{
		{"x.bmp", one(dtype.Uint8), `extension ".bmp" unknown`},
		{"x.jpg", one(dtype.Uint8), "writing JPEG is not supported"},
		{"x.png", &Image{W: 1, H: 1, C: 1, N: 2, SourceType: dtype.Uint8, Data: []float32{1, 2}}, "PNG holds one image, not 2"},
		{"x.png", one(dtype.Float32), "not float32"},
		{"x.png", one(dtype.Invalid), "not invalid"},
		{"x.tif", &Image{W: 1, H: 1, C: 1, N: 1, SourceType: dtype.Uint16, Data: []float32{float32(math.NaN())}}, "sample 0 is NaN"},
		{"x.mrc", &Image{W: 1, H: 1, C: 3, N: 1, Data: []float32{1, 2, 3}}, "one sample per pixel"},
		{"x.npy", &Image{W: 2, H: 1, C: 1, N: 1, Data: []float32{1}}, "needs 2 samples, has 1"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.file)
		_, err := Write(p, c.img)
		if err == nil || !strings.Contains(err.Error(), c.want) || (!strings.Contains(err.Error(), p) && !strings.Contains(c.want, "extension")) {
			t.Errorf("%s: err = %v, want %q and the path", c.file, err, c.want)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s: a failed write left a file", c.file)
		}
	}
}

// TestReadJPEG reads an 8-bit gray JPEG with the values image/jpeg decodes.
func TestReadJPEG(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 16, 8))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 2)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "g.JPEG")
	os.WriteFile(p, b.Bytes(), 0o644)
	dec, _ := jpeg.Decode(bytes.NewReader(b.Bytes()))
	img, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 128)
	for i, v := range dec.(*image.Gray).Pix {
		want[i] = float32(v)
	}
	if img.Format != "jpeg" || img.C != 1 || img.SourceType != dtype.Uint8 || !slices.Equal(img.Data, want) {
		t.Errorf("read %s %d channels %v", img.Format, img.C, img.SourceType)
	}
}

// TestReadErrorsNameTheFile: a corrupt file of each format fails with its path in the error.
func TestReadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.png", "a.jpg", "a.tif", "a.mrcs", "a.npy"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("not an image at all, not even close"), 0o644)
		if _, err := Read(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want the path in it", name, err)
		}
	}
	p := filepath.Join(dir, "bad.npy")
	os.WriteFile(p, npyOfShape(t, []int{2, 2, 2, 2, 2}), 0o644)
	if _, err := Read(p); err == nil || !strings.Contains(err.Error(), "want (H, W)") {
		t.Errorf("rank-5 npy: err = %v", err)
	}
}
