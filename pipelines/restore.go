package pipelines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/flowdiff/flowdiff-go/core/backend"
	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/observe"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/progress"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/core/train"
	"github.com/flowdiff/flowdiff-go/registry"
	"gopkg.in/yaml.v3"
)

// RestoreSettings are the settings a restoration depends on; they are recorded in every
// sidecar, and a rerun skips a file only when they are unchanged.
type RestoreSettings struct {
	Method  string `json:"method"`  // flow or dps
	Draws   int    `json:"draws"`   // posterior draws per image for the mean and std
	Samples int    `json:"samples"` // draws written out per image
	Tiling  string `json:"tiling"`  // auto, whole or tiles
	Tile    int    `json:"tile"`    // tile side, pixels
	Overlap int    `json:"overlap"` // tile overlap, pixels
	Batch   int    `json:"batch"`   // tiles per model call
	Seed    int64  `json:"seed"`
	// DPS only: guidance steps (0: all T) and step size.
	Steps int     `json:"steps,omitempty"`
	Zeta  float64 `json:"zeta,omitempty"`
	// Mask is the path of the measured masks (mask.file) the forward model reads for the
	// inputs, when it has one: --mask, or the run's own.
	Mask string `json:"mask,omitempty"`
	// CheckpointStep is the step of the checkpoint the models come from.
	CheckpointStep int `json:"checkpoint_step"`
}

// RestoreRequest is `flowdiff restore RUN_DIR INPUT... --out DIR`: restore observation files
// with a finished run's models. Zero fields take the run's settings or the documented
// defaults (see the CLI's help and docs/restore.md).
type RestoreRequest struct {
	RunDir  string
	Inputs  []string // files, folders, glob patterns
	Out     string
	Method  string // flow (default) or dps
	Draws   int    // 0: the run's train.posterior_samples (flow), 1 (dps)
	Samples int    // draws written out per image (0: none)
	Tiling  string // auto (default), whole or tiles
	Tile    int    // 0: the run's data.size
	Overlap int    // -1: none; 0: a quarter of the tile, rounded down to the alignment
	Batch   int    // 0: the run's train.batch
	Steps   int    // dps: 0: the run's sample.dps.steps
	Zeta    float64
	Seed    int64 // 0: the run's "restore" stream
	// Mask replaces the path of the run's mask.file operators: the masks measured with the
	// inputs (a file for all of them, or a folder matched by name). "" keeps the run's path.
	Mask    string
	Shard   observe.Shard
	Backend string
	Log     *slog.Logger
	// stopAfter, when positive, stops after that many restored files with errStopped: the
	// tests' stand-in for a killed process.
	stopAfter int
}

// RestoreSummary counts what a restoration did.
type RestoreSummary struct {
	Files, Restored, Skipped int
	Failed                   []string // "name: error"
	Clipped                  int      // samples clipped to the output types' ranges, all files
	Seconds                  float64
}

// Restore restores every input the shard owns into req.Out, file by file (memory holds one
// file and its results), skipping files whose sidecar shows they are done. A file that fails
// is logged and counted, and the others go on; the error then summarizes the failures.
func Restore(ctx context.Context, req RestoreRequest) (*RestoreSummary, error) {
	start := time.Now()
	if req.Log == nil {
		req.Log = slog.New(slog.DiscardHandler)
	}
	if req.Out == "" {
		return nil, errors.New("restore needs --out: the folder of the restored files")
	}
	p, err := loadRestorePipeline(req.RunDir, req.Mask)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if p.Train == nil || p.Data == nil {
		return nil, fmt.Errorf("restore: the run %s has no data and train sections, so no trained models", req.RunDir)
	}
	all, err := observe.List(req.Inputs)
	if err != nil {
		return nil, err
	}
	if err := checkNoOverwrite(all, req.Out); err != nil {
		return nil, err
	}
	files := req.Shard.Select(all)
	rs, closeModels, err := openRestorer(ctx, req, p)
	if err != nil {
		return nil, err
	}
	defer closeModels()
	sum := &RestoreSummary{Files: len(files)}
	req.Log.Info("restore started", "run", req.RunDir, "inputs", len(all), "shard", req.Shard.String(), "files", len(files),
		"method", rs.set.Method, "draws", rs.set.Draws, "tiling", rs.set.Tiling, "tile", rs.set.Tile, "out", req.Out)
	meter := progress.New(req.Log, "restore", "file", len(files))
	job := restoreJob{rs: rs, p: p, runDir: req.RunDir, out: req.Out}
	for i, in := range files {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("restore interrupted after %d of %d files: %w (run the same command again to continue)", i, len(files), err)
		}
		if req.stopAfter > 0 && sum.Restored == req.stopAfter {
			return sum, errStopped
		}
		res, err := job.file(ctx, in)
		switch {
		case err != nil:
			sum.Failed = append(sum.Failed, in.Rel+": "+err.Error())
			req.Log.Error("restore failed; going on with the other files", "file", in.Path, "err", err)
		case res.skipped:
			sum.Skipped++
		default:
			sum.Restored++
			sum.Clipped += res.clipped
		}
		meter.Update(i+1, "file", in.Rel)
	}
	sum.Seconds = time.Since(start).Seconds()
	req.Log.Info("restore finished", "restored", sum.Restored, "skipped", sum.Skipped, "failed", len(sum.Failed),
		"clipped", sum.Clipped, "seconds", fmt.Sprintf("%.1f", sum.Seconds))
	if len(sum.Failed) > 0 {
		return sum, fmt.Errorf("restore: %d of %d files failed:\n  %s", len(sum.Failed), len(files), strings.Join(sum.Failed, "\n  "))
	}
	return sum, nil
}

