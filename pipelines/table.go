package pipelines

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/registry"
)

// `flowdiff table RUN_DIR...` collects finished runs of the same observations, one per method
// (or several), into one comparison shaped like the paper's tables (docs/baselines.md). It
// reads only the run folders: pipeline.yaml, metrics.json, state.json, train/machine.json,
// corrupted/test, train/posterior_mean.npy and sample/dps.npy. This file gathers the runs;
// table_write.go renders them.

// Files the table command writes into its output folder.
const (
	TableMarkdown = "table.md"
	TableCSV      = "table.csv"
	TableHTML     = "table.html"
	TableGrid     = "restorations.png"
)

// methodOrder is the order of the methods in the tables; others follow sorted.
var methodOrder = []string{DefaultMethod, "clean_prior", "ambientflow", "ambient_diffusion", "sure_score", "bm3d", "naive"}

// tableRun is one run folder as the table sees it.
type tableRun struct {
	Dir     string
	Name    string // the folder's base name
	P       *Pipeline
	M       *MetricsFile
	Method  Method
	Train   float64  // seconds of the train stage (training and its amortized restorations)
	Done    string   // the day the run's last stage finished (YYYY-MM-DD, UTC), "" when unknown
	Machine *Machine // nil when the run did not record one
	ObsSHA  string   // checksum of the test observations
}

// readTableRun reads what the table needs from the run folder dir.
func readTableRun(dir string) (*tableRun, error) {
	p, err := Load(filepath.Join(dir, PipelineFileName))
	if err != nil {
		return nil, fmt.Errorf("%s is not a run folder: %w", dir, err)
	}
	m, err := loadMetrics(filepath.Join(dir, MetricsFileName), p, "")
	if err != nil {
		return nil, err
	}
	if len(m.Metrics) == 0 {
		return nil, fmt.Errorf("%s has no metrics: finish the run (flowdiff run --resume %s) with an evaluate section", dir, dir)
	}
	meth, err := LookupMethod(p.Method)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	r := &tableRun{Dir: dir, Name: filepath.Base(filepath.Clean(dir)), P: p, M: m, Method: meth, Train: m.Timings["train"]}
	if st, err := loadState(filepath.Join(dir, StateFileName)); err == nil {
		if r.Train == 0 {
			r.Train = st.Stages["train"].Seconds
		}
		var last time.Time
		for _, ss := range st.Stages {
			if ss.Finished.After(last) {
				last = ss.Finished
			}
		}
		if !last.IsZero() {
			r.Done = last.UTC().Format(time.DateOnly)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, trainDir, MachineFile)); err == nil {
		var mc Machine
		if json.Unmarshal(data, &mc) == nil {
			r.Machine = &mc
		}
	}
	set, err := corrupt.ReadManifest(filepath.Join(dir, testStore))
	if err != nil {
		return nil, fmt.Errorf("%s: the test observations: %w", dir, err)
	}
	r.ObsSHA = set.Observations.SHA256
	return r, nil
}

// collectRuns reads the run folders and checks they compare: the same test observations
// (checksum), hence the same data, corruption and seed. They come back in methodOrder.
func collectRuns(dirs []string) ([]*tableRun, error) {
	if len(dirs) == 0 {
		return nil, errors.New("table needs at least one run folder")
	}
	var runs []*tableRun
	for _, d := range dirs {
		r, err := readTableRun(d)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	for _, r := range runs[1:] {
		if r.ObsSHA != runs[0].ObsSHA {
			return nil, fmt.Errorf("runs %s and %s were not made on the same test observations (checksums %.12s, %.12s): "+
				"a comparison needs the same data, corruption and seed in every pipeline, only method: changed", runs[0].Dir, r.Dir, runs[0].ObsSHA, r.ObsSHA)
		}
	}
	rank := func(r *tableRun) int {
		if i := slices.Index(methodOrder, r.Method.Name()); i >= 0 {
			return i
		}
		return len(methodOrder)
	}
	slices.SortStableFunc(runs, func(a, b *tableRun) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.Method.Name()+a.Name, b.Method.Name()+b.Name)
	})
	return runs, nil
}

