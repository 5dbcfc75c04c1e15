package data

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// encodeTestImage encodes m in the given format ("png", "jpeg", "tiff").
func encodeTestImage(t testing.TB, m image.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, m)
	case "jpeg":
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95})
	case "tiff":
		err = tiff.Encode(&buf, m, nil)
	case "gif":
		err = gif.Encode(&buf, m, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTIFF16RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ h, w, ch int }{{7, 5, 1}, {16, 16, 1}, {3, 4, 3}} {
		b := batch.New(1, c.h, c.w, c.ch)
		for i := range b.Data {
			b.Data[i] = float32(rng.IntN(65536)) / 65535 // exact values k/65535
		}
		b.Data[0], b.Data[1] = 0, 1
		p := filepath.Join(t.TempDir(), "x.tif")
		if err := WriteTIFF16(p, b); err != nil {
			t.Fatal(err)
		}
		got, err := ReadImageFile(p, c.ch, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Shape != b.Shape {
			t.Fatalf("shape %s, want %s", got.Shape, b.Shape)
		}
		const tol = 1.0 / 65535 / 2
		for i, v := range got.Data {
			if math.Abs(float64(v-b.Data[i])) > tol {
				t.Fatalf("%dx%dx%d: value %d: %v, want %v (tol %g)", c.h, c.w, c.ch, i, v, b.Data[i], tol)
			}
		}
	}
}

func TestPNGRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ch := range []int{1, 3} {
		b := batch.New(1, 9, 11, ch)
		for i := range b.Data {
			b.Data[i] = rng.Float32()
		}
		p := filepath.Join(t.TempDir(), "x.png")
		if err := WritePNG(p, b); err != nil {
			t.Fatal(err)
		}
		got, err := ReadImageFile(p, ch, 0)
		if err != nil {
			t.Fatal(err)
		}
		const tol = 1.0/255/2 + 1e-6
		for i, v := range got.Data {
			if math.Abs(float64(v-b.Data[i])) > tol {
				t.Fatalf("channels %d: value %d: %v, want %v (tol %g)", ch, i, v, b.Data[i], tol)
			}
		}
	}
}

func TestWriteRejects(t *testing.T) {
	dir := t.TempDir()
	nan := batch.New(1, 2, 2, 1)
	nan.Data[3] = float32(math.NaN())
	for _, c := range []struct {
		name string
		b    *batch.Batch
	}{{"two-images", batch.New(2, 2, 2, 1)}, {"two-channels", batch.New(1, 2, 2, 2)}, {"nan", nan}} {
		p := filepath.Join(dir, c.name+".tif")
		if err := WriteTIFF16(p, c.b); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v should name %s", c.name, err, p)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s: file written despite the error", c.name)
		}
	}
}

// TestImageToBatch checks the normalization rules of the package doc on one pixel of each type.
func TestImageToBatch(t *testing.T) {
	r := image.Rect(0, 0, 1, 1)
	gray := image.NewGray(r)
	gray.Pix[0] = 51
	gray16 := image.NewGray16(r)
	gray16.SetGray16(0, 0, color.Gray16{Y: 13107})
	rgb := image.NewNRGBA(r)
	rgb.Pix = []byte{255, 0, 51, 255}
	cases := []struct {
		name string
		img  image.Image
		ch   int
		want []float32
	}{
		{"gray8", gray, 1, []float32{0.2}},
		{"gray8-rgb", gray, 3, []float32{0.2, 0.2, 0.2}},
		{"gray16", gray16, 1, []float32{0.2}},
		{"rgb", rgb, 3, []float32{1, 0, 0.2}},
		{"rgb-luma", rgb, 1, []float32{0.299 + 0.114*0.2}},
	}
	for _, c := range cases {
		b, err := ImageToBatch(c.img, c.ch)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range c.want {
			if math.Abs(float64(b.Data[i]-w)) > 1e-6 {
				t.Errorf("%s: channel %d = %v, want %v (tol 1e-6)", c.name, i, b.Data[i], w)
			}
		}
	}
	if _, err := ImageToBatch(gray, 2); err == nil {
		t.Error("channels 2: no error")
	}
}

// pngWithSize returns a valid 1x1 gray PNG whose IHDR claims w x h (CRC fixed up).
func pngWithSize(t *testing.T, w, h uint32) []byte {
	b := encodeTestImage(t, image.NewGray(image.Rect(0, 0, 1, 1)), "png")
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestDecodeRejects(t *testing.T) {
	small := image.NewGray16(image.Rect(0, 0, 8, 8))
	for i := range small.Pix {
		small.Pix[i] = byte(i * 37)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White})
	cases := []struct {
		name, want string
		data       []byte
		maxSide    int
	}{
		{"huge.png", "each side must be in 1..16384", pngWithSize(t, 16385, 2), 0},
		{"wide.png", "each side must be in 1..100", pngWithSize(t, 101, 1), 100},
		{"trunc.png", "decode", encodeTestImage(t, small, "png")[:40], 0},
		{"trunc.jpg", "decode", encodeTestImage(t, small, "jpeg")[:100], 0},
		{"trunc.tif", "decode", encodeTestImage(t, small, "tiff")[:60], 0},
		{"header.tif", "decode header", encodeTestImage(t, small, "tiff")[:6], 0},
		{"empty.png", "decode header", nil, 0},
		{"text.png", "decode header", []byte("not an image at all"), 0},
		{"anim.gif", `format "gif" not supported`, encodeTestImage(t, pal, "gif"), 0},
	}
	for _, c := range cases {
		_, _, err := DecodeImage(c.data, c.name, c.maxSide)
		if err == nil || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v should name the file and say %q", c.name, err, c.want)
		}
	}
	if _, _, err := DecodeImage(pngWithSize(t, 1, 1), "ok.png", 0); err != nil {
		t.Errorf("valid fixed-up PNG: %v", err)
	}
}

// TestLoadFolderCorrupt checks that a truncated file in a folder fails the load, naming it.
func TestLoadFolderCorrupt(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 6, 6))
	for _, format := range []string{"png", "jpeg", "tiff"} {
		dir := t.TempDir()
		good := encodeTestImage(t, img, format)
		os.WriteFile(filepath.Join(dir, "a."+format), good, 0o644)
		bad := filepath.Join(dir, "b."+format)
		os.WriteFile(bad, good[:len(good)/2], 0o644)
		_, err := LoadFolder(dir, FolderOptions{})
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: error %v should name %s", format, err, bad)
		}
	}
}
