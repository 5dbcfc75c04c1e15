package pipelines

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/data"
)

// methodPipeline is a pipeline with the given corruption items and extra top-level lines.
func methodPipeline(corruption, extra string) string {
	return "version: 1\nname: m\ndata: {source: mnist, train: 8, test: 4}\ncorruption:\n" + corruption +
		"train: {steps: 2}\n" + extra
}

const gaussianItem = "  - op: noise.gaussian\n    sigma: 0.2\n"

// TestMethodValidation checks that each method is validated against the rest of the pipeline:
// every bad combination fails with a message that names the field and says what to do, and the
// combinations each method is made for pass.
func TestMethodValidation(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error; none: valid
	}{
		{"default is flowdiff", methodPipeline(gaussianItem, ""), nil},
		{"sure_score on Gaussian denoising", methodPipeline(gaussianItem, "method: sure_score\n"), nil},
		{"ambient_diffusion on masks", methodPipeline("  - op: mask.random\n    fraction: 0.3\n"+gaussianItem, "method: ambient_diffusion\n"), nil},
		{"ambient_diffusion on a blur (documented)", methodPipeline("  - op: blur.gaussian\n"+gaussianItem, "method: ambient_diffusion\n"), nil},
		{"naive on a blur", methodPipeline("  - op: blur.gaussian\n"+gaussianItem, "method: naive\n"), nil},
		{"clean_prior with clean images", methodPipeline(gaussianItem, "method: clean_prior\n"), nil},
		{"unknown method, close match", methodPipeline(gaussianItem, "method: sure-score\n"),
			[]string{"method", `unknown method "sure-score"`, `did you mean "sure_score"`, "flowdiff"}},
		{"sure_score with a blur", methodPipeline("  - op: blur.gaussian\n"+gaussianItem, "method: sure_score\n"),
			[]string{"corruption", "Gaussian denoising", "blur.gaussian"}},
		{"sure_score with Poisson noise", methodPipeline("  - op: noise.poisson\n", "method: sure_score\n"),
			[]string{"corruption", "noise.gaussian alone", "noise.poisson"}},
		{"clean_prior without data", "version: 1\nname: m\ncorruption:\n" + gaussianItem + "train: {steps: 2}\nmethod: clean_prior\n",
			[]string{"method", "clean-data oracle", "clean training images"}},
		{"ambient_diffusion with downsampling", methodPipeline("  - op: op.downsample\n"+gaussianItem, "method: ambient_diffusion\n"),
			[]string{"corruption", "op.downsample changes the images' shape"}},
		{"naive with downsampling", methodPipeline("  - op: op.downsample\n"+gaussianItem, "method: naive\n"),
			[]string{"corruption", "naive", "op.downsample"}},
		{"bm3d on Gaussian denoising", methodPipeline(gaussianItem, "method: bm3d\n"), nil},
		{"bm3d with sigma auto, estimated from the data", methodPipeline("  - op: noise.gaussian\n    sigma: auto\n", "method: bm3d\n"), nil},
		{"bm3d with a blur", methodPipeline("  - op: blur.gaussian\n"+gaussianItem, "method: bm3d\n"),
			[]string{"corruption", "method bm3d", "additive white Gaussian noise", "blur.gaussian"}},
		{"bm3d with a mask", methodPipeline("  - op: mask.random\n    fraction: 0.3\n"+gaussianItem, "method: bm3d\n"),
			[]string{"corruption", "noise.gaussian alone", "mask.random"}},
		{"bm3d with Poisson noise", methodPipeline("  - op: noise.poisson\n", "method: bm3d\n"),
			[]string{"corruption", "method bm3d", "noise.poisson"}},
		{"bm3d with sigma auto and no data", "version: 1\nname: m\ncorruption:\n  - op: noise.gaussian\n    sigma: auto\ntrain: {steps: 2}\nmethod: bm3d\n",
			[]string{"sigma", "add a data section"}},
		{"ambientflow on Gaussian denoising", methodPipeline(gaussianItem, "method: ambientflow\n"), nil},
		{"ambientflow on a blur", methodPipeline("  - op: blur.gaussian\n"+gaussianItem, "method: ambientflow\n"), nil},
		{"ambientflow without a noise model", methodPipeline("  - op: blur.gaussian\n", "method: ambientflow\n"),
			[]string{"corruption", "method ambientflow", "add a noise model"}},
		{"ambientflow with a random mask", methodPipeline("  - op: mask.random\n    fraction: 0.3\n"+gaussianItem, "method: ambientflow\n"),
			[]string{"corruption", "mask.random draws a mask per image"}},
		{"ambientflow with downsampling", methodPipeline("  - op: op.downsample\n"+gaussianItem, "method: ambientflow\n"),
			[]string{"corruption", "op.downsample changes the images' shape"}},
		{"ambientflow with a prior that does not split", "version: 1\nname: m\ndata: {source: mnist, train: 8, test: 4}\ncorruption:\n" + gaussianItem +
			"train: {steps: 2, ambientflow: {prior: {split: false}}}\nmethod: ambientflow\n",
			[]string{"train.ambientflow.prior", "split: true"}},
		{"a baseline without train", "version: 1\nname: m\ndata: {source: mnist, train: 8, test: 4}\ncorruption:\n" + gaussianItem + "method: naive\n",
			[]string{"method", "add a train section"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.name+".yaml", []byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid pipeline refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestMethodOptionsBelongToTheirMethod checks that the settings of one method are refused in a
// pipeline of another, naming the field, and read with their defaults filled in otherwise.
func TestMethodOptionsBelongToTheirMethod(t *testing.T) {
	p := "version: 1\nname: m\ndata: {source: mnist, train: 8, test: 4}\ncorruption:\n" + gaussianItem
	for _, tc := range []struct {
		train, method string
		want          string // "" valid
	}{
		{"train: {steps: 2, sure_score: {probe: rademacher}}\n", "sure_score", ""},
		{"train: {steps: 2, sure_score: {probe: rademacher}}\n", "naive", "train.sure_score configures method sure_score"},
		{"train: {steps: 2, ambient_diffusion: {delta: 0.2}}\n", "flowdiff", "train.ambient_diffusion configures method ambient_diffusion"},
		{"train: {steps: 2, reset: {flow_steps: 5}}\n", "clean_prior", "train.reset configures method flowdiff"},
		{"train: {steps: 2, sure_score: {probe: sobol}}\n", "sure_score", "must be one of gaussian, rademacher"},
		{"train: {steps: 2, priors: [{op: prior.tv, weight: 0.1}]}\n", "naive", "method naive trains no flow"},
		{"train: {steps: 2, ambient_diffusion: {p_mean: 0}}\n", "ambient_diffusion", ""},
		{"train: {steps: 2, ambientflow: {lambda: 0.5}}\n", "flowdiff", "train.ambientflow configures method ambientflow"},
		{"train: {steps: 2, ambientflow: {lambda: 0.5}}\n", "ambientflow", ""},
	} {
		got, err := Parse("p.yaml", []byte(p+tc.train+"method: "+tc.method+"\n"))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s with %s: %v", tc.train, tc.method, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s with %s: error %v, want %q", tc.train, tc.method, err, tc.want)
		case tc.want == "" && tc.method == "sure_score":
			c := sureConfig(got.Train)
			if c.Probe != "rademacher" || c.Epsilon != 0.001 || c.DSMWeight != 1 {
				t.Errorf("train.sure_score read as %+v, want probe rademacher and the defaults", c)
			}
		case tc.want == "" && tc.method == "ambientflow":
			if c := ambientFlowConfig(got.Train); c.Lambda != 0.5 || c.Samples != 2 || c.PriorLR != 0.001 || !c.Prior.Split || c.Prior.Levels != 2 {
				t.Errorf("train.ambientflow read as %+v, want lambda 0.5 and the defaults", c)
			}
		case tc.want == "" && tc.method == "ambient_diffusion":
			// An explicit 0 stays 0; absent keys take their defaults.
			if c := ambientConfig(got.Train); c.PMean != 0 || c.PStd != 1.2 || c.Delta != 0.1 || c.SigmaData != 0.5 {
				t.Errorf("train.ambient_diffusion read as %+v, want p_mean 0 and the defaults", c)
			}
		}
	}
}

// TestBaselinesTrainOnWhatTheyClaim checks what each DDPM baseline is given to train on: naive
// the observations y (its denoising target is built on y, never on the clean images), the
// clean_prior oracle the clean training images, and the oracle refuses to run when the run
// has no clean images (observations only).
func TestBaselinesTrainOnWhatTheyClaim(t *testing.T) {
	p, err := Parse("p.yaml", []byte(methodPipeline(gaussianItem, "method: naive\n")))
	if err != nil {
		t.Fatal(err)
	}
	clean := batch.New(4, 28, 28, 1)
	obs := batch.New(4, 28, 28, 1)
	for i := range obs.Data {
		clean.Data[i], obs.Data[i] = 0.5, 0.7
	}
	r := &Run{P: p, Data: &StageData{Train: &data.Dataset{Images: clean}, TrainObs: obs}}
	nv, err := naiveObjective(r)
	if err != nil {
		t.Fatal(err)
	}
	if nv.Images() != obs {
		t.Error("naive does not train on the observations")
	}
	cp, err := cleanPriorObjective(r)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Images() != clean {
		t.Error("clean_prior does not train on the clean images")
	}
	r.Data.Train = nil
	_, err = cleanPriorObjective(r)
	if err == nil || !strings.Contains(err.Error(), "clean training images") {
		t.Errorf("clean_prior without clean images: err = %v", err)
	}
	if err := (cleanPrior{}).Train(context.Background(), r); err == nil || !strings.Contains(err.Error(), "oracle") {
		t.Errorf("clean_prior's train stage without clean images: err = %v", err)
	}
	// naive refuses observations of another shape than the images.
	r.Data.Train = &data.Dataset{Images: clean}
	r.Data.TrainObs = batch.New(4, 14, 14, 1)
	if _, err := naiveObjective(r); err == nil || !strings.Contains(err.Error(), "shaped like the images") {
		t.Errorf("naive with 14x14 observations of 28x28 images: err = %v", err)
	}
	// Observations without clean images: the images' shape is the data section's (Data.Clean).
	r.Data.Train, r.Data.Clean = nil, batch.Shape{N: 1, H: 28, W: 28, C: 1}
	if _, err := naiveObjective(r); err == nil || !strings.Contains(err.Error(), "shaped like the images") {
		t.Errorf("naive with 14x14 observations for 28x28 images, no clean images: err = %v", err)
	}
}

// TestMethodNames checks the registry of methods: sorted, the default among them, and every
// method states whether it uses clean data (only the oracle does).
func TestMethodNames(t *testing.T) {
	names := MethodNames()
	want := []string{"ambient_diffusion", "ambientflow", "bm3d", "clean_prior", "flowdiff", "naive", "sure_score"}
	for _, w := range want {
		m, err := LookupMethod(w)
		if err != nil {
			t.Errorf("method %s: %v", w, err)
			continue
		}
		if m.UsesCleanData() != (w == "clean_prior") {
			t.Errorf("method %s: UsesCleanData %v", w, m.UsesCleanData())
		}
	}
	if len(names) < len(want) || !strings.Contains(strings.Join(names, ","), "flowdiff") {
		t.Errorf("MethodNames() = %v", names)
	}
	if m, err := LookupMethod(""); err != nil || m.Name() != DefaultMethod {
		t.Errorf("the empty method is %v, %v; want flowdiff", m, err)
	}
}

// TestAmbientOnMaskedObservations runs ambient_diffusion on noiseless inpainting (mask.random,
// no noise model, which FlowDiff would need): the observed-pixel masks come from the operator's
// per-sample parameters, the amortized estimate and DPS (guided through the mask) are scored,
// and the sampling mask's density is the training masks' (half the pixels, 10% of those
// hidden again: 0.45 within 0.02 for 64 images of 784 pixels).
func TestAmbientOnMaskedObservations(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	text := `version: 1
name: amb
seed: 2
method: ambient_diffusion
data: {source: mnist, train: 64, test: 8}
corruption:
  - op: mask.random
    fraction: 0.5
train:
  batch: 8
  steps: 6
  checkpoint_every: 3
  unet: {channels: 4, multipliers: [1, 2], time_embed: 16}
sample:
  prior: {n: 2, sampler: ddim, steps: 3}
  dps: {images: 2, steps: 3, zeta: 2}
evaluate: {metrics: [metric.psnr]}
report: {grid: 2}
`
	p, err := Parse("amb.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, dir)
	for _, k := range []string{"psnr.posterior_mean", "psnr.dps", "psnr.input"} {
		if _, ok := m.Metrics[k]; !ok {
			t.Errorf("metrics.json lacks %s", k)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, trainDir, AmbientFile))
	if err != nil {
		t.Fatal(err)
	}
	var s ambientSampling
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.Survival-0.45) > 0.02 || s.Delta != 0.1 || s.H != 28 {
		t.Errorf("ambient.json %+v: want survival 0.45 ± 0.02 for half the pixels observed and delta 0.1", s)
	}
}
