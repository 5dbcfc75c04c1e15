package operators

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/formats/tiff"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// KernelBlurConfig configures blur.kernel.
type KernelBlurConfig struct {
	Path      string `yaml:"path" check:"required,nonempty" doc:"kernel (PSF) file: .npy (2-D float32/float64), .png (8- or 16-bit gray) or .tif/.tiff (one page, gray, 8/16-bit integer or 32-bit float); odd height and width, at most 255x255; relative paths are relative to the working directory (where flowdiff run starts, like data.path)"`
	Normalize string `yaml:"normalize" default:"sum" check:"oneof=sum|none" doc:"sum: a PSF: no negative tap, centroid within 1 pixel of the middle pixel, divided by the sum of its taps (images always are); none: use the taps as stored (.npy only)"`
}

// Check implements schema.Checker: the file must load, so a bad path or file is reported at
// validation time with the field's line.
func (c *KernelBlurConfig) Check() []schema.Problem {
	if _, err := c.load(); err != nil {
		return []schema.Problem{{Field: "path", Msg: err.Error()}}
	}
	return nil
}

// load reads the kernel file and normalizes it as configured.
func (c *KernelBlurConfig) load() (*Kernel, error) {
	k, isImage, err := LoadKernel(c.Path)
	if err != nil {
		return nil, err
	}
	if c.Normalize == "none" && isImage {
		return nil, fmt.Errorf("kernel file %s: normalize: none needs a .npy kernel; an image kernel is always normalized to sum 1", c.Path)
	}
	if c.Normalize != "none" {
		if err := checkPSF(k); err != nil {
			return nil, fmt.Errorf("kernel file %s: %w", c.Path, err)
		}
		s := k.Sum()
		for i := range k.K {
			k.K[i] /= s
		}
	}
	return k, nil
}

// psfCentroidSlack is how far, in pixels along each axis, a PSF's centroid may lie from the
// kernel's middle pixel: further, and the blur would shift the image as well as blur it.
const psfCentroidSlack = 1.0

// checkPSF checks what a point-spread function to be normalized must be: no negative tap
// (light is not subtracted), a positive sum, and a centroid Σ k·(a, b) / Σ k within
// psfCentroidSlack of the middle pixel. Errors say what to fix.
func checkPSF(k *Kernel) error {
	for i, v := range k.K {
		if v < 0 {
			return fmt.Errorf("tap (%d,%d) (row, column) is %g; a PSF has no negative taps: clip them to 0 (background subtracted too far) or use normalize: none for a signed kernel in .npy", i/k.W, i%k.W, v)
		}
	}
	s := k.Sum()
	if !(s > 0) {
		return fmt.Errorf("taps sum to %g; a blur kernel must have a positive sum to be normalized", s)
	}
	var my, mx float64
	for a := range k.H {
		for b := range k.W {
			my += float64(a) * k.At(a, b)
			mx += float64(b) * k.At(a, b)
		}
	}
	cy, cx := k.center()
	dy, dx := my/s-float64(cy), mx/s-float64(cx)
	if math.Abs(dy) > psfCentroidSlack || math.Abs(dx) > psfCentroidSlack {
		return fmt.Errorf("the PSF's centroid is %.2f rows and %.2f columns from the middle pixel (%d,%d); it would shift the image: crop the kernel so that the PSF is centered", dy, dx, cy, cx)
	}
	return nil
}

// KernelBlur is blur.kernel: y = k * x per channel with a kernel read from a file, zero
// padding, "same" size, kernel center ((kh-1)/2, (kw-1)/2). Kernel files must have odd sides
// (the center is then the middle pixel); NewKernelBlurFrom also takes even ones, centered as
// in scipy.signal.convolve2d. No per-sample parameters.
type KernelBlur struct{ convOp }

// NewKernelBlur builds blur.kernel, reading the kernel file; an empty normalize takes the
// documented default. Errors name the file.
func NewKernelBlur(cfg KernelBlurConfig) (*KernelBlur, error) {
	schema.FillDefaults(&cfg)
	if cfg.Normalize != "sum" && cfg.Normalize != "none" {
		return nil, fmt.Errorf("blur.kernel: normalize must be sum or none, got %q", cfg.Normalize)
	}
	k, err := cfg.load()
	if err != nil {
		return nil, fmt.Errorf("blur.kernel: %w", err)
	}
	return &KernelBlur{convOp{name: "blur.kernel", kernel: k}}, nil
}

