package pipelines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowdiff/flowdiff-go/core/atomicfile"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/formats"
	"github.com/flowdiff/flowdiff-go/core/formats/dtype"
	"github.com/flowdiff/flowdiff-go/core/observe"
	"github.com/flowdiff/flowdiff-go/core/part"
	"github.com/flowdiff/flowdiff-go/core/residual"
)

// Sidecar is the JSON record written next to each restored file (<out>/<name>.json), last: its
// presence with matching output checksums marks the file as done.
type Sidecar struct {
	Input       string          `json:"input"`
	Rel         string          `json:"rel"`
	InputSHA256 string          `json:"input_sha256"`
	Run         string          `json:"run"`      // the run folder, absolute
	Pipeline    string          `json:"pipeline"` // the run's name
	Settings    RestoreSettings `json:"settings"`
	// Scaling is the file's normalization (x' = (x - offset) / scale), inverted on output.
	Scaling  formats.Scaling `json:"scaling"`
	Width    int             `json:"width"`
	Height   int             `json:"height"`
	Channels int             `json:"channels"`
	Pages    int             `json:"pages"` // images in the file (pages of a stack)
	Outputs  []SidecarOutput `json:"outputs"`
	// Clipped counts the output samples moved into their type's range.
	Clipped int `json:"clipped"`
	// Residual is the mean over the file's images of the whitened residual's statistics of the
	// mean restoration (core/residual), in model units; ResidualPages has each image's.
	Residual      *residual.Stats  `json:"residual,omitempty"`
	ResidualPages []residual.Stats `json:"residual_pages,omitempty"`
	ResidualNote  string           `json:"residual_note,omitempty"`
	Seconds       float64          `json:"seconds"`
	Finished      time.Time        `json:"finished"`
	// Machine is where the restoration ran (Seconds was measured there).
	Machine *Machine `json:"machine,omitempty"`
}

// SidecarOutput is one file a restoration wrote.
type SidecarOutput struct {
	What    string `json:"what"` // mean, std or samples
	Path    string `json:"path"` // relative to the output folder, slash-separated
	Type    string `json:"type"` // stored sample type
	SHA256  string `json:"sha256"`
	Clipped int    `json:"clipped"`
}

type outputName struct{ what, rel string }

// Folders of the output folder that hold the standard deviations and the samples, so that
// the output folder itself holds the mean restorations under the inputs' names (and pairs by
// name with a folder of references, as `flowdiff metrics` pairs them).
const (
	StdDir     = "std"
	SamplesDir = "samples"
)

// outputNames lists the files written for the input named rel: the mean under the input's
// name (a JPEG becomes a PNG: JPEG is lossy and not written), the standard deviation and the
// samples as std/<rel> and samples/<rel> (TIFF for PNG and JPEG inputs, which hold neither
// float samples nor stacks), and the sidecar <name>.json.
func outputNames(rel string, samples int) []outputName {
	ext := path.Ext(rel)
	stem := strings.TrimSuffix(rel, ext)
	mean, extra := rel, ext
	switch strings.ToLower(ext) {
	case ".jpg", ".jpeg":
		mean, extra = stem+".png", ".tif"
	case ".png":
		extra = ".tif"
	}
	out := []outputName{{"mean", mean}, {"std", StdDir + "/" + stem + extra}}
	if samples > 0 {
		out = append(out, outputName{"samples", SamplesDir + "/" + stem + extra})
	}
	return append(out, outputName{"sidecar", mean + ".json"})
}

// restoreJob restores files into out.
type restoreJob struct {
	rs          *restorer
	p           *Pipeline
	runDir, out string
}

type fileResult struct {
	skipped bool
	clipped int
}

