// Package bm3dfiles denoises image files with BM3D (core/bm3d): it is what `flowdiff bm3d`
// runs. Files are read and written by core/formats (PNG, JPEG, TIFF, MRC, .npy); each input
// is written under the output folder with its own name, in its own format and sample type
// (JPEG, which core/formats does not write, as PNG of the same name with .png).
//
// Units: sigma is given in the intensities as read. Integer samples (8- and 16-bit PNG and
// TIFF, MRC modes 0/1/6) are read as [0, 1] of their type's range (value/255, value/65535) and
// written back rounded and clipped to the type; float samples (.npy, float TIFF and MRC) are
// taken as stored, Options.Peak being the intensity of white (default 1), and are never
// clipped. Stacks (N images) and colour (C = 3) are denoised image by image and channel by
// channel with the same sigma. PNG alpha is dropped and palettes expanded (core/formats).
//
// Inputs are never overwritten: an output path that is an input file is refused before any
// work, as are two inputs with the same output name. Outputs are written atomically. A file
// that fails is reported and the others go on.
package bm3dfiles

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/bm3d"
	"github.com/flowdiff/flowdiff-go/core/formats"
)

// Options configure Run.
type Options struct {
	// Sigma is the noise standard deviation in the intensities as read ([0, 1] for integer
	// samples).
	Sigma float64
	// Gain, when > 0, declares Poisson-Gaussian data, var(z) = Gain·(E[z] - Offset) + Sigma²
	// (noise.poisson_gaussian's gain, sigma and offset, in the same units as Sigma): each
	// image is denoised by bm3d.DenoisePG (generalized Anscombe transform, exact unbiased
	// inverse), and Sigma, the read noise, may be 0.
	Gain, Offset float64
	// Peak is the intensity of white of float inputs (0 means 1); integer samples are read
	// into [0, 1].
	Peak float64
	// Profile selects BM3D's parameters (empty: automatic).
	Profile bm3d.Profile
	// Workers is the number of goroutines per image (0: GOMAXPROCS).
	Workers int
	// Log receives one line per file; nil discards.
	Log *slog.Logger
}

// Job is one input and the output it will be written to.
type Job struct {
	Input, Output string
}

// Plan lists the jobs for the inputs (files, or folders whose image files are taken, sorted)
// and the output folder. Its errors are usage errors: no input, an unsupported file,
// two inputs with the same name, an output that would overwrite an input, or a sigma that
// cannot be meant for [0, 1] PNG intensities.
func Plan(inputs []string, outDir string, sigma float64) ([]Job, error) {
	if outDir == "" {
		return nil, fmt.Errorf("no output folder: give --out DIR")
	}
	if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("--out %s is a file, not a folder", outDir)
	}
	var files []string
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("input %w", err)
		}
		if !st.IsDir() {
			files = append(files, in)
			continue
		}
		entries, err := os.ReadDir(in)
		if err != nil {
			return nil, fmt.Errorf("input folder: %w", err)
		}
		n := len(files)
		for _, e := range entries {
			if _, err := formats.FormatOf(e.Name()); err == nil && !e.IsDir() {
				files = append(files, filepath.Join(in, e.Name()))
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("input folder %s holds no image file (.png, .jpg, .tif, .mrc, .npy)", in)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no input: give image files or folders")
	}
	byName := map[string]string{}
	jobs := make([]Job, 0, len(files))
	for _, f := range files {
		format, err := formats.FormatOf(f)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(f)
		switch format {
		case "png", "jpeg":
			if sigma >= 1 {
				return nil, fmt.Errorf("%s: sigma %g is not below 1, but 8-bit images are read as intensities in [0, 1]; "+
					"for noise of %g 8-bit levels give --sigma %.4g (%g/255)", f, sigma, sigma, sigma/255, sigma)
			}
			if format == "jpeg" { // not written (lossy): the result goes to a PNG
				name = strings.TrimSuffix(name, filepath.Ext(name)) + ".png"
			}
		}
		if prev, ok := byName[name]; ok {
			return nil, fmt.Errorf("inputs %s and %s have the same output name %s in %s", prev, f, name, outDir)
		}
		byName[name] = f
		out := filepath.Join(outDir, name)
		if sameFile(f, out) {
			return nil, fmt.Errorf("%s: the output %s is the input itself; choose another --out folder", f, out)
		}
		jobs = append(jobs, Job{Input: f, Output: out})
	}
	return jobs, nil
}

