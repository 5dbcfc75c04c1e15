package data

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowdiff/flowdiff-go/core/batch"
)

// Normalization selects how stored sample values become [0, 1] intensities.
type Normalization string

const (
	// RangeNormalization divides by the type's full range: v/255 or v/65535 (the default).
	RangeNormalization Normalization = "range"
	// PercentileNormalization rescales each source image between two of its percentiles.
	PercentileNormalization Normalization = "percentile"
)

// Percentile defaults, in percent (CSBDeep's normalize defaults).
const (
	DefaultPercentileLow  = 2.0
	DefaultPercentileHigh = 99.8
)

// FolderOptions configure LoadFolder. The zero value loads every image of the folder, not
// recursively, as grayscale at its native size (all images must then have one size).
type FolderOptions struct {
	// Height and Width are the model image size in pixels; each image (or patch) is fitted by
	// center crop and resample (see the package doc). 0 and 0 keep the native size. Default 0.
	Height int `yaml:"height"`
	Width  int `yaml:"width"`
	// Channels is 1 (grayscale, BT.601 luma) or 3 (RGB). Default 1.
	Channels int `yaml:"channels"`
	// Recursive walks subfolders too (class subfolders such as train/dog/ are walked like any
	// other folder; their names are not used as labels). Default false.
	Recursive bool `yaml:"recursive"`
	// Normalize is "range" (v/255, v/65535) or "percentile". Default "range".
	Normalize Normalization `yaml:"normalize"`
	// PercentileLow and PercentileHigh, in percent (0..100), for Normalize = "percentile".
	// Defaults 2 and 99.8.
	PercentileLow  float64 `yaml:"percentile_low"`
	PercentileHigh float64 `yaml:"percentile_high"`
	// Patches, when positive, cuts this many random patches from each image at native
	// resolution instead of fitting the whole image. Default 0 (whole images).
	Patches int `yaml:"patches"`
	// PatchSize is the side of a square patch in source pixels, fitted afterwards to
	// Height x Width when those are set. Default 0: patches of Height x Width.
	PatchSize int `yaml:"patch_size"`
	// Seed fixes the patch positions; image i of the sorted file list uses the PCG stream
	// (Seed, i). Default 0.
	Seed int64 `yaml:"seed"`
	// Limit loads at most this many files, the first in sorted order. Default 0: all.
	Limit int `yaml:"limit"`
	// MaxSide rejects files whose header declares a side above it, in pixels.
	// Default DefaultMaxSide (16384).
	MaxSide int `yaml:"max_side"`
}

// withDefaults returns o with zero fields set to their documented defaults, or an error for
// an invalid combination.
func (o FolderOptions) withDefaults() (FolderOptions, error) {
	if o.Channels == 0 {
		o.Channels = 1
	}
	if o.Normalize == "" {
		o.Normalize = RangeNormalization
	}
	if o.PercentileLow == 0 && o.PercentileHigh == 0 {
		o.PercentileLow, o.PercentileHigh = DefaultPercentileLow, DefaultPercentileHigh
	}
	switch {
	case o.Channels != 1 && o.Channels != 3:
		return o, fmt.Errorf("folder options: channels %d, want 1 or 3", o.Channels)
	case o.Normalize != RangeNormalization && o.Normalize != PercentileNormalization:
		return o, fmt.Errorf("folder options: normalize %q, want %q or %q", o.Normalize, RangeNormalization, PercentileNormalization)
	case o.Height < 0 || o.Width < 0 || (o.Height == 0) != (o.Width == 0):
		return o, fmt.Errorf("folder options: height %d and width %d must both be positive or both 0", o.Height, o.Width)
	case o.Patches < 0 || o.PatchSize < 0 || o.Limit < 0:
		return o, fmt.Errorf("folder options: patches %d, patch_size %d and limit %d must not be negative", o.Patches, o.PatchSize, o.Limit)
	case o.Patches > 0 && o.PatchSize == 0 && o.Height == 0:
		return o, fmt.Errorf("folder options: patches need patch_size or height and width")
	}
	if o.Normalize == PercentileNormalization && !(o.PercentileLow >= 0 && o.PercentileLow < o.PercentileHigh && o.PercentileHigh <= 100) {
		return o, fmt.Errorf("folder options: percentiles %v and %v, want 0 <= low < high <= 100", o.PercentileLow, o.PercentileHigh)
	}
	return o, nil
}

// imageExts are the file extensions LoadFolder reads (compared in lower case).
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".tif": true, ".tiff": true}

// ListImages returns the image files (.png, .jpg, .jpeg, .tif, .tiff, any case) of dir in
// sorted path order, descending into subfolders when recursive. Hidden files and folders
// (names starting with '.') are skipped.
func ListImages(dir string, recursive bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(d.Name(), ".") && path != dir
		if d.IsDir() {
			if path != dir && (hidden || !recursive) {
				return filepath.SkipDir
			}
			return nil
		}
		if !hidden && d.Type().IsRegular() && imageExts[strings.ToLower(filepath.Ext(path))] {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images in %s: %w", dir, err)
	}
	slices.Sort(files)
	return files, nil
}