// file restores one input unless its sidecar shows it done with these settings.
func (j restoreJob) file(ctx context.Context, in observe.Input) (fileResult, error) {
	start := time.Now()
	names := outputNames(in.Rel, j.rs.set.Samples)
	sidecarPath := j.path(names[len(names)-1].rel)
	sum, err := fileSHA256(in.Path)
	if err != nil {
		return fileResult{}, err
	}
	if j.done(sidecarPath, sum) {
		return fileResult{skipped: true}, nil
	}
	img, sc, err := observe.Read(in, j.p.Data.Normalization(), j.p.Data.Channels)
	if err != nil {
		return fileResult{}, err
	}
	sc0 := sc
	outs := map[string]*formats.Image{
		"mean": {W: img.W, H: img.H, C: img.C, N: img.N, SourceType: img.SourceType, Meta: img.Meta, Data: make([]float32, img.Len())},
		"std":  {W: img.W, H: img.H, C: img.C, N: img.N, SourceType: dtype.Float32, Meta: img.Meta, Data: make([]float32, img.Len())},
	}
	s := j.rs.set.Samples
	if s > 0 {
		outs["samples"] = &formats.Image{W: img.W, H: img.H, C: img.C, N: img.N * s, SourceType: img.SourceType, Meta: img.Meta,
			Data: make([]float32, img.Len()*s)}
	}
	car := Sidecar{Input: in.Path, Rel: in.Rel, InputSHA256: sum, Pipeline: j.p.Name, Settings: j.rs.set, Scaling: sc0, Machine: &j.rs.machine,
		Width: img.W, Height: img.H, Channels: img.C, Pages: img.N}
	if car.Run, err = filepath.Abs(j.runDir); err != nil {
		return fileResult{}, err
	}
	moments, hasMoments := j.rs.fwd.Noise.(part.NoiseMoments)
	if !hasMoments {
		car.ResidualNote = "no residual diagnostics: the noise model states no variance (NoiseMoments)"
	}
	n := img.W * img.H * img.C
	for k := range img.N {
		y := &batch.Batch{Shape: batch.Shape{N: 1, H: img.H, W: img.W, C: img.C}, Data: img.Page(k)}
		name := in.Rel
		if img.N > 1 {
			name = fmt.Sprintf("%s#page%d", in.Rel, k)
		}
		params, err := j.rs.params(ctx, name, y.Shape)
		if err != nil {
			return fileResult{}, fmt.Errorf("image %d: %w", k, err)
		}
		res, err := j.rs.restore(ctx, y, params, in.Rel, k)
		if err != nil {
			return fileResult{}, fmt.Errorf("image %d: %w", k, err)
		}
		copy(outs["mean"].Data[k*n:], res.Mean.Data)
		copy(outs["std"].Data[k*n:], res.Std.Data)
		for i, x := range res.Samples {
			copy(outs["samples"].Data[(k*s+i)*n:], x.Data)
		}
		if hasMoments {
			st, err := residualStats(ctx, j.rs.fwd.Op, moments, res.Mean, y, params)
			if err != nil {
				return fileResult{}, fmt.Errorf("image %d: residual: %w", k, err)
			}
			car.ResidualPages = append(car.ResidualPages, st)
		}
	}
	if hasMoments {
		st := residual.Summary(car.ResidualPages)
		car.Residual = &st
	}
	// Back to the file's units: the mean and samples through the inverse map, the standard
	// deviation through its scale only (an offset does not spread).
	sc.Invert(outs["mean"].Data)
	if s > 0 {
		sc.Invert(outs["samples"].Data)
	}
	for i := range outs["std"].Data {
		outs["std"].Data[i] *= float32(sc.Scale)
	}
	for _, o := range names[:len(names)-1] {
		im := outs[o.what]
		p := j.path(o.rel)
		removeStaleTemps(p)
		clipped, err := formats.Write(p, im)
		if err != nil {
			return fileResult{}, err
		}
		h, err := fileSHA256(p)
		if err != nil {
			return fileResult{}, err
		}
		car.Outputs = append(car.Outputs, SidecarOutput{What: o.what, Path: o.rel, Type: im.SourceType.String(), SHA256: h, Clipped: clipped})
		car.Clipped += clipped
	}
	car.Seconds = time.Since(start).Seconds()
	car.Finished = time.Now().UTC()
	removeStaleTemps(sidecarPath)
	if err := atomicfile.WriteJSON(sidecarPath, car); err != nil {
		return fileResult{}, err
	}
	return fileResult{clipped: car.Clipped}, nil
}

// path is an output's place in the output folder.
func (j restoreJob) path(rel string) string { return filepath.Join(j.out, filepath.FromSlash(rel)) }

// done reports whether the sidecar at p records this input restored with these settings and
// every output it lists is still the file it wrote.
func (j restoreJob) done(p, inputSum string) bool {
	raw, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	var car Sidecar
	if json.Unmarshal(raw, &car) != nil || car.InputSHA256 != inputSum || car.Settings != j.rs.set || car.Pipeline != j.p.Name {
		return false
	}
	for _, o := range car.Outputs {
		if h, err := fileSHA256(j.path(o.Path)); err != nil || h != o.SHA256 {
			return false
		}
	}
	return len(car.Outputs) > 0
}

// removeStaleTemps removes the temporary files an atomic write of p leaves behind when its
// process is killed (core/atomicfile: .<name>.tmp-*). Only the shard that owns p writes it, so
// no other process is writing them.
func removeStaleTemps(p string) {
	dir, prefix := filepath.Dir(p), "."+filepath.Base(p)+".tmp-"
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