var errStopped = errors.New("stopped by test")

// checkNoOverwrite refuses an output folder where some output would replace an input, or
// two inputs would write one output (an input a/x.png and the mean of a/x.jpg; an input
// folder named std). It looks at every input, not only a shard's, so all shards agree.
func checkNoOverwrite(inputs []observe.Input, out string) error {
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	owner := map[string]string{}
	for _, in := range inputs {
		inAbs, err := filepath.Abs(in.Path)
		if err != nil {
			return err
		}
		owner[inAbs] = "input " + in.Path
	}
	for _, in := range inputs {
		for _, o := range outputNames(in.Rel, 1) {
			p := filepath.Join(outAbs, filepath.FromSlash(o.rel))
			if prev, ok := owner[p]; ok || sameFile(p, in.Path) {
				if !ok {
					prev = "input " + in.Path
				}
				return fmt.Errorf("restore: the output %s of %s would overwrite %s: choose an --out folder apart from the inputs, or rename", p, in.Path, prev)
			}
			owner[p] = "the output of " + in.Path
		}
	}
	return nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// openRestorer resolves the settings against the run and loads the models they need.
func openRestorer(ctx context.Context, req RestoreRequest, p *Pipeline) (*restorer, func(), error) {
	c := p.Train.Config
	set := RestoreSettings{Method: req.Method, Draws: req.Draws, Samples: req.Samples, Tiling: req.Tiling,
		Tile: pick(req.Tile, p.Data.Size), Overlap: req.Overlap, Batch: pick(req.Batch, c.Batch), Seed: req.Seed}
	if set.Method == "" {
		set.Method = "flow"
	}
	if set.Tiling == "" {
		set.Tiling = "auto"
	}
	if set.Seed == 0 {
		set.Seed = (&Run{P: p}).Seed("restore")
	}
	switch set.Method {
	case "flow":
		set.Draws = pick(set.Draws, p.Train.PosteriorSamples)
	case "dps":
		set.Draws = pick(set.Draws, 1)
		sc := SampleConfig{}
		if err := schema.Decode(nil, &sc, "sample").Err(); err != nil {
			return nil, nil, err
		}
		if p.Sample != nil {
			sc = *p.Sample
		}
		set.Steps, set.Zeta = pick(req.Steps, sc.DPS.Steps), sc.DPS.Zeta
		if req.Zeta > 0 {
			set.Zeta = req.Zeta
		}
	default:
		return nil, nil, fmt.Errorf("restore: --method %q: want flow or dps", set.Method)
	}
	set.Draws = max(set.Draws, set.Samples)
	if set.Tiling != "auto" && set.Tiling != "whole" && set.Tiling != "tiles" {
		return nil, nil, fmt.Errorf("restore: --tiling %q: want auto, whole or tiles", set.Tiling)
	}
	if set.Draws < 1 || set.Samples < 0 || set.Batch < 1 {
		return nil, nil, fmt.Errorf("restore: draws %d, samples %d and batch %d must be positive (samples may be 0)", set.Draws, set.Samples, set.Batch)
	}
	rs := &restorer{align: 1 << pick(c.Flow.Levels, 2)}
	if set.Method == "dps" {
		u := c.UNet.WithDefaults()
		rs.align = max(rs.align, u.Patch<<(len(u.Multipliers)-1))
	}
	switch {
	case req.Overlap < 0:
		set.Overlap = 0
	case req.Overlap == 0:
		set.Overlap = set.Tile / 4 / rs.align * rs.align
	}
	if err := set.checkTile(rs.align); err != nil {
		return nil, nil, fmt.Errorf("restore: %w", err)
	}
	mask, err := useMask(p.Corruption, req.Mask)
	if err != nil {
		return nil, nil, err
	}
	set.Mask = mask
	ops, noise, err := operators.FromSpecs(ctx, p.Corruption)
	if err != nil {
		return nil, nil, err
	}
	rs.fwd = &Forward{Ops: ops, Op: operators.NewCompose(ops...), Noise: noise}
	rs.corruption = p.Corruption
	closers := []func(){func() { rs.fwd.Close() }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if err := checkRestorable(ctx, rs.fwd, p.Data); err != nil {
		closeAll()
		return nil, nil, err
	}
	choice := backend.Resolve(req.Backend, p.Backend)
	be, err := backend.New(ctx, choice)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closers = append(closers, be.Finalize)
	rs.machine = Machine{CPU: cpuModel(), CPUs: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
		Backend: be.Name(), Config: choice.Config}
	dir := filepath.Join(req.RunDir, trainDir)
	if set.Method == "flow" {
		if rs.flow, err = train.NewFlowGenerator(be, dir, c.Flow); err == nil {
			for _, w := range rs.flow.Warnings {
				req.Log.Warn(w)
			}
			set.CheckpointStep = rs.flow.Step
			closers = append(closers, rs.flow.Finalize)
		}
	} else if rs.ps, err = newPriorSampler(be, dir, c, set.Batch, req.Log); err == nil {
		_, set.CheckpointStep, err = train.LoadPrior(dir, slog.New(slog.DiscardHandler))
	}
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("restore: %w", err)
	}
	rs.set = set
	return rs, closeAll, nil
}

// checkRestorable refuses forward models that restore cannot invert on files of any size: an
// operator that changes the image's shape (the flow's base is the observation itself) or that
// has per-sample parameters (drawn for the training size).
func checkRestorable(ctx context.Context, fwd *Forward, d *DataConfig) error {
	clean := batch.Shape{N: 1, H: d.Size, W: d.Size, C: d.Channels}
	out, err := fwd.Op.OutShape(ctx, clean)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if out != clean {
		return fmt.Errorf("restore: the run's operators map a %dx%d image to %dx%d observations; restoring observations of another shape than the images is not supported", clean.W, clean.H, out.W, out.H)
	}
	// Parameters drawn at random (a random mask per image) were drawn for the training set and
	// cannot be known for new files; parameters read from files (mask.file) are read per input
	// (restorer.params). Two draws from two streams tell them apart where the training size can
	// be drawn at all (a folder of masks needs the inputs' names: checked per input).
	a, errA := fwd.Op.SampleParams(ctx, rand.New(rand.NewPCG(1, 1)), clean)
	b, errB := fwd.Op.SampleParams(ctx, rand.New(rand.NewPCG(1, 2)), clean)
	if errA != nil || errB != nil {
		return nil
	}
	for _, k := range a.Keys() {
		if b[k] == nil || !slices.Equal(a[k].Data, b[k].Data) {
			return fmt.Errorf("restore: the run's operators draw random per-sample parameters (%q), which restore cannot know for new files; a measured mask (mask.file) is read per file", k)
		}
	}
	return nil
}

// loadRestorePipeline loads the run's pipeline. With mask given, the path of its mask.file
// operators is replaced before the pipeline is validated, since validation reads the masks and
// the run's own need not exist where the inputs are restored.
func loadRestorePipeline(runDir, mask string) (*Pipeline, error) {
	file := filepath.Join(runDir, PipelineFileName)
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Parse(file, raw) // its error names the line
	}
	masks := maskFileNodes(&doc)
	if mask != "" && len(masks) > 0 {
		for _, m := range masks {
			setMapValue(m, "path", mask)
		}
		if raw, err = yaml.Marshal(&doc); err != nil {
			return nil, err
		}
	}
	p, err := Parse(file, raw)
	if err != nil && mask == "" && len(masks) > 0 {
		return nil, fmt.Errorf("%w\n(the run reads measured masks with mask.file: give the masks of the files to restore with --mask FILE|DIR)", err)
	}
	return p, err
}

