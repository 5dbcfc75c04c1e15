package pipelines

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplePipelinesRun runs every example pipeline that trains with built-in parts end to
// end (data, corrupt, train, sample, evaluate, report) at a toy size: 16 training and 4 test
// images, 3 joint steps, 2 posterior samples, 2 prior samples and 2 DPS restorations of 3
// steps each. It checks the machinery the full-size runs rely on (shapes through wider or
// deeper models, RGB, 64x64 patches, extra priors, observations with and without references),
// not the quality. Examples reading data outside the repository (../shared/data, or
// $FLOWDIFF_SHARED/data) skip when it is absent; the plugin example runs in cmd/flowdiff's
// plugin tests.
func TestExamplePipelinesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains each example for a few steps")
	}
	files, _ := filepath.Glob(filepath.Join("examples", "*.yaml"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err != nil || strings.Contains(string(data), "\nplugins_dir:") {
			continue // needs `make plugins`; see TestTrainWithPluginOperators
		}
		p, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if p.Train == nil {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			// Folder paths are relative to the repository root, where `flowdiff run` starts;
			// ../shared may also be given as $FLOWDIFF_SHARED. Paths may be glob patterns.
			for _, path := range []*string{&p.Data.Path, &p.Data.TestPath, &p.Data.ReferencePath} {
				if *path != "" && !filepath.IsAbs(*path) {
					*path = filepath.Join("..", *path)
					if env := os.Getenv("FLOWDIFF_SHARED"); env != "" {
						if rest, ok := strings.CutPrefix(*path, filepath.Join("..", "..", "shared")); ok {
							*path = env + rest
						}
					}
					if m, _ := filepath.Glob(*path); len(m) == 0 {
						t.Skipf("data not here: %s", *path)
					}
				}
			}
			p.Data.Train, p.Data.Test = 16, 4
			p.Train.Steps, p.Train.Batch, p.Train.PosteriorSamples = 3, 4, 2
			p.Train.Warmup, p.Train.PriorWarmup = 1, 1
			if p.Sample != nil {
				p.Sample.Prior.N, p.Sample.Prior.Steps = 2, 3
				p.Sample.DPS.Images, p.Sample.DPS.Steps = 2, 3
			}
			dir := filepath.Join(t.TempDir(), "run")
			if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
				t.Fatal(err)
			}
			m := readMetrics(t, dir)
			if p.Data.Source == "observations" && p.Data.ReferencePath == "" {
				// No reference: the residual diagnostics are the verdict.
				if _, ok := m.Residual["posterior_mean"]; !ok {
					t.Errorf("metrics.json: no residual diagnostics of the posterior mean")
				}
				return
			}
			keys := []string{"psnr.input", "psnr.posterior_mean"}
			if p.Sample != nil {
				keys = append(keys, "psnr.dps")
			}
			for _, k := range keys {
				if v, ok := m.Metrics[k]; !ok || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("metrics.json: %s = %v (present %v)", k, v, ok)
				}
			}
			for _, name := range []string{"report.md", "report.html", "grid.png"} {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
