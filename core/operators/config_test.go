package operators

import (
	"fmt"
	"path/filepath"
	"reflect"
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

// TestZeroFieldsMeanDefaults: each constructor given a config with zero fields builds the same
// part as the registry does from the defaults a pipeline item without parameters decodes to
// (the tags, Entry.DefaultConfig), so the defaults are written once. mask.random is the
// exception its constructor documents: fraction 0 is a value (keep every pixel).
func TestZeroFieldsMeanDefaults(t *testing.T) {
	kernel := filepath.Join(t.TempDir(), "k.npy")
	if err := npy.WriteFile(kernel, []int{3, 3}, []float32{1, 2, 1, 2, 4, 2, 1, 2, 1}); err != nil {
		t.Fatal(err)
	}
	box := func(v any) error { // a default box (14 pixels) fits 14x14 images, not 13x13
		_, err13 := v.(*BoxMask).OutShape(ctx, batchShape(1, 13, 13, 1))
		_, err14 := v.(*BoxMask).OutShape(ctx, batchShape(1, 14, 14, 1))
		if err13 == nil || err14 != nil {
			return fmt.Errorf("box of the wrong size: 13x13 err %v, 14x14 err %v", err13, err14)
		}
		return nil
	}
	for _, c := range []struct {
		id      string
		zero    func() (any, error)
		compare func(any) error // for parts holding functions; nil: reflect.DeepEqual
		params  string          // required parameters, given to both
	}{
		{id: "blur.gaussian", zero: func() (any, error) { return NewGaussianBlur(GaussianBlurConfig{}) }},
		{id: "blur.motion", zero: func() (any, error) { return NewMotionBlur(MotionBlurConfig{}) }},
		{id: "blur.kernel", zero: func() (any, error) { return NewKernelBlur(KernelBlurConfig{Path: kernel}) },
			params: "path: " + kernel},
		{id: "op.downsample", zero: func() (any, error) { return NewDownsample(DownsampleConfig{}) }},
		{id: "mask.box", zero: func() (any, error) { return NewBoxMask(BoxMaskConfig{}) }, compare: box},
		{id: "noise.gaussian", zero: func() (any, error) { return NewGaussianNoise(GaussianNoiseConfig{}) }},
		{id: "noise.poisson", zero: func() (any, error) { return NewPoissonNoise(PoissonNoiseConfig{}) }},
		{id: "noise.poisson_gaussian", zero: func() (any, error) { return NewPoissonGaussianNoise(PoissonGaussianNoiseConfig{}) }},
	} {
		t.Run(c.id, func(t *testing.T) {
			e, err := registry.Lookup(c.id)
			if err != nil {
				t.Fatal(err)
			}
			e.Example = c.params
			cfg, err := e.ExampleConfig()
			if err != nil {
				t.Fatal(err)
			}
			want, err := e.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.zero()
			if err != nil {
				t.Fatal(err)
			}
			if c.compare != nil {
				if err := c.compare(got); err != nil {
					t.Error(err)
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("zero config built %+v, the registry's defaults %+v", got, want)
			}
		})
	}
}
