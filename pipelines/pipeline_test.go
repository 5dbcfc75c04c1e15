package pipelines

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/internal/plugintest"
	"github.com/flowdiff/flowdiff-go/plugins/host"
)

func TestDefaultPipelineValid(t *testing.T) {
	p, err := Load(filepath.Join("..", "flowdiff.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Data == nil || p.Data.Source != "mnist" || len(p.Corruption) == 0 {
		t.Errorf("default pipeline decoded as %+v", p)
	}
}

func TestMain(m *testing.M) { os.Exit(plugintest.Main(m)) }

// TestExamplePipelinesValid loads every example pipeline. An example with plugins_dir must
// name the repository's bin/plugins (what `make plugins` builds); the test points it at the
// example plugins built by internal/plugintest instead, so it needs no `make plugins` first.
func TestExamplePipelinesValid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("examples", "*.yaml"))
	quick, _ := filepath.Glob(filepath.Join("..", "testdata", "*.yaml"))
	pluginsLine := regexp.MustCompile(`(?m)^plugins_dir: *(.*)$`)
	var plugins string // built on first use
	for _, f := range append(files, quick...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := pluginsLine.FindSubmatch(data)
		if m == nil {
			if _, err := Load(f); err != nil {
				t.Errorf("%s: %v", f, err)
			}
			continue
		}
		if got, want := filepath.Clean(filepath.Join(filepath.Dir(f), string(m[1]))), filepath.Join("..", "bin", "plugins"); got != want {
			t.Errorf("%s: plugins_dir %s is %s from the repository root, want bin/plugins (built by `make plugins`)", f, m[1], got)
		}
		if plugins == "" {
			plugins = examplePlugins(t)
		}
		data = pluginsLine.ReplaceAll(data, []byte("plugins_dir: "+plugins))
		if _, err := Parse(f, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// examplePlugins returns a plugins folder holding the Go example plugins, loaded into
// host.Default for the rest of the test (and unloaded after it).
func examplePlugins(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"micro", "cryoem"} {
		if err := os.Symlink(plugintest.Folder(t, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(host.Default.Reset)
	return dir
}

func TestThreeMistakesLocated(t *testing.T) {
	_, err := Load(filepath.Join("..", "testdata", "pipelines", "three-mistakes.yaml"))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a LoadError", err)
	}
	want := []string{
		"data.train: must be >= 1, got 0 (line 6)",
		`corruption[0].op: unknown ID "blur.gausian"; did you mean "blur.gaussian"?`,
		"corruption[1].sigma: must be > 0, got -0.1 (line 10)",
	}
	if len(le.Errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(le.Errs), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(le.Errs[i].Error(), w) {
			t.Errorf("problem %d = %q, want %q", i, le.Errs[i], w)
		}
	}
}

func TestValidationCases(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"no version", "name: x\n", "version: is required"},
		{"future version", "version: 2\n", "version: must be one of 1"},
		{"unknown key", "version: 1\ndata: {sorce: mnist}\n", `data.sorce: unknown field "sorce"; did you mean "source"? (line 2)`},
		{"noise not last", "version: 1\ncorruption:\n  - op: noise.gaussian\n  - op: blur.gaussian\n", "corruption[0]: noise model noise.gaussian must come last"},
		{"metric as corruption", "version: 1\ncorruption:\n  - op: metric.psnr\n", "metric.psnr is a metric"},
		{"folder without path", "version: 1\ndata: {source: folder}\n", "data: source: folder needs path"},
		{"bad backend", "version: 1\nbackend: tpu\n", "backend: unknown backend \"tpu\""},
		{"bad channels", "version: 1\ndata: {channels: 2}\n", "data.channels: must be one of 1, 3"},
		{"not yaml", "version: 1\n  data: [\n", "invalid YAML"},
		{"train without noise", "version: 1\ndata: {}\ncorruption: [blur.gaussian]\ntrain: {}\n", "train: training needs a noise model as the last corruption item"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("case.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestResolvedRoundTrip(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\ndata: {}\ncorruption:\n  - op: noise.gaussian\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"seed: 1", "source: mnist", "train: 1000", "op: noise.gaussian", "sigma: 0.1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("resolved pipeline lacks %q:\n%s", want, out)
		}
	}
	p2, err := Parse("resolved.yaml", out)
	if err != nil {
		t.Fatalf("resolved pipeline does not validate: %v\n%s", err, out)
	}
	out2, _ := p2.Resolved()
	if string(out) != string(out2) {
		t.Errorf("resolving twice differs:\n%s\n---\n%s", out, out2)
	}
}

func TestReferenceListsFields(t *testing.T) {
	ref := Reference()
	for _, want := range []string{"`data.source`", "`mnist`", "`corruption`", "`report.grid`"} {
		if !strings.Contains(ref, want) {
			t.Errorf("reference lacks %s", want)
		}
	}
}

// FuzzPipeline feeds arbitrary bytes to the pipeline decoder: it must return a pipeline or
// located errors, never panic, and an accepted document must round-trip to its resolved
// pipeline with every value unchanged (checkRoundTrip). The seed corpus is the repository's
// pipelines and testdata/fuzz/FuzzPipeline (numbers at the edges of their fields' types).
func FuzzPipeline(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "pipelines", "*.yaml"))
	seeds = append(seeds, filepath.Join("..", "flowdiff.yaml"))
	ex, _ := filepath.Glob(filepath.Join("examples", "*.yaml"))
	for _, s := range append(seeds, ex...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("version: 1\ncorruption: [noise.gaussian, {op: blur.gaussian, size: 3}]\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err == nil {
			checkRoundTrip(t, data, p)
			return
		}
		var le *LoadError
		if !errors.As(err, &le) || len(le.Errs) == 0 {
			t.Fatalf("error is not a located LoadError: %v", err)
		}
	})
}

// TestReferenceDocCurrent keeps docs/pipeline.md in step with the config structs (`make docs`
// regenerates it).
func TestReferenceDocCurrent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "pipeline.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != Reference() {
		t.Error("docs/pipeline.md is stale: run `make docs`")
	}
}

// TestPartIDs: the trainer's log lines and errors name the corruption's parts by ID.
func TestPartIDs(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\ncorruption: [blur.gaussian, mask.random, noise.poisson]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if op, noise := partIDs(p.Corruption); op != "blur.gaussian then mask.random" || noise != "noise.poisson" {
		t.Errorf("partIDs = %q, %q", op, noise)
	}
	if op, _ := partIDs(p.Corruption[2:]); op != "identity" {
		t.Errorf("no operators: %q, want identity", op)
	}
}
