package operators

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// NamedParams is an operator whose per-sample parameters belong to named observations rather
// than being drawn: a mask measured with each file. ParamsFor returns the parameters of
// len(names) == in.N images named as core/observe names them (relative file name, then
// "#pageK" for a page of a stack and "#pK@Y,X" for a patch whose top-left pixel is (Y, X));
// rng serves the parts of a chain that draw theirs, as SampleParams would.
type NamedParams interface {
	ParamsFor(ctx context.Context, rng *rand.Rand, names []string, in batch.Shape) (part.Params, error)
}

// FileMaskConfig configures mask.file.
type FileMaskConfig struct {
	Path string `yaml:"path" check:"required,nonempty" doc:"a mask file (.png, .tif/.tiff or .npy; one 2-D gray image; 0 where a pixel is missing, one positive value such as 1 or 255 where it is observed) applied to every image, or a folder of such files matched to the observations (source: observations) by relative name without extension; relative paths are relative to the working directory (where flowdiff run starts, like data.path)"`
}

// Check implements schema.Checker: the mask files must load, so a bad path or file is
// reported at validation time with the field's line.
func (c *FileMaskConfig) Check() []schema.Problem {
	if _, err := loadMaskSet(c.Path); err != nil {
		return []schema.Problem{{Field: "path", Msg: err.Error()}}
	}
	return nil
}

// maskImage is one mask file: h x w values, 1 observed and 0 missing.
type maskImage struct {
	file string
	h, w int
	m    []float32
}

// maskSet is what mask.file's path names: one mask for every image, or masks by stem (the
// relative name without extension, slash-separated).
type maskSet struct {
	path   string
	one    *maskImage
	byStem map[string]*maskImage
}

// maskExts are the mask file extensions (lower case).
var maskExts = []string{".png", ".tif", ".tiff", ".npy"}

func loadMaskSet(p string) (*maskSet, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("mask %s: %w", p, strip(err, p))
	}
	set := &maskSet{path: p}
	if !st.IsDir() {
		set.one, err = readMask(p)
		return set, err
	}
	set.byStem = map[string]*maskImage{}
	err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !slices.Contains(maskExts, strings.ToLower(filepath.Ext(f))) {
			return err
		}
		rel, err := filepath.Rel(p, f)
		if err != nil {
			return err
		}
		stem := strings.TrimSuffix(filepath.ToSlash(rel), filepath.Ext(rel))
		if prev, ok := set.byStem[stem]; ok {
			return fmt.Errorf("mask folder %s: %s and %s both match observations named %s.*; keep one", p, prev.file, f, stem)
		}
		set.byStem[stem], err = readMask(f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(set.byStem) == 0 {
		return nil, fmt.Errorf("mask folder %s holds no mask file (%s)", p, strings.Join(maskExts, ", "))
	}
	return set, nil
}

// readMask reads one mask file with core/formats and checks that it is a 2-D gray image of two
// values, 0 and one positive value.
func readMask(file string) (*maskImage, error) {
	if !slices.Contains(maskExts, strings.ToLower(filepath.Ext(file))) {
		return nil, fmt.Errorf("mask file %s: format %q unknown: use %s", file, filepath.Ext(file), strings.Join(maskExts, ", "))
	}
	img, err := formats.Read(file)
	if err != nil {
		return nil, fmt.Errorf("mask file %w", err)
	}
	if img.N != 1 || img.C != 1 {
		return nil, fmt.Errorf("mask file %s holds %d image(s) of %d channel(s); a mask is one 2-D gray image", file, img.N, img.C)
	}
	m := &maskImage{file: file, h: img.H, w: img.W, m: make([]float32, len(img.Data))}
	var on float32
	for i, v := range img.Data {
		switch {
		case v == 0:
		case v > 0 && (on == 0 || v == on):
			on, m.m[i] = v, 1
		default:
			return nil, fmt.Errorf("mask file %s: pixel (%d,%d) (row, column) is %g; a mask holds 0 where a pixel is missing and one positive value (%g here) where it is observed: threshold it", file, i/img.W, i%img.W, v, on)
		}
	}
	return m, nil
}

// FileMask is mask.file: y = m ⊙ x with a measured mask m read from a file (the same for every
// image and channel) or, for observations, from a file per observation matched by name; a
// patch of an observation gets the same patch of its mask. Linear and self-adjoint. Params:
// "mask" [N,H,W,C] (see MaskKey).
type FileMask struct {
	maskOp
	set *maskSet
}

