package operators

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowdiff/flowdiff-go/core/formats/npy"
	"github.com/flowdiff/flowdiff-go/core/schema"
	"github.com/flowdiff/flowdiff-go/registry"
)

// pipe is the part of a pipeline that names a corruption, as pipelines.Pipeline declares it.
type pipe struct {
	Corruption []registry.Spec `yaml:"corruption"`
}

// TestPipelineDecode decodes the paper's corruption and builds it.
func TestPipelineDecode(t *testing.T) {
	src := `corruption:
  - op: blur.gaussian
    size: 33
    sigma: 1.5
  - op: op.mixture
    components:
      - weight: 2
        ops: [mask.random]
      - ops:
          - op: mask.box
            size: 4
          - op.downsample
  - op: noise.gaussian
    sigma: 0.1
`
	var p pipe
	if errs := schema.Unmarshal([]byte(src), &p); len(errs) > 0 {
		t.Fatal(errs)
	}
	ops, noise, err := FromSpecs(ctx, p.Corruption)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || noise == nil {
		t.Fatalf("got %d operators and noise %v", len(ops), noise)
	}
	if g := ops[0].(*GaussianBlur); g.kernel.H != 33 {
		t.Errorf("blur size %d", g.kernel.H)
	}
	m := ops[1].(*Mixture)
	if len(m.comps) != 2 || m.cum[0] != 2.0/3 || len(m.comps[1].ops) != 2 {
		t.Errorf("mixture decoded as %+v", m)
	}
	if noise.(*GaussianNoise).sigma != 0.1 {
		t.Errorf("noise sigma %v", noise.(*GaussianNoise).sigma)
	}
	// A mixture whose components disagree on the output shape fails when shapes are known.
	if _, err := m.OutShape(ctx, batchShape(1, 8, 8, 1)); err == nil || !strings.Contains(err.Error(), "all components must agree") {
		t.Errorf("OutShape: err = %v", err)
	}
}

// TestPipelineValidation: user mistakes fail schema validation with field path and line.
func TestPipelineValidation(t *testing.T) {
	dir := t.TempDir()
	cube := filepath.Join(dir, "cube.npy")
	if err := npy.WriteFile(cube, []int{2, 2, 2}, make([]float32, 8)); err != nil {
		t.Fatal(err)
	}
	src := `corruption:
  - op: blur.gaussian
    size: 32
  - op: blur.gaussian
    size: 301
  - op: blur.gaussian
    size: 5
    sigma: 3
  - op: blur.gaussian
    sigma: -1.5
  - op: mask.random
    fraction: 1.5
  - op: noise.poisson_gaussian
    gain: 0
  - op: op.compose
    ops:
      - op: blur.motion
        length: 0.5
  - op: op.mixture
    components:
      - weight: 0
        ops: [mask.random]
  - op: op.mixture
    components:
      - ops: [noise.poisson]
  - op: blur.kernel
    path: ` + cube + `
  - op: blur.kernel
  - op: op.downsample
    factor: 1
`
	want := []string{
		"corruption[0].size: must be odd, got 32 (line 3)",
		"corruption[1].size: must be <= 255, got 301 (line 5)",
		"corruption[2].size: a 5-pixel kernel truncates a Gaussian of sigma 3; size must be at least 13 (±2 sigma), or lower sigma (line 7)",
		"corruption[3].sigma: must be > 0, got -1.5 (line 10)",
		"corruption[4].fraction: must be <= 1, got 1.5 (line 12)",
		"corruption[5].gain: must be > 0, got 0 (line 14)",
		"corruption[6].ops[0].length: must be >= 1, got 0.5 (line 18)",
		"corruption[7].components[0].weight: must be > 0, got 0 (line 21)",
		"corruption[8].components[0].ops[0]: noise.poisson is a noise model; only forward operators go here",
		"corruption[9].path: kernel file " + cube + ": array has shape [2 2 2]; a kernel must be 2-D [height, width] (line 27)",
		"corruption[10].path: is required (line 28)",
		"corruption[11].factor: must be >= 2, got 1 (line 30)",
	}
	var p pipe
	errs := schema.Unmarshal([]byte(src), &p)
	errs.Sort()
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q\n want it to contain %q", i, errs[i], w)
		}
	}
}

// TestFromSpecsOrder: a noise model must come last.
func TestFromSpecsOrder(t *testing.T) {
	var p pipe
	if errs := schema.Unmarshal([]byte("corruption:\n  - noise.gaussian\n  - blur.gaussian\n"), &p); len(errs) > 0 {
		t.Fatal(errs)
	}
	_, _, err := FromSpecs(ctx, p.Corruption)
	if err == nil || !strings.Contains(err.Error(), "corruption[0] (line 2): the noise model noise.gaussian must be the last item") {
		t.Errorf("err = %v", err)
	}
}
