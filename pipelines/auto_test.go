package pipelines

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/batch"
	"github.com/flowdiff/flowdiff-go/core/corrupt"
	"github.com/flowdiff/flowdiff-go/core/data"
	"github.com/flowdiff/flowdiff-go/core/operators"
	"github.com/flowdiff/flowdiff-go/core/randx"
)

func TestAutoParse(t *testing.T) {
	const head = "version: 1\ndata: {source: synthetic, train: 4, test: 2}\n"
	for _, c := range []struct {
		name, yaml string
		want       string // "" for valid; else a substring of the error
		auto       int
	}{
		{"gaussian", head + "corruption:\n  - op: noise.gaussian\n    sigma: auto\n", "", 1},
		{"quoted", head + "corruption:\n  - op: noise.gaussian\n    sigma: \"auto\"\n", "", 1},
		{"poisson-gaussian", head + "corruption:\n  - op: noise.poisson_gaussian\n    gain: auto\n    sigma: 0.01\n", "", 1},
		{"both", head + "corruption:\n  - op: noise.poisson_gaussian\n    gain: auto\n    sigma: auto\n", "", 2},
		{"misplaced", head + "corruption:\n  - op: blur.gaussian\n    sigma: auto\n", "corruption[0].sigma: auto is accepted only for noise.gaussian's sigma", 0},
		{"offset", head + "corruption:\n  - op: noise.poisson_gaussian\n    offset: auto\n", "auto is accepted only", 0},
		{"not a number", head + "corruption:\n  - op: noise.gaussian\n    sigma: automatic\n", "corruption[0].sigma: must be a number", 0},
		{"no data", "version: 1\ncorruption:\n  - op: noise.gaussian\n    sigma: auto\n", "add a data section", 0},
		{"estimated elsewhere", head + "corruption:\n  - op: noise.gaussian\n    sigma: 0.1\nestimated:\n  - field: corruption[0].size\n    value: 0.1\n", "not an estimable noise parameter", 0},
		{"estimated disagrees", head + "corruption:\n  - op: noise.gaussian\n    sigma: 0.1\nestimated:\n  - field: corruption[0].sigma\n    value: 0.2\n", "must agree", 0},
		{"estimated agrees", head + "corruption:\n  - op: noise.gaussian\n    sigma: 0.1\nestimated:\n  - field: corruption[0].sigma\n    value: 0.1\n", "", 0},
	} {
		p, err := Parse(c.name+".yaml", []byte(c.yaml))
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "(line ") {
				t.Errorf("%s: error %v, want a located one containing %q", c.name, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(p.auto) != c.auto {
			t.Errorf("%s: %d auto parameters, want %d", c.name, len(p.auto), c.auto)
		}
		if c.auto == 0 {
			continue
		}
		res, err := p.Resolved()
		if err != nil || strings.Count(string(res), "auto") != c.auto {
			t.Errorf("%s: resolved pipeline should still say auto %d times:\n%s", c.name, c.auto, res)
		}
		// An unresolved parameter holds NaN, so building the noise model fails loudly.
		if _, _, err := operators.FromSpecs(context.Background(), p.Corruption); err == nil {
			t.Errorf("%s: the noise model was built before auto was resolved", c.name)
		}
		// The resolved text parses back to the same auto parameters.
		if q, err := Parse("again.yaml", res); err != nil || len(q.auto) != c.auto {
			t.Errorf("%s: resolved text does not parse back: %v", c.name, err)
		}
	}
}

// writeObservations writes n noisy 96 x 96 images as 16-bit TIFFs into a new folder: a ramp
// from 0.2 to 0.8 in a random direction plus a soft disc of height 0.1, with noise from addNoise (seeded).
func writeObservations(t *testing.T, n int, addNoise func(x float64, rng *rand.Rand) float64) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(21, 22))
	const side = 96
	for k := range n {
		b := batch.New(1, side, side, 1)
		th := rng.Float64() * 2 * math.Pi
		cx, cy := rng.Float64()*side, rng.Float64()*side
		for y := range side {
			for x := range side {
				u, v := float64(x)/side-0.5, float64(y)/side-0.5
				s := 0.5 + 0.3*(u*math.Cos(th)+v*math.Sin(th))*math.Sqrt2
				if d := math.Hypot(float64(x)-cx, float64(y)-cy); d < 20 {
					s += 0.1 * (1 + math.Cos(math.Pi*d/20)) / 2
				}
				b.Data[y*side+x] = float32(addNoise(s, rng))
			}
		}
		if err := data.WriteTIFF16(filepath.Join(dir, fmt.Sprintf("obs%02d.tif", k)), b); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func autoPipeline(dir, noise string) string {
	return fmt.Sprintf("version: 1\nname: auto\ndata: {source: folder, path: %s, train: 10, test: 2, size: 96}\ncorruption:\n%s", dir, noise)
}

// TestAutoSigmaResolvesFromObservations runs the data and corrupt stages of a pipeline with
// sigma: auto on images that carry Gaussian noise of sigma 0.05 (seeded). The resolved
// pipeline.yaml holds the estimate, within 5% of 0.05 (the accuracy docs/noise-estimation.md
// measures for smooth images); the stored observations are the images unchanged; a run of
// that resolved pipeline takes the data as observations again and estimates nothing anew.
func TestAutoSigmaResolvesFromObservations(t *testing.T) {
	const sigma = 0.05
	dir := writeObservations(t, 12, func(x float64, rng *rand.Rand) float64 { return x + sigma*rng.NormFloat64() })
	p, err := Parse("auto.yaml", []byte(autoPipeline(dir, "  - op: noise.gaussian\n    sigma: auto\n")))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "run")
	if _, err := Execute(context.Background(), p, Options{Out: run}); err != nil {
		t.Fatal(err)
	}
	resolved, err := Load(filepath.Join(run, PipelineFileName))
	if err != nil {
		t.Fatal(err)
	}
	got := getParam(resolved.Corruption[0].Config, "sigma")
	t.Logf("resolved sigma %.5f ± %.5f (true %v)", got, resolved.Estimated[0].StdErr, sigma)
	if math.Abs(got/sigma-1) > 0.05 {
		t.Errorf("resolved sigma %.5f, want %.2f within 5%%", got, sigma)
	}
	if len(resolved.Estimated) != 1 || resolved.Estimated[0].Field != "corruption[0].sigma" ||
		resolved.Estimated[0].Value != got || !(resolved.Estimated[0].StdErr > 0) || resolved.Estimated[0].Images != 10 {
		t.Errorf("estimated section %+v, want corruption[0].sigma = %v with a standard error, from 10 images", resolved.Estimated, got)
	}
	logText, _ := os.ReadFile(filepath.Join(run, LogFileName))
	if !strings.Contains(string(logText), "noise parameter estimated from the observations") {
		t.Error("run.log lacks the estimate's log line")
	}
	clean, err := data.LoadFolder(dir, data.FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := corrupt.Read(filepath.Join(run, trainStore))
	if err != nil {
		t.Fatal(err)
	}
	if !sameAsSomeImage(stored.Observations, clean.Images) {
		t.Error("stored training observations are not the loaded images: noise was added again")
	}
	// The resolved pipeline, run again, keeps the value and adds no noise.
	again := filepath.Join(t.TempDir(), "again")
	if _, err := Execute(context.Background(), resolved, Options{Out: again}); err != nil {
		t.Fatal(err)
	}
	second, err := Load(filepath.Join(again, PipelineFileName))
	if err != nil {
		t.Fatal(err)
	}
	if v := getParam(second.Corruption[0].Config, "sigma"); v != got || len(second.Estimated) != 1 {
		t.Errorf("second run: sigma %v with %d estimates, want %v with 1", v, len(second.Estimated), got)
	}
}

// sameAsSomeImage reports whether every image of obs equals, bit for bit, one image of all.
func sameAsSomeImage(obs, all *batch.Batch) bool {
	for i := range obs.N {
		found := false
		for j := range all.N {
			if slicesEqual(obs.Image(i).Data, all.Image(j).Data) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAutoPoissonGaussian resolves gain and sigma of noise.poisson_gaussian from images
// with y = a·Poisson(x/a) + N(0, b), a = 0.01, b = 1e-3 (sigma 0.032), mean intensity x̄ = 0.5,
// with the tolerances docs/noise-estimation.md states for smooth images:
// |â - a|·x̄ <= 0.15·a·x̄ + 0.05·b and |b̂ - b| <= 0.15·b + 0.05·a·x̄.
func TestAutoPoissonGaussian(t *testing.T) {
	const a, b, xbar = 0.01, 1e-3, 0.5
	dir := writeObservations(t, 12, func(x float64, rng *rand.Rand) float64 {
		return a*float64(randx.Poisson(rng, x/a)) + math.Sqrt(b)*rng.NormFloat64()
	})
	p, err := Parse("pg.yaml", []byte(autoPipeline(dir, "  - op: noise.poisson_gaussian\n    gain: auto\n    sigma: auto\n")))
	if err != nil {
		t.Fatal(err)
	}
	ests, err := Resolve(p, loadTrain(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ests) != 2 {
		t.Fatalf("%d estimates, want 2", len(ests))
	}
	gain, s := getParam(p.Corruption[0].Config, "gain"), getParam(p.Corruption[0].Config, "sigma")
	t.Logf("resolved gain %.5f ± %.5f (true %v), sigma %.5f ± %.5f (true %.5f)", gain, ests[0].StdErr, a, s, ests[1].StdErr, math.Sqrt(b))
	if d := math.Abs(gain-a) * xbar; d > 0.15*a*xbar+0.05*b {
		t.Errorf("gain %.5f, want %v within %.2g", gain, a, (0.15*a*xbar+0.05*b)/xbar)
	}
	if d := math.Abs(s*s - b); d > 0.15*b+0.05*a*xbar {
		t.Errorf("sigma %.5f (b %.3g), want b = %v within %.2g", s, s*s, b, 0.15*b+0.05*a*xbar)
	}
	if _, _, err := operators.FromSpecs(context.Background(), p.Corruption); err != nil {
		t.Errorf("resolved noise model does not build: %v", err)
	}
}

func loadTrain(t *testing.T, dir string) *batch.Batch {
	d, err := data.LoadFolder(dir, data.FolderOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return d.Images
}