// maskFileNodes returns the mapping nodes of the corruption items with op: mask.file.
func maskFileNodes(doc *yaml.Node) []*yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	var out []*yaml.Node
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "corruption" || top.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range top.Content[i+1].Content {
			if op := mapValue(item, "op"); item.Kind == yaml.MappingNode && op != nil && op.Value == "mask.file" {
				out = append(out, item)
			}
		}
	}
	return out
}

// mapValue is the value node of key in the mapping node m (nil when absent).
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setMapValue sets key to the string v in the mapping node m.
func setMapValue(m *yaml.Node, key, v string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
}

// useMask returns the absolute mask path the run's mask.file operators read ("" when it has
// none; loadRestorePipeline has already put --mask there), and refuses --mask for a run without
// mask.file.
func useMask(corruption []registry.Spec, mask string) (string, error) {
	found := ""
	for i := range corruption {
		if cfg, ok := corruption[i].Config.(*operators.FileMaskConfig); ok {
			found = cfg.Path
		}
	}
	if mask != "" && found == "" {
		return "", fmt.Errorf("restore: --mask %s: the run's forward model has no mask.file operator to read it; its corruption is fixed by the run", mask)
	}
	if found == "" {
		return "", nil
	}
	abs, err := filepath.Abs(found)
	if err != nil {
		return "", err
	}
	return abs, nil
}