// NewKernelBlurFrom builds a blur with the given kernel (not normalized, not copied).
func NewKernelBlurFrom(k *Kernel) (*KernelBlur, error) {
	if err := validateKernel(k); err != nil {
		return nil, fmt.Errorf("blur.kernel: %w", err)
	}
	return &KernelBlur{convOp{name: "blur.kernel", kernel: k}}, nil
}

// LoadKernel reads a 2-D kernel from a .npy file (float32 or float64, shape [kh, kw]), an 8-
// or 16-bit PNG (color is reduced to luma; samples are v/255 or v/65535) or a one-page TIFF
// (gray; 8/16-bit integer samples as v/255 or v/65535, 32-bit float as stored), with odd
// height and width. isImage reports an image file. The taps are returned as stored; errors
// name the file.
func LoadKernel(path string) (k *Kernel, isImage bool, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("kernel file %s: %w", path, err)
		}
	}()
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".npy":
		a, err := npy.ReadFile(path)
		if err != nil {
			return nil, false, strip(err, path)
		}
		if len(a.Shape) != 2 {
			return nil, false, fmt.Errorf("array has shape %v; a kernel must be 2-D [height, width]", a.Shape)
		}
		k = &Kernel{H: a.Shape[0], W: a.Shape[1], K: make([]float64, len(a.Data))}
		for i, v := range a.Data {
			k.K[i] = float64(v)
		}
	case ".png":
		if k, err = loadImageKernel(path); err != nil {
			return nil, true, err
		}
		isImage = true
	case ".tif", ".tiff":
		if k, err = loadTIFFKernel(path); err != nil {
			return nil, true, err
		}
		isImage = true
	default:
		return nil, false, fmt.Errorf("unknown kernel format %q: use .npy, .png, .tif or .tiff", ext)
	}
	if err := validateKernel(k); err != nil {
		return nil, isImage, err
	}
	if k.H%2 == 0 || k.W%2 == 0 {
		return nil, isImage, fmt.Errorf("kernel is %dx%d (height x width); a kernel file needs odd sides so that its center is a pixel: crop or pad it by one row or column", k.H, k.W)
	}
	return k, isImage, nil
}

// strip removes the file name that an inner error repeats (an *fs.PathError, or a leading
// "path: "), since LoadKernel names the file once itself.
func strip(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	if s, ok := strings.CutPrefix(err.Error(), path+": "); ok {
		return errors.New(s)
	}
	return err
}

func loadImageKernel(path string) (*Kernel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, strip(err, path)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f) // header first: refuse a huge image before decoding it
	if err != nil {
		return nil, err
	}
	if cfg.Width > MaxKernelSize || cfg.Height > MaxKernelSize {
		return nil, fmt.Errorf("image is %dx%d; a kernel is at most %dx%d", cfg.Width, cfg.Height, MaxKernelSize, MaxKernelSize)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	img, err := png.Decode(f)
	if err != nil {
		return nil, err
	}
	r := img.Bounds()
	k := &Kernel{H: r.Dy(), W: r.Dx(), K: make([]float64, r.Dx()*r.Dy())}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			g := color.Gray16Model.Convert(img.At(x, y)).(color.Gray16)
			k.K[(y-r.Min.Y)*k.W+(x-r.Min.X)] = float64(g.Y) / 65535
		}
	}
	return k, nil
}

// loadTIFFKernel reads a one-page gray TIFF with core/formats/tiff, checking the header
// before the pixels are read; integer samples are scaled to [0, 1] like PNG ones.
func loadTIFFKernel(path string) (*Kernel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, strip(err, path)
	}
	defer f.Close()
	cfg, err := tiff.DecodeConfig(f)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Width > MaxKernelSize || cfg.Height > MaxKernelSize:
		return nil, fmt.Errorf("image is %dx%d; a kernel is at most %dx%d", cfg.Width, cfg.Height, MaxKernelSize, MaxKernelSize)
	case cfg.Pages != 1:
		return nil, fmt.Errorf("TIFF has %d pages; a kernel is one 2-D image: save the PSF's in-focus plane alone", cfg.Pages)
	case cfg.SamplesPerPixel != 1:
		return nil, fmt.Errorf("TIFF has %d samples per pixel; a kernel is one gray channel", cfg.SamplesPerPixel)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	s, err := tiff.Decode(f)
	if err != nil {
		return nil, err
	}
	scale := 1.0
	if s.Type.Integer() {
		_, hi := s.Type.Range()
		scale = 1 / hi
	}
	k := &Kernel{H: s.H, W: s.W, K: make([]float64, len(s.Data))}
	for i, v := range s.Data {
		k.K[i] = float64(v) * scale
	}
	return k, nil
}