// label names a run's method in the tables; an oracle says so, and runs of one method are
// told apart by their folder.
func (r *tableRun) label(runs []*tableRun) string {
	l := r.Method.Name()
	if r.Method.UsesCleanData() {
		l += " (oracle: clean images)"
	}
	for _, o := range runs {
		if o != r && o.Method.Name() == r.Method.Name() {
			return l + " [" + r.Name + "]"
		}
	}
	return l
}

// corruptionKey describes a corruption list in one line, "noise.gaussian sigma=0.2", items
// joined by " -> ", parameters in their config's order with defaults filled in.
func corruptionKey(specs []registry.Spec) string {
	var items []string
	for _, s := range specs {
		v, err := s.MarshalYAML()
		n, ok := v.(*yaml.Node)
		if err != nil || !ok {
			items = append(items, s.ID)
			continue
		}
		parts := []string{s.ID}
		for i := 2; i+1 < len(n.Content); i += 2 {
			val := n.Content[i+1].Value
			if n.Content[i+1].Kind != yaml.ScalarNode {
				b, _ := yaml.Marshal(n.Content[i+1])
				val = strings.Join(strings.Fields(string(b)), " ")
			}
			parts = append(parts, n.Content[i].Value+"="+val)
		}
		items = append(items, strings.Join(parts, " "))
	}
	return strings.Join(items, " -> ")
}

// fairness states the rule the table holds its runs to and whether these runs meet it: the
// same training budget in optimizer steps and the same networks. It returns the rule and the
// lines that say where the runs differ (none when they meet it).
func fairness(runs []*tableRun) (rule string, differ []string) {
	rule = "Fairness rule: the same training budget in optimizer steps. Every network a method trains takes train.steps steps " +
		"of train.batch observations: FlowDiff's train.steps joint steps are that many flow steps and diffusion steps; " +
		"clean_prior trains its DDPM, then its flow, train.steps steps each; naive, sure_score and ambient_diffusion train " +
		"their one U-Net train.steps steps. All runs use the same U-Net (and flow) configuration, the same observations and " +
		"the same sampler settings; wall time is reported, not equalized."
	type field struct {
		name string
		get  func(p *Pipeline) any
	}
	fields := []field{
		{"train.steps", func(p *Pipeline) any { return trainField(p, func(t *TrainConfig) any { return t.Steps }) }},
		{"train.batch", func(p *Pipeline) any { return trainField(p, func(t *TrainConfig) any { return t.Batch }) }},
		{"train.unet", func(p *Pipeline) any { return trainField(p, func(t *TrainConfig) any { return t.UNet }) }},
		{"train.diffusion", func(p *Pipeline) any { return trainField(p, func(t *TrainConfig) any { return t.Diffusion }) }},
		{"train.flow", func(p *Pipeline) any { return trainField(p, func(t *TrainConfig) any { return t.Flow }) }},
		{"data.train", func(p *Pipeline) any {
			if p.Data == nil {
				return nil
			}
			return p.Data.Train
		}},
		{"sample", func(p *Pipeline) any { return p.Sample }},
	}
	for _, f := range fields {
		seen := map[string][]string{}
		var order []string
		for _, r := range runs {
			b, _ := yaml.Marshal(f.get(r.P))
			v := strings.Join(strings.Fields(string(b)), " ")
			if _, ok := seen[v]; !ok {
				order = append(order, v)
			}
			seen[v] = append(seen[v], r.Name)
		}
		if len(order) > 1 {
			var parts []string
			for _, v := range order {
				parts = append(parts, fmt.Sprintf("%s in %s", v, strings.Join(seen[v], ", ")))
			}
			differ = append(differ, fmt.Sprintf("%s differs: %s", f.name, strings.Join(parts, "; ")))
		}
	}
	return rule, differ
}

func trainField(p *Pipeline, get func(t *TrainConfig) any) any {
	if p.Train == nil {
		return nil
	}
	return get(p.Train)
}

// machineText describes where a run trained, from its train/machine.json and metrics.json.
func (r *tableRun) machineText() string {
	if r.Machine == nil {
		return "backend " + r.M.Backend
	}
	return fmt.Sprintf("%s, %d CPUs, %s", r.Machine.CPU, r.Machine.CPUs, r.Machine.Backend)
}