// NewFileMask builds mask.file, reading the mask files. Errors name the file.
func NewFileMask(cfg FileMaskConfig) (*FileMask, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("mask.file: path is required: a mask file or a folder of masks")
	}
	set, err := loadMaskSet(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("mask.file: %w", err)
	}
	return &FileMask{maskOp: maskOp{name: "mask.file"}, set: set}, nil
}

// SampleParams implements Operator: the one mask for every image. A folder of per-observation
// masks needs the observations' names (ParamsFor).
func (f *FileMask) SampleParams(ctx context.Context, _ *rand.Rand, in batch.Shape) (part.Params, error) {
	if f.set.one == nil {
		return nil, fmt.Errorf("mask.file: %s is a folder of masks matched by observation name; images without names (simulated from clean data, or inside op.mixture) cannot use it: give one mask file", f.set.path)
	}
	names := make([]string, in.N)
	return f.ParamsFor(ctx, nil, names, in)
}

// patchName matches the patch suffix core/observe adds to a name: "#pK@Y,X".
var patchName = regexp.MustCompile(`#p[0-9]+@([0-9]+),([0-9]+)$`)

// ParamsFor implements NamedParams: each image's mask, the observation's own (folder) or the
// one mask (file), cut at the patch's position for a patch.
func (f *FileMask) ParamsFor(ctx context.Context, _ *rand.Rand, names []string, in batch.Shape) (part.Params, error) {
	if _, err := f.OutShape(ctx, in); err != nil {
		return nil, err
	}
	if len(names) != in.N {
		return nil, fmt.Errorf("mask.file: %d names for %d images", len(names), in.N)
	}
	out := batch.New(in.N, in.H, in.W, in.C)
	for n, name := range names {
		m := f.set.one
		rel, _, _ := strings.Cut(name, "#")
		if m == nil {
			stem := strings.TrimSuffix(rel, path.Ext(rel))
			if m = f.set.byStem[stem]; m == nil {
				return nil, fmt.Errorf("mask.file: no mask for observation %s in %s: add %s.png (or .tif, .tiff, .npy) there", rel, f.set.path, stem)
			}
		}
		y0, x0, patch := 0, 0, false
		if g := patchName.FindStringSubmatch(name); g != nil {
			y0, _ = strconv.Atoi(g[1])
			x0, _ = strconv.Atoi(g[2])
			patch = true
		}
		switch {
		case !patch && (m.h != in.H || m.w != in.W):
			return nil, fmt.Errorf("mask.file: mask file %s is %dx%d (width x height) but the images%s are %dx%d: the mask must have the observations' size", m.file, m.w, m.h, of(rel), in.W, in.H)
		case patch && (y0+in.H > m.h || x0+in.W > m.w):
			return nil, fmt.Errorf("mask.file: mask file %s is %dx%d (width x height), too small for the %dx%d patch at row %d, column %d of %s: the mask must have the observation's size", m.file, m.w, m.h, in.W, in.H, y0, x0, rel)
		}
		for y := range in.H {
			for x := range in.W {
				v := m.m[(y0+y)*m.w+x0+x]
				base := ((n*in.H+y)*in.W + x) * in.C
				for c := range in.C {
					out.Data[base+c] = v
				}
			}
		}
	}
	return part.Params{MaskKey: out}, nil
}

// of names an observation in an error, when there is a name.
func of(rel string) string {
	if rel == "" {
		return ""
	}
	return " (" + rel + ")"
}

func init() {
	registry.Register(registry.Entry{
		ID:      "mask.file",
		Kind:    registry.KindOperator,
		Linear:  true,
		Summary: "a measured inpainting mask read from a file (one for all images) or a folder (one per observation, by name)",
		Config:  func() any { return &FileMaskConfig{} },
		New:     func(_ context.Context, cfg any) (any, error) { return NewFileMask(*cfg.(*FileMaskConfig)) },
	})
}

var (
	_ part.LinearOperator = (*FileMask)(nil)
	_ GraphOperator       = (*FileMask)(nil)
	_ NamedParams         = (*FileMask)(nil)
	_ schema.Checker      = (*FileMaskConfig)(nil)
)
