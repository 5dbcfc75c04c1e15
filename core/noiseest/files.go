package noiseest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
)

// Model names a noise model for EstimatePaths.
type Model string

// The noise models EstimatePaths fits.
const (
	ModelGaussian        Model = "gaussian"
	ModelPoissonGaussian Model = "poisson-gaussian"
)

// Loader reads one image file into a [1, H, W, C] batch in the units the estimate is wanted
// in. DataLoader reads with core/data; another loader (a format package's) can stand in.
type Loader func(path string) (*batch.Batch, error)

// DataLoader returns a Loader over core/data's decoders, the ones a pipeline's folder source
// uses: PNG, JPEG, and TIFF with every page of a stack (core/data.ReadTIFFPages), values in
// [0, 1] by range (v/255, v/65535) or, with normalize = "percentile", by core/data's per-image
// percentile normalization (2nd and 99.8th percentiles), the two normalizations a pipeline's
// data section offers. Color images give their three channels, gray ones one; the pages of
// a stack must share one size.
func DataLoader(normalize data.Normalization) (Loader, error) {
	switch normalize {
	case "", data.RangeNormalization, data.PercentileNormalization:
	default:
		return nil, fmt.Errorf("normalize %q: want %q or %q", normalize, data.RangeNormalization, data.PercentileNormalization)
	}
	return func(path string) (*batch.Batch, error) {
		var pages []*batch.Batch
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".tif" || ext == ".tiff" {
			var err error
			if pages, err = data.ReadTIFFPages(path, 3, 0); err != nil {
				return nil, err
			}
		} else {
			b, err := data.ReadImageFile(path, 3, 0)
			if err != nil {
				return nil, err
			}
			pages = []*batch.Batch{b}
		}
		b, err := batch.Concat(pages...)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if gray(b) {
			g := batch.New(b.N, b.H, b.W, 1)
			for i := range g.Data {
				g.Data[i] = b.Data[3*i]
			}
			b = g
		}
		if normalize == data.PercentileNormalization {
			if err := data.NormalizePercentile(b, data.DefaultPercentileLow, data.DefaultPercentileHigh); err != nil {
				return nil, fmt.Errorf("normalize %s: %w", path, err)
			}
		}
		return b, nil
	}, nil
}

// gray reports whether the three channels of b are equal everywhere.
func gray(b *batch.Batch) bool {
	for i := 0; i < len(b.Data); i += 3 {
		if b.Data[i] != b.Data[i+1] || b.Data[i] != b.Data[i+2] {
			return false
		}
	}
	return true
}

// ExpandPaths returns the image files named by args: files as given, folders replaced by
// their images (core/data.ListImages, sorted, recursively when asked). A folder without
// images is an error.
func ExpandPaths(args []string, recursive bool) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("estimate noise: %w", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		files, err := data.ListImages(a, recursive)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("estimate noise: %s holds no .png, .jpg, .jpeg, .tif or .tiff files", a)
		}
		out = append(out, files...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("estimate noise: name at least one image file or folder")
	}
	return out, nil
}

// FileEstimate is the estimate from one file, or from all of them ("pooled").
type FileEstimate struct {
	File     string            `json:"file"`
	Gaussian *GaussianEstimate `json:"gaussian,omitempty"`
	PG       *PGEstimate       `json:"poisson_gaussian,omitempty"`
}

// Report holds per-file and pooled estimates of one model.
type Report struct {
	Model  Model          `json:"model"`
	Files  []FileEstimate `json:"files"`
	Pooled FileEstimate   `json:"pooled"`
}

// PathOptions configure EstimatePaths.
type PathOptions struct {
	Model    Model // default ModelGaussian
	Gaussian GaussianOptions
	PG       PGOptions
}

// Check returns an error for an unknown model or option, before any file is read.
func (o PathOptions) Check() error {
	if o.Model != "" && !slices.Contains([]Model{ModelGaussian, ModelPoissonGaussian}, o.Model) {
		return fmt.Errorf("model %q: want %q or %q", o.Model, ModelGaussian, ModelPoissonGaussian)
	}
	if _, err := o.Gaussian.withDefaults(); err != nil {
		return err
	}
	_, err := o.PG.withDefaults()
	return err
}

// EstimatePaths loads every file with load and estimates the model per file and pooled over
// all files (every image and channel together). The first file that fails to load or to
// estimate is an error naming it.
func EstimatePaths(files []string, load Loader, opts PathOptions) (*Report, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	if opts.Model == "" {
		opts.Model = ModelGaussian
	}
	r := &Report{Model: opts.Model}
	var all []Plane
	for _, f := range files {
		b, err := load(f)
		if err != nil {
			return nil, err
		}
		planes := Planes(b)
		all = append(all, planes...)
		e, err := estimate(f, planes, opts)
		if err != nil {
			return nil, err
		}
		r.Files = append(r.Files, e)
	}
	name := fmt.Sprintf("pooled (%d files)", len(files))
	if len(files) == 1 {
		name = "pooled (1 file)"
	}
	pooled, err := estimate(name, all, opts)
	if err != nil {
		return nil, err
	}
	r.Pooled = pooled
	return r, nil
}

func estimate(name string, planes []Plane, opts PathOptions) (FileEstimate, error) {
	fe := FileEstimate{File: name}
	if opts.Model == ModelGaussian {
		e, err := EstimateGaussian(planes, opts.Gaussian)
		if err != nil {
			return fe, fmt.Errorf("%s: %w", name, err)
		}
		fe.Gaussian = &e
		return fe, nil
	}
	e, err := EstimatePoissonGaussian(planes, opts.PG)
	if err != nil {
		return fe, fmt.Errorf("%s: %w", name, err)
	}
	fe.PG = &e
	return fe, nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table, one line per file and the pooled line last, each
// estimate with its standard error, then the notes.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := append(slices.Clone(r.Files), r.Pooled)
	var notes []string
	if r.Model == ModelGaussian {
		fmt.Fprintf(tw, "FILE\tSIGMA\tSTDERR\tBLOCKS USED\tMETHOD\n")
		for _, f := range rows {
			e := f.Gaussian
			fmt.Fprintf(tw, "%s\t%.5f\t%.5f\t%d/%d\t%s\n", f.File, e.Sigma, e.StdErr, e.Blocks, e.Blocks+e.Screened, e.Method)
			if e.Note != "" {
				notes = append(notes, f.File+": "+e.Note)
			}
		}
	} else {
		fmt.Fprintf(tw, "FILE\tA (GAIN)\tSTDERR\tB\tSTDERR\tSIGMA=SQRT(B)\tFITTED MEANS\tBLOCKS USED\n")
		for _, f := range rows {
			e := f.PG
			fmt.Fprintf(tw, "%s\t%.5g\t%.2g\t%.4g\t%.2g\t%.5f\t%.3f-%.3f\t%d/%d\n", f.File, e.A, e.StdErrA, e.B, e.StdErrB,
				math.Sqrt(e.B), e.MeanLow, e.MeanHigh, e.Blocks, e.Blocks+e.Screened)
			if e.Note != "" {
				notes = append(notes, f.File+": "+e.Note)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, "note:", n); err != nil {
			return err
		}
	}
	return nil
}
