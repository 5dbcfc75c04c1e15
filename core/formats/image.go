package formats

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/formats/mrc"
	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/formats/tiff"
)

// MaxFileBytes bounds the size of a file Read accepts (4 GiB).
const MaxFileBytes = 1 << 32

// Image is a stack of N images of H rows of W pixels with C samples each (1 gray, 3 RGB),
// holding the values stored in the file as float32 (no normalization; see Normalize).
type Image struct {
	W, H, C, N int
	// Data holds the samples image by image, row by row, pixel by pixel, RGB interleaved:
	// sample c of pixel (x, y) of image k is Data[((k*H+y)*W+x)*C+c].
	Data []float32
	// Format is the file format read: "png", "jpeg", "tiff", "mrc" or "npy".
	Format string
	// SourceType is the stored sample type; Write stores this type unless it is changed.
	SourceType dtype.Type
	// Meta is the format's header, written back by Write to the same format: *tiff.Meta,
	// *mrc.Header or *NPYMeta; nil for PNG and JPEG.
	Meta any
}

// NPYMeta keeps the shape of a .npy file, so that Write restores its rank.
type NPYMeta struct {
	Shape []int `json:"shape"`
}

// Len is the number of samples the dimensions call for.
func (m *Image) Len() int { return m.W * m.H * m.C * m.N }

// Page returns the samples of image k.
func (m *Image) Page(k int) []float32 {
	n := m.W * m.H * m.C
	return m.Data[k*n : (k+1)*n]
}

// Kinds of file by extension (lower case).
var extFormats = map[string]string{".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff",
	".tiff": "tiff", ".mrc": "mrc", ".mrcs": "mrc", ".npy": "npy"}

// FormatOf returns the format Read and Write use for path, from its extension (any case).
func FormatOf(path string) (string, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if f, ok := extFormats[ext]; ok {
		return f, nil
	}
	return "", fmt.Errorf("%s: extension %q unknown: want .png, .jpg, .jpeg, .tif, .tiff, .mrc, .mrcs or .npy", path, ext)
}

// Read reads the image file at path, choosing the format by extension. Errors name the file.
func Read(path string) (*Image, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d-byte limit", path, st.Size(), int64(MaxFileBytes))
	}
	var img *Image
	switch format {
	case "png", "jpeg":
		img, err = readRaster(f, format)
	case "tiff":
		img, err = readTIFF(f)
	case "mrc":
		img, err = readMRC(f)
	case "npy":
		img, err = readNPY(f)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	img.Format = format
	return img, nil
}

func readTIFF(r io.Reader) (*Image, error) {
	s, err := tiff.Decode(r)
	if err != nil {
		return nil, err
	}
	meta := s.Meta
	return &Image{W: s.W, H: s.H, C: s.C, N: s.Pages, Data: s.Data, SourceType: s.Type, Meta: &meta}, nil
}

func readMRC(r io.Reader) (*Image, error) {
	h, data, err := mrc.Decode(r)
	if err != nil {
		return nil, err
	}
	t, _ := h.Type()
	return &Image{W: int(h.NX), H: int(h.NY), C: 1, N: int(h.NZ), Data: data, SourceType: t, Meta: h}, nil
}

// readNPY maps shapes (H, W), (N, H, W) and (N, H, W, C) with C 1 or 3 to an Image.
func readNPY(r io.Reader) (*Image, error) {
	a, err := npy.Read(r)
	if err != nil {
		return nil, err
	}
	m := &Image{C: 1, N: 1, Data: a.Data, SourceType: a.DType, Meta: &NPYMeta{Shape: a.Shape}}
	s := a.Shape
	switch {
	case len(s) == 2:
		m.H, m.W = s[0], s[1]
	case len(s) == 3:
		m.N, m.H, m.W = s[0], s[1], s[2]
	case len(s) == 4 && (s[3] == 1 || s[3] == 3):
		m.N, m.H, m.W, m.C = s[0], s[1], s[2], s[3]
	default:
		return nil, fmt.Errorf("npy shape %v: want (H, W), (N, H, W) or (N, H, W, C) with C 1 or 3", s)
	}
	return m, nil
}