// sameFile reports whether a and b exist and are the same file (links included).
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// Failure is a job that failed.
type Failure struct {
	Job
	Err error
}

// Run denoises every job, going on after a failure, and returns the failures. It stops early
// only when ctx is cancelled (the jobs not started are then reported as failed with ctx's
// error).
func Run(ctx context.Context, jobs []Job, opt Options) []Failure {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var failed []Failure
	for k, j := range jobs {
		if err := ctx.Err(); err != nil {
			for _, rest := range jobs[k:] {
				failed = append(failed, Failure{rest, err})
			}
			break
		}
		start := time.Now()
		if err := denoiseFile(ctx, j, opt, log); err != nil {
			log.Error("bm3d failed", "input", j.Input, "err", err)
			failed = append(failed, Failure{j, err})
			continue
		}
		log.Info("bm3d", "input", j.Input, "output", j.Output, "file", fmt.Sprintf("%d/%d", k+1, len(jobs)),
			"took", time.Since(start).Round(time.Millisecond))
	}
	return failed
}

func denoiseFile(ctx context.Context, j Job, opt Options, log *slog.Logger) error {
	img, err := formats.Read(j.Input)
	if err != nil {
		return err
	}
	peak := opt.Peak
	var scaling *formats.Scaling
	if img.SourceType.Integer() {
		if opt.Sigma >= 1 || opt.Gain >= 1 {
			return fmt.Errorf("%s: sigma %g or gain %g is not below 1, but its %v samples are read as intensities in [0, 1]",
				j.Input, opt.Sigma, opt.Gain, img.SourceType)
		}
		s, err := formats.Normalize(img, formats.Range)
		if err != nil {
			return fmt.Errorf("%s: %w", j.Input, err)
		}
		scaling, peak = &s, 1
	}
	b, err := batch.FromData(batch.Shape{N: img.N, H: img.H, W: img.W, C: img.C}, img.Data)
	if err != nil {
		return fmt.Errorf("%s: %w", j.Input, err)
	}
	bo := bm3d.Options{Sigma: opt.Sigma, Peak: peak, Profile: opt.Profile, Workers: opt.Workers}
	var out *batch.Batch
	if opt.Gain > 0 {
		out, err = denoisePGBatch(ctx, b, bm3d.PGOptions{A: opt.Gain, Sigma: opt.Sigma, Offset: opt.Offset, BM3D: bo})
	} else {
		out, err = bm3d.DenoiseBatch(ctx, b, bo)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", j.Input, err)
	}
	img.Data = out.Data
	if scaling != nil {
		formats.Denormalize(img, *scaling)
	}
	if err := os.MkdirAll(filepath.Dir(j.Output), 0o755); err != nil {
		return err
	}
	clipped, err := formats.Write(j.Output, img)
	if err != nil {
		return err
	}
	if clipped > 0 {
		log.Info("bm3d clipped samples to the file's type", "output", j.Output, "samples", clipped, "type", img.SourceType)
	}
	return nil
}

// denoisePGBatch runs bm3d.DenoisePG on every image and channel of b.
func denoisePGBatch(ctx context.Context, b *batch.Batch, opt bm3d.PGOptions) (*batch.Batch, error) {
	out := batch.New(b.N, b.H, b.W, b.C)
	plane := make([]float32, b.H*b.W)
	for n := range b.N {
		for c := range b.C {
			for i := range plane {
				plane[i] = b.Data[(n*b.H*b.W+i)*b.C+c]
			}
			est, err := bm3d.DenoisePG(ctx, plane, b.H, b.W, opt)
			if err != nil {
				return nil, fmt.Errorf("image %d channel %d: %w", n, c, err)
			}
			for i, v := range est {
				out.Data[(n*b.H*b.W+i)*b.C+c] = v
			}
		}
	}
	return out, nil
}