// MotionBlurConfig configures blur.motion.
type MotionBlurConfig struct {
	Length float64 `yaml:"length" default:"9" check:">=1,<=253" doc:"length of the straight motion path, pixels, 1-253"`
	Angle  float64 `yaml:"angle" default:"0" doc:"direction of motion, degrees counter-clockwise from the +x (rightward) image axis"`
}

// MotionBlur is blur.motion: y = k * x per channel with k the normalized image of a straight
// segment of the given length through the kernel center at the given angle, zero padding. The
// segment is sampled at 16 points per pixel of length (midpoint rule) and each point is
// splatted bilinearly; the kernel is odd-sized and trimmed of all-zero borders. No per-sample
// parameters.
type MotionBlur struct{ convOp }

// NewMotionBlur builds blur.motion; a zero length takes the documented default.
func NewMotionBlur(cfg MotionBlurConfig) (*MotionBlur, error) {
	schema.FillDefaults(&cfg)
	if !(cfg.Length >= 1 && cfg.Length <= MaxKernelSize-2) || math.IsNaN(cfg.Angle) || math.IsInf(cfg.Angle, 0) {
		return nil, fmt.Errorf("blur.motion: length must be in [1, %d] and angle finite, got %v, %v", MaxKernelSize-2, cfg.Length, cfg.Angle)
	}
	return &MotionBlur{convOp{name: "blur.motion", kernel: motionKernel(cfg.Length, cfg.Angle)}}, nil
}

// motionKernel rasterizes the motion path (see MotionBlur).
func motionKernel(length, angleDeg float64) *Kernel {
	r := int(math.Ceil(length/2)) + 1
	size := 2*r + 1
	k := make([]float64, size*size)
	th := angleDeg * math.Pi / 180
	dx, dy := math.Cos(th), -math.Sin(th) // image rows grow downwards
	m := max(1, int(math.Ceil(16*length)))
	for i := range m {
		t := -length/2 + length*(float64(i)+0.5)/float64(m)
		px, py := float64(r)+t*dx, float64(r)+t*dy
		x0, y0 := math.Floor(px), math.Floor(py)
		fx, fy := px-x0, py-y0
		for _, s := range [4]struct {
			x, y int
			w    float64
		}{
			{int(x0), int(y0), (1 - fx) * (1 - fy)}, {int(x0) + 1, int(y0), fx * (1 - fy)},
			{int(x0), int(y0) + 1, (1 - fx) * fy}, {int(x0) + 1, int(y0) + 1, fx * fy},
		} {
			if s.w > 0 && s.x >= 0 && s.x < size && s.y >= 0 && s.y < size {
				k[s.y*size+s.x] += s.w
			}
		}
	}
	// Trim zero rings symmetrically, keeping the kernel centered.
	for r > 0 && ringZero(k, size, r) {
		r--
	}
	n := 2*r + 1
	off := (size - n) / 2
	out := &Kernel{H: n, W: n, K: make([]float64, n*n)}
	s := 0.0
	for a := range n {
		for b := range n {
			out.K[a*n+b] = k[(a+off)*size+b+off]
			s += out.K[a*n+b]
		}
	}
	for i := range out.K {
		out.K[i] /= s
	}
	return out
}

// ringZero reports whether the ring at Chebyshev distance r from the center is all zero.
func ringZero(k []float64, size, r int) bool {
	c := size / 2
	for a := c - r; a <= c+r; a++ {
		for b := c - r; b <= c+r; b++ {
			if max(abs(a-c), abs(b-c)) == r && k[a*size+b] != 0 {
				return false
			}
		}
	}
	return true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func init() {
	registry.Register(registry.Entry{
		ID:      "blur.kernel",
		Kind:    registry.KindOperator,
		Linear:  true,
		Summary: "blur with a kernel read from a .npy, PNG or TIFF file, zero padding, same size",
		Config:  func() any { return &KernelBlurConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewKernelBlur(*cfg.(*KernelBlurConfig)) },
	})
	registry.Register(registry.Entry{
		ID:      "blur.motion",
		Kind:    registry.KindOperator,
		Linear:  true,
		Summary: "linear motion blur (length pixels at angle degrees), zero padding, same size",
		Config:  func() any { return &MotionBlurConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewMotionBlur(*cfg.(*MotionBlurConfig)) },
	})
}

var (
	_ part.LinearOperator = (*KernelBlur)(nil)
	_ GraphOperator       = (*KernelBlur)(nil)
	_ part.LinearOperator = (*MotionBlur)(nil)
	_ GraphOperator       = (*MotionBlur)(nil)
	_ schema.Checker      = (*KernelBlurConfig)(nil)
)