// LoadFolder loads the images of dir (see ListImages) into one dataset, normalized, fitted
// and optionally cut into patches as opts say. Names are the file paths, with "#pK@Y,X" for
// patch K whose top-left source pixel is (Y, X). Labels are nil. A folder without images, an
// unreadable or corrupt file, or an image smaller than a patch is an error naming the file.
func LoadFolder(dir string, opts FolderOptions) (*Dataset, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	files, err := ListImages(dir, o.Recursive)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load folder %s: no .png, .jpg, .jpeg, .tif or .tiff files (recursive=%v)", dir, o.Recursive)
	}
	if o.Limit > 0 && len(files) > o.Limit {
		files = files[:o.Limit]
	}
	var parts []*batch.Batch
	var names []string
	for i, path := range files {
		imgs, nm, err := loadOne(path, i, o)
		if err != nil {
			return nil, err
		}
		if len(parts) > 0 && (imgs.H != parts[0].H || imgs.W != parts[0].W) {
			return nil, fmt.Errorf("load folder %s: %s is %dx%d but %s is %dx%d; set height and width to fit all images",
				dir, path, imgs.W, imgs.H, files[0], parts[0].W, parts[0].H)
		}
		parts = append(parts, imgs)
		names = append(names, nm...)
	}
	all, err := batch.Concat(parts...)
	if err != nil {
		return nil, fmt.Errorf("load folder %s: %w", dir, err)
	}
	d := &Dataset{Images: all, Names: names, Source: fmt.Sprintf("folder %s (%d files)", dir, len(files))}
	return d, d.validate()
}

// loadOne decodes the i-th file (every page of a TIFF, see ReadTIFFPages) and normalizes and
// fits (or cuts patches from) each of its images. The pages of a multi-page file are named
// "PATH#pageK"; patch positions of all pages come from the file's PCG stream (Seed, i).
func loadOne(path string, i int, o FolderOptions) (*batch.Batch, []string, error) {
	var imgs []*batch.Batch
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".tif" || ext == ".tiff" {
		var err error
		if imgs, err = ReadTIFFPages(path, o.Channels, o.MaxSide); err != nil {
			return nil, nil, err
		}
	} else {
		img, err := ReadImageFile(path, o.Channels, o.MaxSide)
		if err != nil {
			return nil, nil, err
		}
		imgs = []*batch.Batch{img}
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(i)))
	var parts []*batch.Batch
	var names []string
	for k, img := range imgs {
		name := path
		if len(imgs) > 1 {
			name = fmt.Sprintf("%s#page%d", path, k)
		}
		b, nm, err := fitOne(img, name, rng, o)
		if err != nil {
			return nil, nil, err
		}
		parts, names = append(parts, b), append(names, nm...)
	}
	out, err := batch.Concat(parts...)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", path, err)
	}
	return out, names, nil
}

// fitOne normalizes one image and fits it, or cuts o.Patches patches from it.
func fitOne(img *batch.Batch, path string, rng *rand.Rand, o FolderOptions) (*batch.Batch, []string, error) {
	if o.Normalize == PercentileNormalization {
		if err := NormalizePercentile(img, o.PercentileLow, o.PercentileHigh); err != nil {
			return nil, nil, fmt.Errorf("normalize %s: %w", path, err)
		}
	}
	if o.Patches == 0 {
		if o.Height > 0 {
			img = Fit(img, o.Height, o.Width)
		}
		return img, []string{path}, nil
	}
	ph, pw := o.Height, o.Width
	if o.PatchSize > 0 {
		ph, pw = o.PatchSize, o.PatchSize
	}
	if img.H < ph || img.W < pw {
		return nil, nil, fmt.Errorf("patches of %s: image is %dx%d, smaller than the %dx%d patch", path, img.W, img.H, pw, ph)
	}
	patches := make([]*batch.Batch, o.Patches)
	names := make([]string, o.Patches)
	for k := range o.Patches {
		y0, x0 := rng.IntN(img.H-ph+1), rng.IntN(img.W-pw+1)
		p := Crop(img, y0, x0, ph, pw)
		if o.Height > 0 && (ph != o.Height || pw != o.Width) {
			p = Fit(p, o.Height, o.Width)
		}
		patches[k] = p
		names[k] = fmt.Sprintf("%s#p%d@%d,%d", path, k, y0, x0)
	}
	out, err := batch.Concat(patches...)
	if err != nil {
		return nil, nil, fmt.Errorf("patches of %s: %w", path, err)
	}
	return out, names, nil
}
