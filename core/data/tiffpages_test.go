package data

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/tiff"
)

// writeStack writes a TIFF stack with core/formats/tiff.
func writeStack(t *testing.T, path string, s *tiff.Stack) {
	t.Helper()
	var b bytes.Buffer
	if _, err := tiff.Encode(&b, s, s.Type, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadFolderMultiPageTIFF: a 3-page 16-bit stack loads as three images named #pageK
// with values v/65535 (exact in float32 to 1e-7 relative); an RGB page read as gray is the
// BT.601 luma; a float32 page keeps its values.
func TestLoadFolderMultiPageTIFF(t *testing.T) {
	dir := t.TempDir()
	vals := make([]float32, 3*2*4)
	for i := range vals {
		vals[i] = float32(i * 2731) // up to 62813
	}
	writeStack(t, filepath.Join(dir, "a_stack.tif"), &tiff.Stack{W: 4, H: 2, C: 1, Pages: 3, Type: dtype.Uint16, Data: vals})
	writeStack(t, filepath.Join(dir, "b_rgb.tiff"), &tiff.Stack{W: 4, H: 2, C: 3, Pages: 1, Type: dtype.Uint8,
		Data: append(make([]float32, 21), 255, 0, 0)})
	writeStack(t, filepath.Join(dir, "c_float.tif"), &tiff.Stack{W: 4, H: 2, C: 1, Pages: 1, Type: dtype.Float32,
		Data: []float32{0, 0.25, 0.5, 1, 0.125, 0.75, 0.3, 0.9}})
	d, err := LoadFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 5 || !strings.HasSuffix(d.Names[2], "a_stack.tif#page2") || strings.Contains(d.Names[3], "#") {
		t.Fatalf("%d images, names %v", d.Len(), d.Names)
	}
	for i, v := range vals {
		if got := d.Images.Data[i]; math.Abs(float64(got)-float64(v)/65535) > 1e-7 {
			t.Fatalf("sample %d: %v, want %v/65535", i, got, v)
		}
	}
	if got := d.Images.Image(3).Data[7]; math.Abs(float64(got)-0.299) > 1e-6 {
		t.Errorf("red pixel as gray: %v, want 0.299", got)
	}
	if got := d.Images.Image(4).Data; got[1] != 0.25 || got[7] != 0.9 {
		t.Errorf("float page: %v", got)
	}
	if _, err := ReadTIFFPages(filepath.Join(dir, "a_stack.tif"), 1, 3); err == nil || !strings.Contains(err.Error(), "1..3") {
		t.Errorf("max side 3: err = %v", err)
	}
}