// Write writes img to path in the format its extension names, storing img.SourceType (float32
// when unset, for TIFF, MRC and .npy), atomically, and returns how many samples were clipped
// to the type's range (integers: rounded half away from zero, then clipped; see
// core/formats/dtype). img.Meta is written back when it belongs to the same format: a TIFF's
// description and resolution, an MRC header (pixel size, origin, labels, extended header;
// statistics, mode and dimensions updated), a .npy's rank. Non-finite values cannot be
// stored as integers: that is an error, not a clip.
func Write(path string, img *Image) (clipped int, err error) {
	format, err := FormatOf(path)
	if err != nil {
		return 0, err
	}
	if err := img.check(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	t := img.SourceType
	if t == dtype.Invalid && format != "png" {
		t = dtype.Float32
	}
	if t.Integer() {
		if i := firstNonFinite(img.Data); i >= 0 {
			return 0, fmt.Errorf("write %s: sample %d is %v, which %v cannot store", path, i, img.Data[i], t)
		}
	}
	var enc func(w io.Writer) (int, error)
	switch format {
	case "png":
		enc, err = pngEncoder(img, t)
	case "jpeg":
		err = errors.New("writing JPEG is not supported (lossy): write .png or .tif")
	case "tiff":
		enc = func(w io.Writer) (int, error) {
			s := &tiff.Stack{W: img.W, H: img.H, C: img.C, Pages: img.N, Type: t, Data: img.Data}
			if m, ok := img.Meta.(*tiff.Meta); ok {
				s.Meta = *m
			}
			return tiff.Encode(w, s, t, nil)
		}
	case "mrc":
		enc, err = mrcEncoder(img, t, strings.EqualFold(filepath.Ext(path), ".mrcs"))
	case "npy":
		enc = func(w io.Writer) (int, error) { return npy.WriteAs(w, npyShape(img), img.Data, t) }
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		var err error
		clipped, err = enc(w)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return clipped, nil
}

func (m *Image) check() error {
	if m.W < 1 || m.H < 1 || m.N < 1 || (m.C != 1 && m.C != 3) {
		return fmt.Errorf("image of %dx%d pixels, %d samples, %d images: want positive sizes and 1 or 3 samples", m.W, m.H, m.C, m.N)
	}
	if len(m.Data) != m.Len() {
		return fmt.Errorf("%dx%dx%d x %d image needs %d samples, has %d", m.W, m.H, m.C, m.N, m.Len(), len(m.Data))
	}
	return nil
}

func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}

// mrcEncoder keeps the header read from an MRC file, with the image's dimensions and mode;
// the pixel size survives a change of dimensions. A new header is an image stack (ISPG 0)
// for .mrcs and a volume (ISPG 1) for .mrc of several sections.
func mrcEncoder(img *Image, t dtype.Type, stack bool) (func(io.Writer) (int, error), error) {
	if img.C != 1 {
		return nil, fmt.Errorf("MRC stores one sample per pixel, the image has %d", img.C)
	}
	mode, err := mrc.ModeOf(t)
	if err != nil {
		return nil, err
	}
	var h mrc.Header
	if m, ok := img.Meta.(*mrc.Header); ok {
		h = *m
		h.Notes = nil
	} else if !stack && img.N > 1 {
		h.ISPG = 1
	}
	voxel := h.VoxelSize()
	resized := h.NX != int32(img.W) || h.NY != int32(img.H) || h.NZ != int32(img.N)
	h.NX, h.NY, h.NZ, h.Mode = int32(img.W), int32(img.H), int32(img.N), mode
	if resized {
		h.MX, h.MY, h.MZ = 0, 0, 0
		h.SetVoxelSize(voxel)
	}
	return func(w io.Writer) (int, error) { return mrc.Encode(w, &h, img.Data) }, nil
}

// npyShape is the shape read, when it still fits the image, or (H, W), (N, H, W) or
// (N, H, W, C).
func npyShape(img *Image) []int {
	if m, ok := img.Meta.(*NPYMeta); ok && fits(m.Shape, img) {
		return m.Shape
	}
	switch {
	case img.C == 3:
		return []int{img.N, img.H, img.W, img.C}
	case img.N == 1:
		return []int{img.H, img.W}
	}
	return []int{img.N, img.H, img.W}
}

// fits reports whether shape s describes img in one of the layouts readNPY accepts.
func fits(s []int, img *Image) bool {
	switch len(s) {
	case 2:
		return img.N == 1 && img.C == 1 && s[0] == img.H && s[1] == img.W
	case 3:
		return img.C == 1 && s[0] == img.N && s[1] == img.H && s[2] == img.W
	case 4:
		return s[0] == img.N && s[1] == img.H && s[2] == img.W && s[3] == img.C
	}
	return false
}
