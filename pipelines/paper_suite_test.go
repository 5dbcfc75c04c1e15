package pipelines

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedDir returns ../shared relative to the repository root (the folder holding go.mod),
// or $FLOWDIFF_SHARED; "" when neither exists.
func sharedDir(t *testing.T) string {
	t.Helper()
	if env := os.Getenv("FLOWDIFF_SHARED"); env != "" {
		return env
	}
	dir, _ := filepath.Abs(".")
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(shared); err == nil {
				return shared
			}
			return ""
		}
	}
	return ""
}

// TestPaperPipelinesValid loads every pipeline of pipelines/paper with the document as
// written and with each of its profiles; every one must have cpu, gpu and toy.
func TestPaperPipelinesValid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("paper", "*.yaml"))
	if len(files) < 5 {
		t.Fatalf("pipelines/paper holds %d pipelines, want the 5 of docs/paper.md", len(files))
	}
	for _, f := range files {
		names, err := Profiles(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names, ","); got != "cpu,gpu,toy" {
			t.Errorf("%s: profiles %s, want cpu,gpu,toy", f, got)
		}
		for _, prof := range append([]string{""}, names...) {
			if _, err := LoadProfile(f, prof); err != nil {
				t.Errorf("%s --profile %q: %v", f, prof, err)
			}
		}
	}
}

// TestResetSameBudget: the model-reset variant spends the same number of optimizer steps
// as mnist.yaml (joint steps there; joint + reset flow + reset diffusion steps here) in
// every profile, so that the two runs measure the reset, not a larger budget.
func TestResetSameBudget(t *testing.T) {
	for _, prof := range []string{"", "gpu", "toy"} {
		base, err := LoadProfile(filepath.Join("paper", "mnist.yaml"), prof)
		if err != nil {
			t.Fatal(err)
		}
		reset, err := LoadProfile(filepath.Join("paper", "mnist-reset.yaml"), prof)
		if err != nil {
			t.Fatal(err)
		}
		r := reset.Train
		if r.Reset.FlowSteps == 0 || r.Reset.DiffusionSteps == 0 {
			t.Errorf("profile %q: mnist-reset has no reset phases", prof)
		}
		if got, want := r.Steps+r.Reset.FlowSteps+r.Reset.DiffusionSteps, base.Train.Steps; got != want {
			t.Errorf("profile %q: mnist-reset spends %d steps, mnist.yaml %d (flowdiff.yaml's steps changed? update mnist-reset.yaml)", prof, got, want)
		}
	}
}

// TestPaperInputPSNR measures the observation PSNR of each setting of pipelines/paper against
// the paper's input figure it was chosen for (the issue quotes them: Table 1 tubulin 14.32 dB,
// Table 4 tubulin 18.89 dB, Table 2 dogs 14.79, 22.34, 19.34, 13.49 dB). Tolerance 0.1 dB:
// the mean over 200 images (seed 1) of a per-image PSNR.
func TestPaperInputPSNR(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 200 test images per setting")
	}
	shared := sharedDir(t)
	if shared == "" {
		t.Skip("../shared (or $FLOWDIFF_SHARED) is absent: the dogs and tubulin data are not here")
	}
	type setting struct {
		file, problem string
		want          float64
	}
	cases := []setting{
		{"tubulin.yaml", "", 14.32}, {"tubulin-dps.yaml", "", 18.89},
		{"cifar-dog.yaml", "denoise", 14.79}, {"cifar-dog.yaml", "deblur", 22.34},
		{"cifar-dog.yaml", "deblur_denoise", 19.34}, {"cifar-dog.yaml", "inpaint", 13.49},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".yaml")+"/"+c.problem, func(t *testing.T) {
			p, err := Load(filepath.Join("paper", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if c.problem != "" {
				for _, pr := range p.Sample.Problems {
					if pr.Name == c.problem {
						p.Corruption = pr.Corruption
					}
				}
			}
			for _, path := range []*string{&p.Data.Path, &p.Data.TestPath} {
				if rest, ok := strings.CutPrefix(*path, "../shared"); ok {
					*path = shared + rest
				}
			}
			p.Data.Train, p.Data.Test = 4, 200
			p.Train, p.Sample, p.Report = nil, nil, nil
			p.Evaluate = &EvaluateConfig{Metrics: p.Evaluate.Metrics[:1]} // metric.psnr
			dir := filepath.Join(t.TempDir(), "run")
			if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
				t.Fatal(err)
			}
			got := readMetrics(t, dir).Metrics["psnr.input"]
			if math.Abs(got-c.want) > 0.1 {
				t.Errorf("input PSNR %.3f dB, paper %.2f dB (tolerance 0.1)", got, c.want)
			}
		})
	}
}

// TestProblemsChecked: sample.problems' mistakes are located.
func TestProblemsChecked(t *testing.T) {
	for _, tc := range []struct{ problems, want string }{
		{"[{name: a b, corruption: [noise.gaussian]}]", "use letters, digits"},
		{"[{name: a, corruption: [noise.gaussian]}, {name: a, corruption: [noise.gaussian]}]", `a second problem named "a"`},
		{"[{name: a, corruption: [noise.gaussian, blur.gaussian]}]", "must come last"},
		{"[{name: a, corruption: [blur.gaussian]}]", "ends with a noise model"},
		{"[{name: a, corruption: [metric.psnr, noise.gaussian]}]", "is a metric"},
	} {
		doc := fmt.Sprintf("version: 1\ndata: {source: mnist}\ncorruption: [noise.gaussian]\ntrain: {steps: 1}\nsample: {problems: %s}\n", tc.problems)
		_, err := Parse("p.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("problems %s: error %v, want it to say %q", tc.problems, err, tc.want)
		}
	}
}
