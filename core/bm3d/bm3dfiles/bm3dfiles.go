// Package bm3dfiles denoises image files with BM3D (core/bm3d): it is what `flowdiff bm3d`
// runs. Each input is written, in its own format and type, under the output folder with its
// own base name.
//
// Formats and units (sigma is given in the intensities as read):
//   - PNG, 8-bit: read as value/255 in [0, 1]; written back as 8-bit, clipped to [0, 1] and
//     rounded. 16-bit: value/65535, written back as 16-bit. Gray stays gray; colour (RGB, RGBA,
//     palette, gray+alpha) is denoised per R, G, B channel and written as 8- or 16-bit RGB(A);
//     alpha is copied, not denoised; a palette cannot hold the result, so paletted images come
//     back as RGB(A).
//   - .npy (float32, or float64 converted to float32) of shape (H, W), (H, W, C) or
//     (N, H, W, C): intensities as stored, Options.Peak the intensity of white (default 1);
//     written back as float32 of the same shape, not clipped.
//
// Inputs are never overwritten: an output path that is an input file is refused before any
// work, as are two inputs with the same base name. Outputs are written atomically (a temporary
// file renamed into place). A file that fails is reported and the others go on.
package bm3dfiles

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowdiff/flowdiff-go/core/bm3d"
)

// Options configure Run.
type Options struct {
	// Sigma is the noise standard deviation in the intensities as read ([0, 1] for PNG).
	Sigma float64
	// Peak is the intensity of white of .npy inputs (0 means 1); PNGs are read into [0, 1].
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

// Plan lists the jobs for the inputs (files, or folders whose .png and .npy files are taken,
// sorted) and the output folder. Its errors are usage errors: no input, an unsupported file,
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
			if !e.IsDir() && (ext(e.Name()) == ".png" || ext(e.Name()) == ".npy") {
				files = append(files, filepath.Join(in, e.Name()))
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("input folder %s holds no .png or .npy file", in)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no input: give image files or folders")
	}
	byName := map[string]string{}
	jobs := make([]Job, 0, len(files))
	for _, f := range files {
		switch ext(f) {
		case ".png":
			if sigma >= 1 {
				return nil, fmt.Errorf("%s: sigma %g is not below 1, but PNGs are read as intensities in [0, 1]; "+
					"for noise of %g 8-bit levels give --sigma %.4g (%g/255)", f, sigma, sigma, sigma/255, sigma)
			}
		case ".npy":
		default:
			return nil, fmt.Errorf("%s: unsupported file type %q; use .png or .npy", f, filepath.Ext(f))
		}
		name := filepath.Base(f)
		if prev, ok := byName[name]; ok {
			return nil, fmt.Errorf("inputs %s and %s have the same name; their outputs would collide in %s", prev, f, outDir)
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

func ext(path string) string { return strings.ToLower(filepath.Ext(path)) }

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
		if err := denoiseFile(ctx, j, opt); err != nil {
			log.Error("bm3d failed", "input", j.Input, "err", err)
			failed = append(failed, Failure{j, err})
			continue
		}
		log.Info("bm3d", "input", j.Input, "output", j.Output, "file", fmt.Sprintf("%d/%d", k+1, len(jobs)),
			"took", time.Since(start).Round(time.Millisecond))
	}
	return failed
}

func denoiseFile(ctx context.Context, j Job, opt Options) error {
	p, err := readFile(j.Input)
	if err != nil {
		return err
	}
	peak := opt.Peak
	if ext(j.Input) == ".png" {
		peak = 1
	}
	out, err := bm3d.DenoiseBatch(ctx, p.b, bm3d.Options{Sigma: opt.Sigma, Peak: peak, Profile: opt.Profile, Workers: opt.Workers})
	if err != nil {
		return fmt.Errorf("%s: %w", j.Input, err)
	}
	if err := os.MkdirAll(filepath.Dir(j.Output), 0o755); err != nil {
		return err
	}
	return p.write(j.Output, out)
}
